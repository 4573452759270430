#!/usr/bin/env bash
# Starts Glewlwyd on 127.0.0.1 (default port 18403, or a free one) with a fresh SQLite
# database from the package's init script, then configures it through its admin API
# (setup_lab.py): a test user, the test clients, and three OIDC plugin instances:
#   /api/oidc-rolling  refresh-token-rolling on,  refresh-token-one-use never
#   /api/oidc-fixed    refresh-token-rolling off, refresh-token-one-use never
#   /api/oidc-oneuse   refresh-token-rolling on,  refresh-token-one-use always
# Prints the env file to source: it has the secrets and INTEROP_PORT.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/../lib/common.sh"
st="$(state_dir glewlwyd)"
[ -f "$st/pid" ] && kill -0 "$(cat "$st/pid")" 2>/dev/null && { echo "already running (pid $(cat "$st/pid"))" >&2; echo "$st/env"; exit 0; }
port="$(free_port "${PORT:-18403}")"
umask 077
rm -f "$st/glewlwyd.db"
sqlite3 "$st/glewlwyd.db" < /usr/share/dbconfig-common/data/glewlwyd/install/sqlite3
sed -e "s#^port=.*#port=$port\nbind_address=\"127.0.0.1\"#" \
    -e "s#^external_url=.*#external_url=\"http://127.0.0.1:$port\"#" \
    -e "s#^log_file=.*#log_file=\"$st/glewlwyd.log\"#" \
    -e "s#^log_level=.*#log_level=\"DEBUG\"#" \
    -e "s#^@include .*#@include \"$st/glewlwyd-db.conf\"#" /usr/share/glewlwyd/templates/glewlwyd-debian.conf.properties > "$st/glewlwyd.conf"
printf 'database =\n{\n  type = "sqlite3"\n  path = "%s"\n};\n' "$st/glewlwyd.db" > "$st/glewlwyd-db.conf"
cat > "$st/env" <<ENV
export INTEROP_PORT=$port
export TOKENCERT_CONF_SECRET='$(random_secret)' TOKENCERT_CONF2_SECRET='$(random_secret)' TOKENCERT_POST_SECRET='$(random_secret)'
export TOKENCERT_NO_REFRESH_SECRET='$(random_secret)' TOKENCERT_SPECIAL_SECRET='p+ss%w:rd-$(random_secret)'
export TOKENCERT_USER=tokencert-alice TOKENCERT_USER_PASSWORD='$(random_secret)'
export GLEWLWYD_ADMIN_PASSWORD='$(random_secret)'
ENV
. "$st/env"
# the plugins sign ID and access tokens with RS256: a fresh 2048-bit key pair per start
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$st/oidc-key.pem" 2>/dev/null
openssl pkey -in "$st/oidc-key.pem" -pubout -out "$st/oidc-pub.pem"
export GLEWLWYD_KEY="$st/oidc-key.pem" GLEWLWYD_CERT="$st/oidc-pub.pem"
# the private_key_jwt client's EC P-256 key (PKCS#8): tokencert signs with the private half, the
# client's `pubkey` property holds the public one
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$st/pkjwt-key.pem" 2>/dev/null
openssl pkey -in "$st/pkjwt-key.pem" -pubout -out "$st/pkjwt-pub.pem"
export GLEWLWYD_PKJWT_PUB="$st/pkjwt-pub.pem"
printf "export TOKENCERT_SECRET_JWT_SECRET='%s'\nexport TOKENCERT_PKJWT_KEY=\"\$(cat '%s')\"\n" \
  "$(random_secret)$(random_secret)" "$st/pkjwt-key.pem" >> "$st/env"
. "$st/env"
nohup glewlwyd --config-file="$st/glewlwyd.conf" > "$st/server.out" 2>&1 &
echo $! > "$st/pid"
wait_http "http://127.0.0.1:$port/api/" 30 "$(cat "$st/pid")" >&2
GLEWLWYD_URL="http://127.0.0.1:$port" python3 "$here/setup_lab.py" >&2
echo "started glewlwyd pid $(cat "$st/pid") on 127.0.0.1:$port" >&2
echo "$st/env"
