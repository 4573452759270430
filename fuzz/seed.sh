#!/usr/bin/env bash
# Regenerates the committed seed corpora (fuzz/seeds/; cargo-fuzz grows its working corpus in
# the git-ignored fuzz/corpus/) from specs/ (scenarios, target profiles, templates) plus a few
# handcrafted token requests. Run from the repository root: bash fuzz/seed.sh
set -euo pipefail
cd "$(dirname "$0")/.."
c=fuzz/seeds
mkdir -p $c/{scenario_yaml,target_profile,template,token_request,basic_header,dpop_proof,form_scope}
i=0
for f in $(find specs -name '*.yaml' -not -path 'specs/targets/*' -not -name requirements.yaml | sort); do
  cp "$f" "$c/scenario_yaml/$(echo "$f" | tr '/' '_')"
done
for f in specs/targets/*.yaml; do cp "$f" "$c/target_profile/$(basename "$f")"; done
grep -rhoE "\"?\{\{[^}]*\}\}[^\"']*" specs --include='*.yaml' | sort -u | head -200 | while IFS= read -r t; do
  i=$((i+1)); printf '%s' "$t" > "$c/template/t$i"
done
ct='application/x-www-form-urlencoded'
printf '%s\0\0\0%s' "$ct" 'grant_type=refresh_token&refresh_token=abc&client_id=public-1' > $c/token_request/refresh_public
printf '%s\0Basic Y29uZmlkZW50aWFsLWJhc2ljLTI6c2Vjb25kLWNsaWVudC1zZWNyZXQ=\0\0%s' "$ct" 'grant_type=refresh_token&refresh_token=abc' > $c/token_request/refresh_basic
printf '%s\0\0\0%s' "$ct" 'grant_type=refresh_token&refresh_token=a&refresh_token=b' > $c/token_request/duplicate
printf '%s\0\0\0%s' "$ct" 'client_id=confidential-post&client_secret=post%2Bsecret+value&grant_type=password&username=alice&password=alice-password&scope=openid+api%3Aread' > $c/token_request/post_password
printf '%s\0\0eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2In0.e30.sig\0%s' "$ct" 'grant_type=refresh_token&refresh_token=x&client_id=public-dpop' > $c/token_request/dpop
printf 'application/json\0\0\0{"grant_type":"refresh_token"}' > $c/token_request/json
printf '%s\0\0\0%s' "$ct" 'grant_type=refresh_token&refresh_token=%zz%C3' > $c/token_request/bad_encoding
printf '%s\0\0\0%s' "$ct" 'client_id=confidential-private-key-jwt&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJjb25maWRlbnRpYWwtcHJpdmF0ZS1rZXktand0In0.sig&grant_type=refresh_token&refresh_token=x' > $c/token_request/assertion
printf 'Y29uZmlkZW50aWFsLWJhc2ljOnMzY3IzdCUyQiUyNSUzQSVDMyVCQ2Jlcg==' > $c/basic_header/special
printf 'Og==' > $c/basic_header/colon
printf '!!!' > $c/basic_header/not_base64
printf 'eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwiY3J2IjoiUC0yNTYiLCJ4IjoiQUFBIiwieSI6IkFBQSJ9fQ.eyJqdGkiOiIxIiwiaHRtIjoiUE9TVCIsImh0dSI6Imh0dHA6Ly8xMjcuMC4wLjE6ODA4MC90b2tlbiIsImlhdCI6MTcwMDAwMDAwMH0.AAAA' > $c/dpop_proof/shape
printf 'a.b.c' > $c/dpop_proof/dots
printf 'grant_type=refresh_token&scope=openid+api%%3Aread' > $c/form_scope/form
printf 'openid  api:read\tx' > $c/form_scope/scope
echo "seeded: $(find $c -type f | wc -l) files"
