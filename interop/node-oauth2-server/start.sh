#!/usr/bin/env bash
# Starts the app on 127.0.0.1 (default port 18401, or a free one) and writes its clients,
# test user and secrets into the state directory.
#   ROTATE=1 (default): alwaysIssueNewRefreshToken true;  ROTATE=0: false.
# Prints the env file to source: it has the secrets and INTEROP_PORT.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/../lib/common.sh"
st="$(state_dir node-oauth2-server)"
[ -f "$st/pid" ] && kill -0 "$(cat "$st/pid")" 2>/dev/null && { echo "already running (pid $(cat "$st/pid"))" >&2; echo "$st/env"; exit 0; }
port="$(free_port "${PORT:-18401}")"
umask 077
conf="$(random_secret)" conf2="$(random_secret)" post="$(random_secret)" norefresh="$(random_secret)"
short="$(random_secret)" pw="$(random_secret)"
# RFC 6749 §2.3.1: Basic credentials are form-encoded first, so these characters must survive
special="p+ss%w:rd-$(random_secret)"
cb="http://127.0.0.1:9/callback"   # nothing listens: the login hook only reads the redirect
cat > "$st/clients.json" <<JSON
[
  {"id":"tokencert-conf","secret":"$conf","grants":["authorization_code","refresh_token","password","client_credentials"],"redirectUris":["$cb"]},
  {"id":"tokencert-conf-2","secret":"$conf2","grants":["authorization_code","refresh_token","password","client_credentials"],"redirectUris":["$cb"]},
  {"id":"tokencert-post","secret":"$post","grants":["authorization_code","refresh_token","password"],"redirectUris":["$cb"]},
  {"id":"tokencert-no-refresh","secret":"$norefresh","grants":["authorization_code","password"],"redirectUris":["$cb"]},
  {"id":"tokencert-special","secret":"$special","grants":["authorization_code","refresh_token"],"redirectUris":["$cb"]},
  {"id":"tokencert-public","grants":["authorization_code","refresh_token"],"redirectUris":["$cb"]},
  {"id":"tokencert-public-2","grants":["authorization_code","refresh_token"],"redirectUris":["$cb"]},
  {"id":"tokencert-short","secret":"$short","grants":["authorization_code","refresh_token","password","client_credentials"],"redirectUris":["$cb"],"accessTokenLifetime":5,"refreshTokenLifetime":15},
  {"id":"tokencert-short-public","grants":["authorization_code","refresh_token"],"redirectUris":["$cb"],"accessTokenLifetime":5,"refreshTokenLifetime":15}
]
JSON
cat > "$st/env" <<ENV
export INTEROP_PORT=$port
export TOKENCERT_CONF_SECRET='$conf' TOKENCERT_CONF2_SECRET='$conf2' TOKENCERT_POST_SECRET='$post'
export TOKENCERT_NO_REFRESH_SECRET='$norefresh' TOKENCERT_SHORT_SECRET='$short' TOKENCERT_SPECIAL_SECRET='$special'
export TOKENCERT_USER=tokencert-alice TOKENCERT_USER_PASSWORD='$pw'
ENV
cd "$here/app"
PORT="$port" ROTATE="${ROTATE:-1}" CLIENTS_FILE="$st/clients.json" USER_NAME=tokencert-alice USER_PASSWORD="$pw" \
  nohup node server.js > "$st/server.log" 2>&1 &
echo $! > "$st/pid"
wait_http "http://127.0.0.1:$port/login" 30 "$(cat "$st/pid")" >&2
echo "started node-oauth2-server (ROTATE=${ROTATE:-1}) pid $(cat "$st/pid") on 127.0.0.1:$port" >&2
echo "$st/env"
