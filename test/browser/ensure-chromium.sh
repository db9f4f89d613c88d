#!/usr/bin/env bash
# The browser tests drive Debian's chromium (no browser is ever downloaded by a test tool).
# Installs it when missing and this user may; otherwise says how, and the browser tests fail.
set -u
chromium_path="${CHROMIUM_PATH:-/usr/bin/chromium}"
[ -x "$chromium_path" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's chromium for the browser tests…" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null && exit 0
fi
echo "chromium is missing at $chromium_path: install it (sudo apt-get install chromium) or set CHROMIUM_PATH" >&2
exit 0
