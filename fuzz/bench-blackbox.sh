#!/usr/bin/env bash
# Throughput of the black-box fuzzer (`tokencert fuzz`) against wrk on the same endpoint: one
# standalone `tokencert serve` (release binary, its own process, memory store) on a free loopback
# port; first `wrk -t2 -c16` with one fixed client_credentials POST, then `tokencert fuzz` with
# 16 connections for the same time; prints both rates and their ratio. A benchmark, not a test:
# the numbers depend on the machine (the server, wrk and the fuzzer share its cores).
#
#   fuzz/bench-blackbox.sh                 # 3 rounds of 20 s each
#   ROUNDS=1 SECS=10 CONNECTIONS=8 fuzz/bench-blackbox.sh
#
# Needs wrk (apt-get install wrk). Every process it starts binds 127.0.0.1 and is stopped by its
# pid.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
rounds="${ROUNDS:-3}" secs="${SECS:-20}" conns="${CONNECTIONS:-16}"
tc="${TOKENCERT:-$root/target/release/tokencert}"
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)" >&2; exit 2; }
[ -x "$tc" ] || nice cargo build --release --bin tokencert
work="$(mktemp -d)"
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

for round in $(seq 1 "$rounds"); do
  port="$(free_port)"
  "$tc" serve --bind "127.0.0.1:$port" > "$work/serve.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do
    curl -s -o /dev/null "http://127.0.0.1:$port/.well-known/oauth-authorization-server" && break
    sleep 0.1
  done
  # The server's demo client for the confidential role (`tokencert serve --print-config`).
  id=confidential-basic-2 secret=second-client-secret
  basic="$(printf '%s:%s' "$id" "$secret" | base64 -w0)"
  cat > "$work/post.lua" <<EOF
wrk.method = "POST"
wrk.body = "grant_type=client_credentials&scope=api%3Aread"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic $basic"
EOF
  wrk_rps="$(wrk -t2 -c16 -d"${secs}s" -s "$work/post.lua" "http://127.0.0.1:$port/token" |
    awk '/^Requests\/sec:/ { print $2 }')"
  cat > "$work/profile.yaml" <<EOF
name: tokencert serve (bench)
base_url: http://127.0.0.1:$port
endpoints: { token: /token, authorization: /authorize, revocation: /revoke, introspection: /introspect }
clients:
  confidential: { id: $id, secret: $secret, auth_method: client_secret_basic, redirect_uri: "https://client.tokencert.test/callback" }
bootstrap: { grant: authorization_code, scope: openid profile offline_access api:read api:write, authorize_params: { login_hint: alice } }
policy: rfc9700
EOF
  "$tc" fuzz --target "$work/profile.yaml" --connections "$conns" --duration "${secs}s" \
    --max-requests 100000000 --seed "$round" --out "$work/fuzz" > "$work/fuzz.log" 2>&1 || true
  line="$(grep -E '^[0-9]+ requests in' "$work/fuzz.log" || tail -3 "$work/fuzz.log")"
  fuzz_rps="$(echo "$line" | sed -n 's/.*(\([0-9]*\) req\/s.*/\1/p')"
  findings="$(grep -c '^FINDING' "$work/fuzz.log" || true)"
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
  ratio="$(python3 -c "print(f'{${fuzz_rps:-0}/${wrk_rps:-1}:.2f}')")"
  echo "round $round: wrk ${wrk_rps} req/s, fuzz ${fuzz_rps} req/s (${conns} connections, ${findings} findings): ratio ${ratio}"
  grep '^FINDING' "$work/fuzz.log" || true
done
