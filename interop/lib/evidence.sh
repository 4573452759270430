# Helpers for the evidence/ transcripts. Source it after the server's env file.
#   ev FILE TITLE -- CURL-ARGS...   appends "$ curl …" and the full response to FILE, redacted
# Redaction: every secret in the env file (client secrets, the user's password), Basic
# credentials, and the values of access_token / refresh_token / id_token / code / code_verifier /
# client_assertion
# wherever they appear (JSON bodies, form bodies, URLs) become [REDACTED:…].
redact() {
  python3 -c '
import os, re, sys
t = sys.stdin.read()
for k, v in os.environ.items():
    if (k.startswith("TOKENCERT_") and ("SECRET" in k or "PASSWORD" in k)) or k == "GLEWLWYD_ADMIN_PASSWORD":
        if v:
            t = t.replace(v, f"[REDACTED:{k}]")
t = re.sub(r"(Authorization: Basic )\S+", r"\1[REDACTED]", t, flags=re.I)
t = re.sub(r"(-u )\S+", r"\1[REDACTED]", t)
t = re.sub(r"(\"(access_token|refresh_token|id_token)\"\s*:\s*\")[^\"]+", r"\1[REDACTED:\2]", t)
t = re.sub(r"((?:^|[?&\s\x27])(refresh_token|code|code_verifier|token|access_token|client_assertion)=)[^&\s\x27]+", r"\1[REDACTED:\2]", t)
sys.stdout.write(t)'
}
ev() {
  local file="$1" title="$2"; shift 3
  {
    echo "## $title"
    echo
    printf '$ curl'; printf " %q" "$@"; echo
    curl -s -i --max-time 20 "$@"
    echo; echo
  } | redact >> "$file"
}
# An authorization code through the code flow with PKCE (the login hook signs the user in; it
# gets the test user from the env file as tokencert would give it from the profile):
#   auth_code CLIENT_ID AUTHORIZE_URL HOOK [extra authorize params] -> sets CODE, VERIFIER
#   (PKCE=0: no code_challenge in the authorization request)
auth_code() {
  local client="$1" authz="$2" hook="$3" extra="${4:-}" c loc pkce=""
  VERIFIER="$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')"
  c="$(python3 -c "import hashlib,base64,sys; print(base64.urlsafe_b64encode(hashlib.sha256(sys.argv[1].encode()).digest()).decode().rstrip('='))" "$VERIFIER")"
  [ "${PKCE:-1}" = 0 ] || pkce="&code_challenge=$c&code_challenge_method=S256"
  loc="$(TOKENCERT_TEST_USER="$TOKENCERT_USER" TOKENCERT_TEST_USER_PASSWORD="$TOKENCERT_USER_PASSWORD" TOKENCERT_AUTHORIZE_URL="$authz?response_type=code&client_id=$client&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcallback&scope=$SCOPE&state=s1$pkce$extra" python3 $hook)"
  CODE="$(python3 -c "import sys,urllib.parse as u; print(u.parse_qs(u.urlsplit(sys.argv[1]).query)['code'][0])" "$loc")"
}
# A fresh token family through the code flow, printed as JSON (for the evidence scripts):
#   family CLIENT_ID AUTHORIZE_URL TOKEN_URL HOOK [extra authorize params] -> sets RT, AT
family() {
  local client="$1" authz="$2" token="$3" hook="$4" extra="${5:-}"
  auth_code "$client" "$authz" "$hook" "$extra"
  FAMILY_JSON="$(curl -s ${CLIENT_AUTH:-} -d "grant_type=authorization_code&code=$CODE&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcallback&code_verifier=$VERIFIER&client_id=$client" "$token")"
  RT="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1]).get("refresh_token",""))' "$FAMILY_JSON")"
  AT="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1]).get("access_token",""))' "$FAMILY_JSON")"
}
