#!/usr/bin/env bash
# Debian's Chromium, which the console's browser tests drive (test/e2e/console-browser.test.ts).
# Installs it with apt-get when /usr/bin/chromium is missing; run as root (CI is).
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo 'Chromium is missing: install Debian'"'"'s chromium package as root (apt-get install chromium).' >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q chromium
/usr/bin/chromium --version
