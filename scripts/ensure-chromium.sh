#!/usr/bin/env bash
# The browser tests drive Debian's chromium through Playwright; install it when missing.
set -euo pipefail
if [ ! -x /usr/bin/chromium ]; then
  echo "chromium is not installed: installing it with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium >/dev/null
fi
/usr/bin/chromium --version
