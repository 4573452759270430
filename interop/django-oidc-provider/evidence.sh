#!/usr/bin/env bash
# Reproduces the real findings of TRIAGE.md against a running lab django-oidc-provider
# (./start.sh) and writes redacted curl transcripts into evidence/. One curl per request.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/../lib/common.sh"
. "$here/../lib/evidence.sh"
. "$INTEROP_STATE/django-oidc-provider/env"
B="http://127.0.0.1:$INTEROP_PORT/openid"
out="$here/evidence"; mkdir -p "$out"
hook="$here/../lib/login_form.py"
conf=(-u "tokencert-conf:$TOKENCERT_CONF_SECRET")

f="$out/invalid-client-basic-400.md"; : > "$f"
echo "# A wrong client secret sent with HTTP Basic gets 400 without WWW-Authenticate (RFC 6749 §5.2: 401 + WWW-Authenticate)" >> "$f"; echo >> "$f"
echo "Source: oidc_provider/views.py TokenView.post answers every TokenError with status=400." >> "$f"; echo >> "$f"
ev "$f" "client_credentials with a wrong Basic secret" -- -u "tokencert-conf:wrong-secret" -d "grant_type=client_credentials&scope=openid" "$B/token"

f="$out/public-client-credentials-grant.md"; : > "$f"
echo "# A public client gets tokens with the client_credentials grant (RFC 6749 §4.4: confidential clients only)" >> "$f"; echo >> "$f"
echo "Source: oidc_provider/lib/endpoints/token.py validate_params: the secret is checked only for client_type confidential; the client_credentials branch checks the client's scope only." >> "$f"; echo >> "$f"
ev "$f" "client_credentials with client_id=tokencert-public and no secret" -- -d "grant_type=client_credentials&scope=openid&client_id=tokencert-public" "$B/token"

f="$out/id-token-without-openid.md"; : > "$f"
echo "# A code flow without the openid scope still returns an id_token (a signed JWT of an empty claim set)" >> "$f"; echo >> "$f"
echo "Source: oidc_provider/lib/endpoints/token.py create_code_response_dic: id_token_dic = {} when not is_authentication, then \"id_token\": encode_id_token(id_token_dic, …) unconditionally (create_refresh_response_dic likewise)." >> "$f"; echo >> "$f"
SCOPE="profile" CLIENT_AUTH="-u tokencert-conf:$TOKENCERT_CONF_SECRET" family tokencert-conf "$B/authorize" "$B/token" "$hook"
python3 - "$FAMILY_JSON" >> "$f" <<'PY'
import base64, json, sys
d = json.loads(sys.argv[1])
print("Token response of the code exchange (scope=profile), tokens redacted:\n")
print("```json\n" + json.dumps({k: ("[REDACTED]" if k in ("access_token", "refresh_token", "id_token") else v) for k, v in d.items()}) + "\n```\n")
parts = d.get("id_token", "").split(".")
if len(parts) == 3:
    pad = lambda s: s + "=" * (-len(s) % 4)
    print("The id_token's decoded header and payload:\n")
    print("```json\n" + base64.urlsafe_b64decode(pad(parts[0])).decode() + "\n" + base64.urlsafe_b64decode(pad(parts[1])).decode() + "\n```")
PY

f="$out/introspection-unauthenticated-200.md"; : > "$f"
echo "# Introspection without client authentication answers 200 {\"active\": false} instead of 401 (RFC 7662 §2.1, §2.3)" >> "$f"; echo >> "$f"
echo "Source: oidc_provider/views.py TokenIntrospectionView.post turns every TokenIntrospectionError, including missing credentials, into 200 {\"active\": false}." >> "$f"; echo >> "$f"
ev "$f" "no credentials" -- -d "token=anything" "$B/introspect"

f="$out/error-codes.md"; : > "$f"
echo "# Missing parameters get invalid_grant / unsupported_grant_type instead of invalid_request (RFC 6749 §5.2)" >> "$f"; echo >> "$f"
ev "$f" "refresh without refresh_token" -- "${conf[@]}" -d "grant_type=refresh_token" "$B/token"
ev "$f" "no grant_type" -- "${conf[@]}" -d "refresh_token=x" "$B/token"

f="$out/duplicate-parameters-accepted.md"; : > "$f"
echo "# Repeated parameters are accepted, the last one wins (RFC 6749 §3.1, §3.2: parameters MUST NOT be included more than once)" >> "$f"; echo >> "$f"
SCOPE="openid+profile" CLIENT_AUTH="-u tokencert-conf:$TOKENCERT_CONF_SECRET" family tokencert-conf "$B/authorize" "$B/token" "$hook"
ev "$f" "grant_type twice" -- "${conf[@]}" -d "grant_type=password&grant_type=refresh_token&refresh_token=$RT" "$B/token"
ev "$f" "client_id twice beside Basic credentials (found by tokencert fuzz, duplicate-client_id)" -- "${conf[@]}" -d "grant_type=client_credentials&scope=openid&client_id=tokencert-conf&client_id=tokencert-duplicate" "$B/token"
f="$out/basic-special-characters.md"; : > "$f"
echo "# Basic credentials are not form-decoded (RFC 6749 §2.3.1)" >> "$f"; echo >> "$f"
echo "The client tokencert-special's secret contains + % :. RFC 6749 §2.3.1 has the client form-encode client_id and secret before Basic; the server compares the raw Basic password, so a client that follows the RFC is refused." >> "$f"; echo >> "$f"
enc="$(python3 -c 'import sys,urllib.parse as u; print(u.quote_plus(sys.argv[1]))' "$TOKENCERT_SPECIAL_SECRET")"
ev "$f" "the secret form-encoded, as RFC 6749 §2.3.1 has the client send it: refused" -- -u "tokencert-special:$enc" -d "grant_type=client_credentials&scope=openid" "$B/token"
ev "$f" "the raw secret: refused too, the decoded credentials are split on every colon (oidc_provider/lib/utils/oauth2.py extract_client_auth: split(\":\") then a 2-tuple unpack; any error means empty credentials)" -- -u "tokencert-special:$TOKENCERT_SPECIAL_SECRET" -d "grant_type=client_credentials&scope=openid" "$B/token"
f="$out/code-errors.md"; : > "$f"
echo "# Code exchange: another redirect_uri gets invalid_client; a code_verifier for a code without code_challenge is accepted (PKCE downgrade)" >> "$f"; echo >> "$f"
echo "RFC 6749 §5.2: a grant that 'does not match the redirection URI used in the authorization request' is invalid_grant. RFC 9700 §2.1.1: a token request with code_verifier MUST be refused when the authorization request had no code_challenge. Source: oidc_provider/lib/endpoints/token.py validate_params: the redirect_uri is checked against the client's list with invalid_client (lines 66-68); the verifier is looked at only if the code has a challenge (line 85)." >> "$f"; echo >> "$f"
SCOPE="openid+profile" auth_code tokencert-conf "$B/authorize" "$hook"
ev "$f" "the code, with the registered redirect_uri plus /elsewhere: invalid_client" -- "${conf[@]}" -d "grant_type=authorization_code&code=$CODE&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcallback%2Felsewhere&code_verifier=$VERIFIER" "$B/token"
SCOPE="openid+profile" PKCE=0 auth_code tokencert-conf "$B/authorize" "$hook"
ev "$f" "a code from an authorization request without code_challenge, redeemed with a code_verifier: 200" -- "${conf[@]}" -d "grant_type=authorization_code&code=$CODE&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcallback&code_verifier=$VERIFIER" "$B/token"

f="$out/multipart-error-not-json.md"; : > "$f"
echo "# A token request whose body does not parse as its declared multipart/form-data gets Django's HTML 400, not an RFC 6749 §5.2 JSON error (found by tokencert fuzz)" >> "$f"; echo >> "$f"
pad="$(python3 -c 'print("p" * 100000)')"
ev "$f" "Content-Type: multipart/form-data; boundary=x, a form-encoded body of 100 kB" -- "${conf[@]}" -H "Content-Type: multipart/form-data; boundary=x" --data-binary "grant_type=refresh_token&refresh_token=x&tokencert_pad=$pad" "$B/token"
python3 - "$f" <<'PY'
import re, sys
p = sys.argv[1]; t = open(p).read()
open(p, "w").write(re.sub(r"p{200,}", lambda m: f"p…({len(m.group(0))} bytes)", t))
PY

f="$out/narrowed-refresh-narrows-refresh-token.md"; : > "$f"
echo "# A narrowed refresh narrows the new refresh token too (RFC 6749 §6: its scope MUST be identical to the presented one's)" >> "$f"; echo >> "$f"
echo "Source: oidc_provider/lib/endpoints/token.py create_refresh_response_dic (lines 232-241): the new Token row, access and refresh token together, gets the requested scope." >> "$f"; echo >> "$f"
SCOPE="openid+profile" CLIENT_AUTH="-u tokencert-conf:$TOKENCERT_CONF_SECRET" family tokencert-conf "$B/authorize" "$B/token" "$hook"
NEXT="$(curl -s "${conf[@]}" -d "grant_type=refresh_token&refresh_token=$RT&scope=openid" "$B/token")"
RT2="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1]).get("refresh_token",""))' "$NEXT")"
echo "A refresh of the family (granted openid profile) with scope=openid answered:" >> "$f"; echo >> "$f"
printf '%s\n\n' "$NEXT" | redact >> "$f"
ev "$f" "the new refresh token, asking for profile (inside the original grant): refused" -- "${conf[@]}" -d "grant_type=refresh_token&refresh_token=$RT2&scope=profile" "$B/token"

echo "evidence written to $out"
