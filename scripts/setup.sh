#!/usr/bin/env bash
# Sets up otwatch on Debian with Node 20: system packages (when missing and
# running as root), npm dependencies, build. Idempotent and quiet when done.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
# mosquitto, rsyslog(-gnutls) and openssl: the export tests' real broker, syslog
# server and keys; python3, make and g++ build better-sqlite3 (the inventory's
# SQLite) from source; chromium runs the report's browser test.
for pkg in libpcap-dev tshark tcpdump tcpreplay iproute2 mosquitto mosquitto-clients rsyslog rsyslog-gnutls openssl python3 make g++ chromium; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "setup: installing ${need[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "setup: not root, cannot install ${need[*]} (offline analysis works without them)" >&2
  fi
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  # From source: better-sqlite3 12.x is built against this Node (no prebuilt download needed).
  npm ci --no-audit --no-fund --loglevel=error --build-from-source
fi
if ! node -e "new (require('better-sqlite3'))(':memory:').close()" 2>/dev/null; then
  echo "setup: better-sqlite3 did not load; rebuilding it from source" >&2
  npm rebuild better-sqlite3 --build-from-source --loglevel=error
fi
# cap is optional (live capture only): say so when its native build did not run.
if [ ! -f node_modules/cap/build/Release/cap.node ]; then
  echo "setup: note: the 'cap' native module is not built; live capture through cap is unavailable" >&2
fi
npx tsc -p tsconfig.json
