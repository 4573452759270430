#!/usr/bin/env bash
# Starts the Django project on 127.0.0.1 (default port 18402, or a free one): migrates its
# SQLite database, creates the test user and clients with fresh secrets, serves it.
# Prints the env file to source: it has the secrets and INTEROP_PORT.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/../lib/common.sh"
st="$(state_dir django-oidc-provider)"
[ -f "$st/pid" ] && kill -0 "$(cat "$st/pid")" 2>/dev/null && { echo "already running (pid $(cat "$st/pid"))" >&2; echo "$st/env"; exit 0; }
port="$(free_port "${PORT:-18402}")"
umask 077
[ -f "$st/django-secret-key" ] || random_secret > "$st/django-secret-key"
cat > "$st/env" <<ENV
export INTEROP_PORT=$port
export TOKENCERT_CONF_SECRET='$(random_secret)' TOKENCERT_CONF2_SECRET='$(random_secret)' TOKENCERT_POST_SECRET='$(random_secret)'
export TOKENCERT_SPECIAL_SECRET='p+ss%w:rd-$(random_secret)'
export TOKENCERT_USER=tokencert-alice TOKENCERT_USER_PASSWORD='$(random_secret)'
ENV
. "$st/env"
export INTEROP_STATE_DIR="$st" INTEROP_PORT="$port"
cd "$here/project"
py="$here/.venv/bin/python"
"$py" manage.py migrate -v 0
"$py" manage.py shell -c 'from tokencert_site.setup_lab import run; run()' > "$st/setup.log" 2>&1
# A production WSGI server, as Django's deployment docs advise: the development server
# (runserver) accepts 10 pending connections and resets the rest, which a race of 24
# concurrent requests (races.no-5xx-under-contention) turns into a connection reset that is
# the lab's doing, not the provider's. One process, so the pid file names the server itself;
# its threads serve requests concurrently. gunicorn's own keep-alive (2 s): the harness drops
# idle pooled connections after 1 s, before a server closes them (HARNESS-FAULTS H18).
nohup "$here/.venv/bin/gunicorn" --bind "127.0.0.1:$port" --workers 1 --threads 8 \
  --access-logfile - tokencert_site.wsgi:application > "$st/server.log" 2>&1 &
echo $! > "$st/pid"
wait_http "http://127.0.0.1:$port/openid/.well-known/openid-configuration" 60 "$(cat "$st/pid")" >&2
echo "started django-oidc-provider pid $(cat "$st/pid") on 127.0.0.1:$port" >&2
echo "$st/env"
