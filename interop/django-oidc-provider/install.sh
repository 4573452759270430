#!/usr/bin/env bash
# Installs django-oidc-provider (pinned, from PyPI) into a virtualenv beside this script. Idempotent.
set -euo pipefail
. "$(cd "$(dirname "$0")" && pwd)/../lib/common.sh"
ensure_cmd curl curl python3 python3
here="$(cd "$(dirname "$0")" && pwd)"
py="${PYTHON:-python3}"
"$py" -c 'import venv, ensurepip' 2>/dev/null || {
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3-venv
}
[ -x "$here/.venv/bin/python" ] || "$py" -m venv "$here/.venv"
frozen="$("$here/.venv/bin/pip" freeze 2>/dev/null || true)"
if ! grep -vxF -f <(printf '%s\n' "$frozen") "$here/requirements.txt" | grep -q .; then
  echo "django-oidc-provider: already installed"; exit 0
fi
"$here/.venv/bin/pip" install -q --disable-pip-version-check -r "$here/requirements.txt"
