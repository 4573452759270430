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
loc="$(TOKENCERT_AUTHORIZE_URL="$B/oidc-rolling/auth?response_type=code&client_id=tokencert-conf&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcallback&scope=openid+read&state=s1&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256" python3 "$hook" || true)"
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
echo "evidence written to $out"
