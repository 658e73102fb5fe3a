#!/usr/bin/env bash
# Install the Debian packages the suite needs when they are missing: Chromium (driven by Playwright
# with executable_path, never a downloaded browser) and the Noto CJK fonts (Chinese in screenshots/PDF).
set -euo pipefail
need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
[ -d /usr/share/fonts/opentype/noto ] || need+=(fonts-noto-cjk)
# WeasyPrint (PDF slips and cards) needs Pango.
ls /usr/lib/*/libpangoft2-1.0.so.0 >/dev/null 2>&1 || need+=(libpango-1.0-0 libpangoft2-1.0-0)
# The HTTPS proxy test starts Debian's nginx itself (tests/browser/test_https_proxy.py); backups use
# pg_dump/pg_restore of PostgreSQL 15 (the server's version) and the tests openssl and unshare.
[ -x /usr/sbin/nginx ] || need+=(nginx-light)
command -v pg_dump >/dev/null || need+=(postgresql-client-15)
command -v openssl >/dev/null || need+=(openssl)
command -v unshare >/dev/null || need+=(util-linux)
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "缺少系统软件包 / missing Debian packages: ${need[*]} (install them with apt-get as root)" >&2
  exit 1
fi
echo "installing Debian packages: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
# Never let a package start its service (nginx on port 80 of a shared machine): policy-rc.d says no.
made_policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && made_policy=1
fi
trap '[ "$made_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d' EXIT
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
