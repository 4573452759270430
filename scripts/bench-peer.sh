#!/usr/bin/env bash
# Side-by-side refresh throughput: the reference server (release binary, its own process, memory
# store, then SQLite on a fresh file; rfc9700 + password grant, no ID token) and the interop lab's
# @node-oauth/oauth2-server
# app (in-memory model, rotation on), both driven by the same load generator
# (reference-server/benches/refresh_throughput.rs with BENCH_URL: independent refresh chains over
# one keep-alive pool). Each round starts a fresh instance of each server on a free loopback port,
# runs them one after the other, and stops each by its pid.
#
#   scripts/bench-peer.sh              # 3 rounds, 10 s runs, 16 chains
#   ROUNDS=1 BENCH_SECS=3 BENCH_ONLY=/1 scripts/bench-peer.sh
#
# Needs node + the app's node_modules (interop/node-oauth2-server/install.sh). Loopback only.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
. "$root/interop/lib/common.sh"
rounds="${ROUNDS:-3}"
export BENCH_SECS="${BENCH_SECS:-10}" BENCH_ONLY="${BENCH_ONLY:-/16}"
work="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

[ -d "$root/interop/node-oauth2-server/app/node_modules/@node-oauth/oauth2-server" ] ||
  { echo "run interop/node-oauth2-server/install.sh first" >&2; exit 1; }
nice cargo build --release -q -p reference-server
nice cargo bench -q -p reference-server --no-run
printf 'preset: rfc9700\ngrants:\n  password: true\n' > "$work/policy.yaml"

stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

# run_reference [DB_FILE]: the memory store, or SQLite on DB_FILE.
run_reference() {
  local port pid store=() label=memory
  if [ -n "${1:-}" ]; then store=(--db "$1"); label="SQLite, $(dirname "$1")"; fi
  port="$(free_port 0)"
  "$root/target/release/reference-server" --policy "$work/policy.yaml" "${store[@]}" \
    --bind "127.0.0.1:$port" > "$work/reference.log" 2>&1 &
  pid=$!; pids+=("$pid")
  wait_http "http://127.0.0.1:$port/" 30
  echo "# reference-server, $label (pid $pid, 127.0.0.1:$port)"
  BENCH_URL="http://127.0.0.1:$port/token" BENCH_CLIENT_ID=confidential-basic \
    BENCH_CLIENT_SECRET="$(printf 's3cr3t+%%:\xc3\xbcber/=&')" BENCH_USERNAME=alice \
    BENCH_PASSWORD=alice-password BENCH_SCOPE=api:read \
    cargo bench -q -p reference-server 2>&1 | grep -E "^(external|refresh failed)|panicked"
  stop "$pid"
}

run_node() {
  local st env
  st="$work/node-$1"; mkdir -p "$st"
  # start.sh keeps its state (pid, generated secrets) under $INTEROP_STATE/node-oauth2-server.
  env="$(INTEROP_STATE="$st" PORT=0 "$root/interop/node-oauth2-server/start.sh")"
  pids+=("$(cat "$st/node-oauth2-server/pid")")
  # shellcheck disable=SC1090
  . "$env"
  echo "# @node-oauth/oauth2-server 5.3.0 (pid $(cat "$st/node-oauth2-server/pid"), 127.0.0.1:$INTEROP_PORT)"
  BENCH_URL="http://127.0.0.1:$INTEROP_PORT/token" BENCH_CLIENT_ID=tokencert-conf \
    BENCH_CLIENT_SECRET="$TOKENCERT_CONF_SECRET" BENCH_USERNAME="$TOKENCERT_USER" \
    BENCH_PASSWORD="$TOKENCERT_USER_PASSWORD" BENCH_SCOPE=read \
    cargo bench -q -p reference-server 2>&1 | grep -E "^(external|refresh failed)|panicked"
  stop "$(cat "$st/node-oauth2-server/pid")"
}

uptime
for ((r = 1; r <= rounds; r++)); do
  echo "## round $r"
  run_reference
  run_reference "$work/reference-$r.db"
  run_node "$r"
done
uptime
