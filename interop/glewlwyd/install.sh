#!/usr/bin/env bash
# Installs Glewlwyd from Debian (pinned to bookworm's 2.7.5) and the sqlite3 CLI. Idempotent.
set -euo pipefail
. "$(cd "$(dirname "$0")" && pwd)/../lib/common.sh"
ensure_cmd curl curl python3 python3
want="2.7.5-3+deb12u1"
have="$(dpkg-query -W -f='${Version}' glewlwyd 2>/dev/null || true)"
if [ "$have" = "$want" ] && command -v sqlite3 >/dev/null && command -v openssl >/dev/null; then
  echo "glewlwyd: already installed ($have)"; exit 0
fi
export DEBIAN_FRONTEND=noninteractive
# dbconfig-common asks nothing and configures no database when told not to: the lab makes its own.
echo "glewlwyd glewlwyd/dbconfig-install boolean false" | debconf-set-selections
apt-get update -qq
if apt-cache madison glewlwyd | grep -qF "$want"; then
  apt-get install -y --no-install-recommends "glewlwyd=$want" sqlite3 openssl
else
  echo "glewlwyd $want is not in the apt sources; installing the candidate version" >&2
  apt-get install -y --no-install-recommends glewlwyd sqlite3 openssl
fi
