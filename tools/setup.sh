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
cjk_font_installed() {
  dpkg-query -W -f='${Status}' fonts-noto-cjk 2>/dev/null | grep -q "ok installed" ||
    dpkg-query -W -f='${Status}' fonts-wqy-microhei 2>/dev/null | grep -q "ok installed"
}
if [ ! -x /usr/bin/chromium ] || ! cjk_font_installed; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null
  else
    echo "setup: chromium or a Chinese font is missing; browser tests will be skipped." \
      "As root: apt-get update && apt-get install -y chromium fonts-noto-cjk" >&2
  fi
fi
