#!/usr/bin/env bash
# One emulator test drives it with the official Node library (tests/clients/node): install
# Node.js and npm from Debian's packages when they are missing.
set -euo pipefail
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "Node.js is not installed: installing nodejs and npm with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq nodejs npm >/dev/null
fi
