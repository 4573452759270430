#!/usr/bin/env bash
# The hostile-peer suite against the reference server, on loopback: malformed floods, 5,000
# slowloris connections, double-refresh and refresh-vs-revoke races on both stores, kill -9 under
# refresh load. Prints one "hostile:" line of figures per test.
#
# Sizes (defaults in parentheses): HOSTILE_FLOOD (200000) HOSTILE_SLOW (5000)
# HOSTILE_SLOW_SECONDS (30) HOSTILE_RACES (10000) HOSTILE_REVOKE_RACES (1000) HOSTILE_KILLS (10).
# Extra arguments are passed to the test binary (e.g. a test name filter).
set -euo pipefail
cd "$(dirname "$0")/.."
# Each slow connection costs the test one descriptor; raise the soft limit as far as allowed.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
exec cargo test -p reference-server --test hostile -- --ignored --nocapture --test-threads=1 "$@"
