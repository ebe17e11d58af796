#!/usr/bin/env bash
# Installs what the browser end-to-end test (tests/e2e) needs, idempotently:
#   - Debian's Chromium at /usr/bin/chromium (apt), only when it is missing;
#   - playwright-core (the driver only, never a bundled browser) into tests/e2e/node_modules (npm).
# Never runs `playwright install`: browsers come from Debian, not from a download.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x /usr/bin/chromium ]; then
    SUDO=""
    if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -q
    $SUDO apt-get install -y -q --no-install-recommends chromium
fi
/usr/bin/chromium --version

if ! command -v npm >/dev/null 2>&1; then
    echo "npm is missing: install Node.js (e.g. apt-get install -y nodejs npm)" >&2
    exit 1
fi
cd tests/e2e
if [ -f node_modules/playwright-core/package.json ]; then
    echo "playwright-core $(node -p "require('./node_modules/playwright-core/package.json').version") already installed"
elif [ -f package-lock.json ]; then
    npm ci --no-audit --no-fund --loglevel=error
else
    npm install --no-audit --no-fund --loglevel=error
fi
