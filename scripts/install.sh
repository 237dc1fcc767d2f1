#!/usr/bin/env bash
# Installs what is missing: Debian packages, the virtualenv, npm assets. Safe to run again.
# Usage: scripts/install.sh [--browser|--bench]
#   --browser adds Chromium (browser tests), --bench adds wrk (the load generator of make bench)
set -euo pipefail
cd "$(dirname "$0")/.."
# pgbouncer: the connection pooler of a deployment, and tests/test_pgbouncer.py
want=(postgresql-15 postgresql-15-postgis-3 postgresql-contrib redis-server gdal-bin pgbouncer)
[ "${1:-}" = --browser ] && want+=(chromium)
[ "${1:-}" = --bench ] && want+=(wrk)
command -v npm >/dev/null || want+=(npm)
python3 -c 'import ensurepip, venv' 2>/dev/null || want+=(python3-venv)
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install: apt-get install ${missing[*]}"
  SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Debian starts a system cluster on 5432 when postgresql is installed (and may start a
  # system PgBouncer on 6432); we use our own.
fi

stamp=.venv/.installed
if [ ! -f "$stamp" ] || [ setup.cfg -nt "$stamp" ]; then
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check -e '.[dev,report,budget]'
  # pabutools without its gurobipy requirement (proprietary; see setup.cfg's `budget` extra)
  .venv/bin/pip install -q --disable-pip-version-check --no-deps pabutools==1.2.3
  touch "$stamp"
fi

if [ ! -f static/vendor/.installed ] || [ package-lock.json -nt static/vendor/.installed ]; then
  npm ci --silent --no-audit --no-fund
  .venv/bin/python scripts/vendor_assets.py
  touch static/vendor/.installed
fi
