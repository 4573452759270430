#!/usr/bin/env bash
# Reproduces the real findings of TRIAGE.md against a running lab Glewlwyd (./start.sh) and
# writes redacted curl transcripts into evidence/. Each request is one curl; nothing loops.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/../lib/common.sh"
. "$here/../lib/evidence.sh"
. "$INTEROP_STATE/glewlwyd/env"
B="http://127.0.0.1:$INTEROP_PORT/api"
out="$here/evidence"; mkdir -p "$out"
SCOPE="openid+read+write"
hook="$here/login.py"
conf=(-u "tokencert-conf:$TOKENCERT_CONF_SECRET")

f="$out/token-errors-without-json-body.md"; : > "$f"
echo "# Token endpoint errors have no JSON body (RFC 6749 §5.2)" >> "$f"; echo >> "$f"
ev "$f" "an unknown refresh token: 400 with an empty body, no error code" -- "${conf[@]}" -d "grant_type=refresh_token&refresh_token=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789ab" "$B/oidc-rolling/token"
ev "$f" "a wrong client secret with Basic: 400, empty body, no WWW-Authenticate (RFC 6749 §5.2: 401 + WWW-Authenticate)" -- -u "tokencert-conf:wrong-secret" -d "grant_type=client_credentials&scope=read" "$B/oidc-rolling/token"
ev "$f" "missing grant_type: empty body" -- "${conf[@]}" -d "refresh_token=x" "$B/oidc-rolling/token"
ev "$f" "wrong user password on the password grant: 403, empty body (RFC 6749 §5.2: 400 invalid_grant)" -- "${conf[@]}" --data-urlencode "grant_type=password" --data-urlencode "username=$TOKENCERT_USER" --data-urlencode "password=wrong" --data-urlencode "scope=read" "$B/oidc-rolling/token"
ev "$f" "client_credentials by a public client: 403, empty body (RFC 6749 §5.2: 400 unauthorized_client or 401 invalid_client)" -- -d "grant_type=client_credentials&scope=read&client_id=tokencert-public" "$B/oidc-rolling/token"

f="$out/nonce-required-in-code-flow.md"; : > "$f"
echo "# The code flow with scope openid and no nonce is refused (OIDC Core §3.1.2.1: nonce is OPTIONAL there)" >> "$f"; echo >> "$f"
echo "Source: src/plugin/protocol_oidc.c v2.7.5, validate_endpoint_auth: 'nonce parameter is required for some authorization types or when openid scope is granted'." >> "$f"; echo >> "$f"
loc="$(TOKENCERT_TEST_USER="$TOKENCERT_USER" TOKENCERT_TEST_USER_PASSWORD="$TOKENCERT_USER_PASSWORD" TOKENCERT_AUTHORIZE_URL="$B/oidc-rolling/auth?response_type=code&client_id=tokencert-conf&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcallback&scope=openid+read&state=s1&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256" python3 "$hook" || true)"
{ echo '$ python3 interop/glewlwyd/login.py   # signed-in user, authorization request without nonce'; echo "$loc"; } | redact >> "$f"

f="$out/public-client-cannot-revoke.md"; : > "$f"
echo "# A public client cannot revoke its own refresh token (RFC 7009 §2.1, §5)" >> "$f"; echo >> "$f"
CLIENT_AUTH="" family tokencert-public "$B/oidc-rolling/auth" "$B/oidc-rolling/token" "$hook" "&nonce=n1"
ev "$f" "revoke with client_id only: 401, the token stays live" -- -d "token=$RT&token_type_hint=refresh_token&client_id=tokencert-public" "$B/oidc-rolling/revoke"
ev "$f" "the same token still refreshes" -- -d "grant_type=refresh_token&refresh_token=$RT&client_id=tokencert-public" "$B/oidc-rolling/token"

f="$out/token-type-hint-narrows-search.md"; : > "$f"
echo "# A wrong token_type_hint stops revocation and introspection from finding a refresh token (RFC 7009 §2.1, RFC 7662 §2.1: the server MUST extend its search)" >> "$f"; echo >> "$f"
echo "Source: src/plugin/protocol_oidc.c v2.7.5 get_token_metadata: refresh tokens are only looked up when token_type_hint is absent or \"refresh_token\"." >> "$f"; echo >> "$f"
CLIENT_AUTH="-u tokencert-conf:$TOKENCERT_CONF_SECRET" family tokencert-conf "$B/oidc-rolling/auth" "$B/oidc-rolling/token" "$hook" "&nonce=n1"
ev "$f" "revoke the refresh token with token_type_hint=access_token: 200" -- "${conf[@]}" -d "token=$RT&token_type_hint=access_token" "$B/oidc-rolling/revoke"
ev "$f" "…but it is still active" -- "${conf[@]}" -d "token=$RT" "$B/oidc-rolling/introspect"
ev "$f" "introspection with the wrong hint does not find it" -- "${conf[@]}" -d "token=$RT&token_type_hint=access_token" "$B/oidc-rolling/introspect"

f="$out/refresh-ignores-scope.md"; : > "$f"
echo "# A refresh ignores the scope parameter: no narrowing, malformed scope accepted (RFC 6749 §6, §3.3)" >> "$f"; echo >> "$f"
echo "Source: src/plugin/protocol_oidc.c v2.7.5 get_access_token_from_refresh: the scope comes from the stored refresh token only; the request's scope is never read." >> "$f"; echo >> "$f"
ev "$f" "narrower scope asked, the full grant returned" -- "${conf[@]}" -d "grant_type=refresh_token&refresh_token=$RT&scope=read" "$B/oidc-rolling/token"
ev "$f" "malformed scope (a double quote) accepted" -- "${conf[@]}" --data-urlencode "grant_type=refresh_token" --data-urlencode "refresh_token=$RT" --data-urlencode 'scope=api:"read"' "$B/oidc-rolling/token"

f="$out/metadata-grant-types.md"; : > "$f"
echo "# Metadata omits refresh_token, password and client_credentials from grant_types_supported" >> "$f"; echo >> "$f"
ev "$f" "discovery document (grant_types_supported)" -- "$B/oidc-rolling/.well-known/openid-configuration"

f="$out/oneuse-foreign-client-kills-token.md"; : > "$f"
echo "# One-time-use refresh tokens: another client's failed refresh disables the owner's token" >> "$f"; echo >> "$f"
echo "Source: src/plugin/protocol_oidc.c v2.7.5 get_access_token_from_refresh: update_refresh_token(…, disable=1) runs when is_refresh_token_one_use(), before the has_issues (client check) result is looked at." >> "$f"; echo >> "$f"
CLIENT_AUTH="-u tokencert-conf:$TOKENCERT_CONF_SECRET" family tokencert-conf "$B/oidc-oneuse/auth" "$B/oidc-oneuse/token" "$hook" "&nonce=n1"
ev "$f" "tokencert-conf-2 presents tokencert-conf's refresh token: refused" -- -u "tokencert-conf-2:$TOKENCERT_CONF2_SECRET" -d "grant_type=refresh_token&refresh_token=$RT" "$B/oidc-oneuse/token"
ev "$f" "the owner's refresh now fails too" -- "${conf[@]}" -d "grant_type=refresh_token&refresh_token=$RT" "$B/oidc-oneuse/token"
f="$out/basic-special-characters.md"; : > "$f"
echo "# Basic credentials are not form-decoded (RFC 6749 §2.3.1)" >> "$f"; echo >> "$f"
echo "The client tokencert-special's secret contains + % :. RFC 6749 §2.3.1 has the client form-encode client_id and secret before Basic; the server compares the raw Basic password, so a client that follows the RFC is refused." >> "$f"; echo >> "$f"
enc="$(python3 -c 'import sys,urllib.parse as u; print(u.quote_plus(sys.argv[1]))' "$TOKENCERT_SPECIAL_SECRET")"
ev "$f" "the secret form-encoded, as RFC 6749 §2.3.1 has the client send it: refused" -- -u "tokencert-special:$enc" -d "grant_type=client_credentials&scope=read" "$B/oidc-rolling/token"
ev "$f" "the raw secret: accepted" -- -u "tokencert-special:$TOKENCERT_SPECIAL_SECRET" -d "grant_type=client_credentials&scope=read" "$B/oidc-rolling/token"
f="$out/introspection-revocation-unauthenticated.md"; : > "$f"
echo "# Introspection and revocation without client credentials: 401 with no body (RFC 7662 §2.3, RFC 7009 §2.2.1: an RFC 6749 §5.2 error, invalid_client)" >> "$f"; echo >> "$f"
echo "Source: src/plugin/protocol_oidc.c v2.7.5 callback_check_intropect_revoke returns U_CALLBACK_UNAUTHORIZED; the framework answers a bare 401." >> "$f"; echo >> "$f"
ev "$f" "introspection, no credentials: 401, empty body" -- -d "token=whatever" "$B/oidc-rolling/introspect"
ev "$f" "revocation, no credentials: 401, empty body" -- -d "token=whatever" "$B/oidc-rolling/revoke"

CLIENT_AUTH="-u tokencert-conf:$TOKENCERT_CONF_SECRET" family tokencert-conf "$B/oidc-rolling/auth" "$B/oidc-rolling/token" "$hook" "&nonce=n1"
f="$out/token-endpoint-http-errors.md"; : > "$f"
echo "# Token endpoint: 401 without WWW-Authenticate, 403 where RFC 6749 §5.2 says 400" >> "$f"; echo >> "$f"
echo "RFC 9110 §15.5.2: a 401 MUST carry WWW-Authenticate. RFC 6749 §5.2 (and RFC 9449 §5 for invalid_dpop_proof): errors are 400, 401 only for invalid_client." >> "$f"; echo >> "$f"
ev "$f" "a GET with Basic credentials: 401 without WWW-Authenticate" -- "${conf[@]}" "$B/oidc-rolling/token?grant_type=client_credentials&scope=read"
ev "$f" "a malformed DPoP header: 403 invalid_dpop_proof (src/plugin/protocol_oidc.c v2.7.5 get_access_token_from_refresh answers 403)" -- "${conf[@]}" -H "DPoP: not-a-jwt" -d "grant_type=refresh_token&refresh_token=$RT" "$B/oidc-rolling/token"
ev "$f" "a code exchange with an unknown code: 403 invalid_code (RFC 6749 §5.2: 400 invalid_grant)" -- "${conf[@]}" -d "grant_type=authorization_code&code=no-such-code&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcallback&code_verifier=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" "$B/oidc-rolling/token"
f="$out/code-pkce-downgrade.md"; : > "$f"
echo "# PKCE downgrade: a code_verifier for a code whose authorization request had no code_challenge is accepted (RFC 9700 §2.1.1: MUST be refused)" >> "$f"; echo >> "$f"
echo "Source: src/plugin/protocol_oidc.c v2.7.5 validate_code_challenge returns G_OK when the stored code has no code_challenge, whatever code_verifier the token request carries." >> "$f"; echo >> "$f"
PKCE=0 auth_code tokencert-conf "$B/oidc-rolling/auth" "$hook" "&nonce=n1"
ev "$f" "a code from an authorization request without code_challenge, redeemed with a code_verifier: 200" -- "${conf[@]}" -d "grant_type=authorization_code&code=$CODE&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcallback&code_verifier=$VERIFIER" "$B/oidc-rolling/token"

f="$out/duplicate-client-id-served.md"; : > "$f"
echo "# A client_id repeated beside Basic credentials is served, while a repeated scope or grant_type is refused (RFC 6749 §3.2: no parameter more than once; §5.2: a request that repeats a parameter is invalid_request). Found by tokencert fuzz (duplicate-client_id)" >> "$f"; echo >> "$f"
echo "Source: src/plugin/protocol_oidc.c v2.7.5, the token endpoint's client check reads the body's client_id only without Basic (lines 13418-13420), so its repetition is never seen." >> "$f"; echo >> "$f"
ev "$f" "client_id twice beside Basic: 200 with tokens" -- "${conf[@]}" -d "grant_type=client_credentials&scope=read&client_id=tokencert-conf&client_id=tokencert-duplicate" "$B/oidc-rolling/token"
ev "$f" "scope twice: refused" -- "${conf[@]}" -d "grant_type=client_credentials&scope=read&scope=read" "$B/oidc-rolling/token"
ev "$f" "grant_type twice: refused" -- "${conf[@]}" -d "grant_type=client_credentials&grant_type=client_credentials&scope=read" "$B/oidc-rolling/token"

f="$out/assertion-requires-client-id.md"; : > "$f"
echo "# A code exchange authenticated by a client assertion is refused without client_id (RFC 7521 §4.2: client_id is OPTIONAL with assertion authentication, \"the client is identified by the subject of the assertion\")" >> "$f"; echo >> "$f"
echo "Source: src/plugin/protocol_oidc.c v2.7.5 check_auth_type_access_token_request: \`code == NULL || client_id == NULL || redirect_uri == NULL\` answers 400 before the assertion's client is looked at (line 10274). The assertion below is HS256 over tokencert-secret-jwt's client_secret (client_secret_jwt), iss = sub = the client id, aud = the token endpoint, a fresh jti; the same kind of assertion is accepted once client_id is added." >> "$f"; echo >> "$f"
assertion() {
  python3 - "$1" "$2" "$TOKENCERT_SECRET_JWT_SECRET" <<'PY'
import base64, hashlib, hmac, json, secrets, sys, time
b = lambda d: base64.urlsafe_b64encode(d).rstrip(b"=").decode()
client, aud, key = sys.argv[1:4]
now = int(time.time())
head = b(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
body = b(json.dumps({"iss": client, "sub": client, "aud": aud, "iat": now, "exp": now + 60, "jti": secrets.token_hex(16)}).encode())
sig = b(hmac.new(key.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest())
print(f"{head}.{body}.{sig}")
PY
}
at="urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer"
auth_code tokencert-secret-jwt "$B/oidc-rolling/auth" "$hook" "&nonce=n1"
ev "$f" "code exchange with a client_secret_jwt assertion, no client_id: 400, empty body" -- -d "grant_type=authorization_code&code=$CODE&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcallback&code_verifier=$VERIFIER&client_assertion_type=$at&client_assertion=$(assertion tokencert-secret-jwt "$B/oidc-rolling/token")" "$B/oidc-rolling/token"
auth_code tokencert-secret-jwt "$B/oidc-rolling/auth" "$hook" "&nonce=n1"
ev "$f" "the same with client_id=tokencert-secret-jwt added: 200" -- -d "grant_type=authorization_code&code=$CODE&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcallback&code_verifier=$VERIFIER&client_assertion_type=$at&client_assertion=$(assertion tokencert-secret-jwt "$B/oidc-rolling/token")&client_id=tokencert-secret-jwt" "$B/oidc-rolling/token"

echo "evidence written to $out"
