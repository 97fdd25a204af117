#!/usr/bin/env bash
# Installs everything petitionflow needs on a fresh machine, and nothing twice:
# the Python virtual environment (exact pins from requirements.lock), the npm packages (bpmnlint, bpmn-js,
# form-js; install scripts disabled), and for the browser tests Debian's chromium with a Chinese font (as root;
# playwright cannot download browsers here). Safe to run again; it only does what is missing or out of date.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
stamp=.venv/.installed
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ requirements.lock -nt "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -c requirements.lock -e ".[dev]"
  touch "$stamp"
fi

if [ ! -f node_modules/.installed ] || [ package-lock.json -nt node_modules/.installed ]; then
  # --ignore-scripts: some dependencies ship a telemetry postinstall; none needs a build step.
  npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
  touch node_modules/.installed
fi

# Browser tests (tests/ui) drive /usr/bin/chromium; without a CJK font Chinese renders as boxes in screenshots.
# Written notices are rendered to PDF by WeasyPrint, which needs Pango and HarfBuzz's subsetter from the system,
# and the Noto CJK fonts the notice templates name.
SYSTEM_PACKAGES="chromium fonts-noto-cjk libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0"
missing_packages() {
  for package in $SYSTEM_PACKAGES; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" || echo "$package"
  done
}
missing=$(missing_packages)
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
  else
    echo "setup: missing system packages: $missing; browser tests will be skipped and notices cannot be" \
      "printed. As root: apt-get update && apt-get install -y $missing" >&2
  fi
fi
