#!/usr/bin/env bash
# Reproduces the real findings of TRIAGE.md against a running lab app (ROTATE=1 ./start.sh)
# and writes redacted curl transcripts into evidence/. One curl per request.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/../lib/common.sh"
. "$here/../lib/evidence.sh"
. "$INTEROP_STATE/node-oauth2-server/env"
B="http://127.0.0.1:$INTEROP_PORT"
out="$here/evidence"; mkdir -p "$out"
hook="$here/../lib/login_form.py"
SCOPE="read+write"
conf=(-u "tokencert-conf:$TOKENCERT_CONF_SECRET")
fam() { CLIENT_AUTH="-u tokencert-conf:$TOKENCERT_CONF_SECRET" family tokencert-conf "$B/authorize" "$B/token" "$hook"; }

f="$out/error-responses-cacheable.md"; : > "$f"
echo "# Error responses of the token endpoint carry no Cache-Control: no-store" >> "$f"; echo >> "$f"
echo "Source: lib/handlers/token-handler.js (5.3.0) updateSuccessResponse sets Cache-Control: no-store and Pragma: no-cache; updateErrorResponse sets only the status and body." >> "$f"; echo >> "$f"
ev "$f" "an unknown refresh token" -- "${conf[@]}" -d "grant_type=refresh_token&refresh_token=unknown-token" "$B/token"

fam
f="$out/basic-and-other-client-id.md"; : > "$f"
echo "# Basic credentials of one client plus another client's client_id in the body: served as the Basic client" >> "$f"; echo >> "$f"
echo "Source: lib/handlers/token-handler.js getClientCredentials returns the Basic credentials and never compares body client_id." >> "$f"; echo >> "$f"
ev "$f" "tokencert-conf's Basic credentials, client_id=tokencert-public in the form" -- "${conf[@]}" -d "grant_type=refresh_token&refresh_token=$RT&client_id=tokencert-public" "$B/token"

fam
f="$out/two-authentication-methods.md"; : > "$f"
echo "# Basic credentials and client_secret in the body at once are accepted (RFC 6749 §2.3: one method per request)" >> "$f"; echo >> "$f"
ev "$f" "Basic plus client_id/client_secret of tokencert-conf-2 in the body" -- "${conf[@]}" -d "grant_type=refresh_token&refresh_token=$RT&client_id=tokencert-conf-2&client_secret=$TOKENCERT_CONF2_SECRET" "$B/token"

f="$out/no-refresh-client-gets-refresh-token.md"; : > "$f"
echo "# A client whose grants exclude refresh_token still gets a refresh token from the code exchange" >> "$f"; echo >> "$f"
echo "Source: lib/grant-types/authorization-code-grant-type.js saveToken generates a refresh token unconditionally; only the refresh grant itself checks client.grants (lib/handlers/token-handler.js handleGrantType)." >> "$f"; echo >> "$f"
CLIENT_AUTH="-u tokencert-no-refresh:$TOKENCERT_NO_REFRESH_SECRET" family tokencert-no-refresh "$B/authorize" "$B/token" "$hook"
python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print("Token response of tokencert-no-refresh (grants: authorization_code, password):\n\n```json\n" + json.dumps({k: ("[REDACTED]" if k.endswith("_token") else v) for k, v in d.items()}) + "\n```\n")' "$FAMILY_JSON" >> "$f"
ev "$f" "…a refresh token it can never use" -- -u "tokencert-no-refresh:$TOKENCERT_NO_REFRESH_SECRET" -d "grant_type=refresh_token&refresh_token=$RT" "$B/token"

fam
f="$out/empty-scope-refused.md"; : > "$f"
echo "# An empty scope parameter is refused instead of treated as omitted (RFC 6749 §3.1: parameters sent without a value MUST be treated as omitted)" >> "$f"; echo >> "$f"
echo "Source: lib/utils/scope-util.js parseScope: '' is trimmed, fails nqschar, InvalidScopeError." >> "$f"; echo >> "$f"
ev "$f" "refresh with scope=" -- "${conf[@]}" -d "grant_type=refresh_token&refresh_token=$RT&scope=" "$B/token"

f="$out/duplicate-refresh-token.md"; : > "$f"
echo "# A repeated refresh_token parameter gets invalid_grant, not invalid_request (RFC 6749 §3.2, §5.2)" >> "$f"; echo >> "$f"
ev "$f" "refresh_token twice" -- "${conf[@]}" -d "grant_type=refresh_token&refresh_token=$RT&refresh_token=$RT" "$B/token"

f="$out/basic-special-characters.md"; : > "$f"
echo "# Basic credentials are not form-decoded (RFC 6749 §2.3.1)" >> "$f"; echo >> "$f"
echo "The client tokencert-special's secret contains + % :. RFC 6749 §2.3.1 has the client form-encode id and secret before Basic; the library passes the raw Basic password to model.getClient (basic-auth does not decode)." >> "$f"; echo >> "$f"
enc="$(python3 -c 'import sys,urllib.parse as u; print(u.quote_plus(sys.argv[1]))' "$TOKENCERT_SPECIAL_SECRET")"
ev "$f" "the secret form-encoded, as RFC 6749 §2.3.1 has the client send it: invalid_client" -- -u "tokencert-special:$enc" -d "grant_type=refresh_token&refresh_token=unknown" "$B/token"
ev "$f" "the raw secret → past client authentication (invalid_grant for the unknown token)" -- -u "tokencert-special:$TOKENCERT_SPECIAL_SECRET" -d "grant_type=refresh_token&refresh_token=unknown" "$B/token"
fam
f="$out/refused-refresh-revokes-token.md"; : > "$f"
echo "# A refused refresh (a broader scope: invalid_scope) revokes the presented refresh token (alwaysIssueNewRefreshToken: true)" >> "$f"; echo >> "$f"
echo "RFC 6749 §6 lets the server revoke the old refresh token after issuing a new one; here none is issued and the client is left without a grant. Source: lib/grant-types/refresh-token-grant-type.js (5.3.0) handle(): revokeToken (line 57) runs before getScope (line 59) checks the requested scope. Found by tokencert prop." >> "$f"; echo >> "$f"
ev "$f" "refresh asking for a scope beyond the grant: refused, as it should be" -- "${conf[@]}" -d "grant_type=refresh_token&refresh_token=$RT&scope=read+write+admin" "$B/token"
ev "$f" "the same refresh token, no scope: now invalid (it was revoked by the refused request)" -- "${conf[@]}" -d "grant_type=refresh_token&refresh_token=$RT" "$B/token"

f="$out/code-redirect-uri-mismatch.md"; : > "$f"
echo "# A code redeemed with another redirect_uri gets invalid_request, not invalid_grant (RFC 6749 §5.2)" >> "$f"; echo >> "$f"
echo "RFC 6749 §5.2 names this case under invalid_grant: the grant 'does not match the redirection URI used in the authorization request'. Source: lib/grant-types/authorization-code-grant-type.js (5.3.0) validateRedirectUri throws InvalidRequestError (lines 216-217)." >> "$f"; echo >> "$f"
auth_code tokencert-conf "$B/authorize" "$hook"
ev "$f" "the code, with the registered redirect_uri plus /elsewhere" -- "${conf[@]}" -d "grant_type=authorization_code&code=$CODE&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcallback%2Felsewhere&code_verifier=$VERIFIER" "$B/token"

fam
f="$out/narrowed-refresh-narrows-refresh-token.md"; : > "$f"
echo "# A narrowed refresh narrows the new refresh token too (RFC 6749 §6: its scope MUST be identical to the presented one's)" >> "$f"; echo >> "$f"
echo "Source: lib/grant-types/refresh-token-grant-type.js (5.3.0) handle() passes the requested scope to saveToken (lines 59-61), which stores it for the new access token and the new refresh token alike (lines 130-146)." >> "$f"; echo >> "$f"
NEXT="$(curl -s "${conf[@]}" -d "grant_type=refresh_token&refresh_token=$RT&scope=read" "$B/token")"
RT2="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1]).get("refresh_token",""))' "$NEXT")"
echo "A refresh of the family (granted read write) with scope=read answered:" >> "$f"; echo >> "$f"
printf '%s\n\n' "$NEXT" | redact >> "$f"
ev "$f" "the new refresh token, asking for write (inside the original grant): refused" -- "${conf[@]}" -d "grant_type=refresh_token&refresh_token=$RT2&scope=write" "$B/token"

echo "evidence written to $out"
