#!/usr/bin/env bash
# Stops the app started by start.sh, by the pid in its pid file.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/../lib/common.sh"
stop_pidfile "$INTEROP_STATE/node-oauth2-server/pid"
