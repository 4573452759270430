#!/usr/bin/env bash
# Installs the pinned @node-oauth/oauth2-server app (npm registry only). Idempotent.
set -euo pipefail
. "$(cd "$(dirname "$0")" && pwd)/../lib/common.sh"
ensure_cmd curl curl python3 python3
here="$(cd "$(dirname "$0")" && pwd)"
command -v node >/dev/null && command -v npm >/dev/null || {
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nodejs npm
}
cd "$here/app"
if [ -d node_modules/@node-oauth/oauth2-server ] &&
   [ "$(node -p 'require("@node-oauth/oauth2-server/package.json").version')" = 5.3.0 ]; then
  echo "node-oauth2-server: already installed"; exit 0
fi
npm ci --no-audit --no-fund --loglevel=error
