#!/usr/bin/env bash
# Makes sure a PostgreSQL server answers on 127.0.0.1:5432 for the test suite.
# Starts an installed but stopped cluster; installs PostgreSQL from Debian's packages when missing.
set -euo pipefail
PGHOST=${PGHOST:-127.0.0.1}
PGPORT=${PGPORT:-5432}

ready() { pg_isready -h "$PGHOST" -p "$PGPORT" -q 2>/dev/null; }

if ! command -v pg_isready >/dev/null 2>&1 || ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
  echo "PostgreSQL is not installed: installing it with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq postgresql >/dev/null
fi

if ! ready; then
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  conf=/etc/postgresql/$version/main
  # Trust local TCP connections (the suite connects as postgres without a password).
  if ! grep -q 'countertop-test' "$conf/pg_hba.conf"; then
    sed -i '1i host all all 127.0.0.1/32 trust # countertop-test\nhost all all ::1/128 trust # countertop-test\nlocal all all trust # countertop-test' "$conf/pg_hba.conf"
  fi
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || pg_ctlcluster "$version" main start
  for _ in $(seq 1 30); do ready && break; sleep 1; done
fi
ready || { echo "PostgreSQL did not start on $PGHOST:$PGPORT" >&2; exit 1; }
echo "PostgreSQL ready on $PGHOST:$PGPORT"
