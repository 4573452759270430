#!/usr/bin/env bash
# Installs Glewlwyd from Debian (pinned to bookworm's 2.7.5) and the sqlite3 CLI. Idempotent.
set -euo pipefail
. "$(cd "$(dirname "$0")" && pwd)/../lib/common.sh"
ensure_cmd curl curl python3 python3
want="2.7.5-3+deb12u1"
status="$(dpkg-query -W -f='${Version} ${db:Status-Status}' glewlwyd 2>/dev/null || true)"
if [ "$status" = "$want installed" ] && command -v sqlite3 >/dev/null && command -v openssl >/dev/null; then
  echo "glewlwyd: already installed ($want)"; exit 0
fi
export DEBIAN_FRONTEND=noninteractive
# The package's "Personalized" configuration runs dbconfig-common and, with no database type
# chosen, initialises PostgreSQL (and fails without one). "No configuration" skips that: the lab
# makes its own SQLite database and its own config from the package's template (start.sh).
debconf-set-selections <<'SEL'
glewlwyd glewlwyd/dbconfig-install boolean false
glewlwyd glewlwyd/config_type select No configuration
SEL
case "$status" in
  # unpacked but not configured (an earlier failed postinst); a removed package whose
  # configuration files remain ("config-files") is simply installed again below
  "$want unpacked" | "$want half-configured" | "$want half-installed") dpkg --configure glewlwyd ;;
esac
apt-get update -qq
if apt-cache madison glewlwyd | grep -qF "$want"; then
  apt-get install -y --no-install-recommends "glewlwyd=$want" sqlite3 openssl
else
  echo "glewlwyd $want is not in the apt sources; installing the candidate version" >&2
  apt-get install -y --no-install-recommends glewlwyd sqlite3 openssl
fi
