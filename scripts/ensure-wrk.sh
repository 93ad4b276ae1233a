#!/usr/bin/env bash
# The emulator benchmark (and the suite's check of its wrk scripts) drive Debian's wrk; install
# it when missing.
set -euo pipefail
if [ ! -x /usr/bin/wrk ]; then
  echo "wrk is not installed: installing it with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq wrk >/dev/null
fi
