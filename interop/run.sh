#!/usr/bin/env bash
# The interop lab as a gate: installs and starts each real server, runs the whole catalogue, a
# bounded `tokencert prop` and a bounded `tokencert fuzz` against each of its profiles, and
# compares everything with the server's expected-findings.toml (lib/check.py). Exits 1 on any
# problem: an ERROR cell, a FAIL/WARN/INFO cell or prop/fuzz finding that is not expected, an
# expected finding that no longer shows; exits 2 when the lab itself breaks (install, start).
#
#   interop/run.sh                          # every profile of every server
#   interop/run.sh glewlwyd                 # a server: glewlwyd | django-oidc-provider | node-oauth2-server
#   interop/run.sh glewlwyd-oneuse node-oauth2-server-rotate    # or profiles (their target names)
#
# Environment (defaults in brackets):
#   REPORT_DIR           where the reports go [$INTEROP_STATE/reports]: REPORT_DIR/<profile>/
#                        has report.{json,html}, junit.xml, console.txt, prop.log, fuzz.log,
#                        check.txt, skips.txt (the skip reasons with their cells);
#                        REPORT_DIR/summary.tsv one line per profile
#   TOKENCERT            the binary [target/release/tokencert, built if missing]
#   TOKENCERT_ARGS       extra arguments for `tokencert run`, e.g. "-f 'rotation.*'" (a
#                        filtered run judges only the scenarios it ran)
#   LAB_JOBS             cells in flight [per server: glewlwyd 1, django-oidc-provider 2,
#                        node-oauth2-server 4]; <SERVER>_JOBS (GLEWLWYD_JOBS, DJANGO_JOBS,
#                        NODE_JOBS) overrides one server. Glewlwyd's and Django's SQLite
#                        answer 500 under more concurrency (Glewlwyd TRIAGE G7)
#   LAB_PROP_CASES       prop cases per profile [20]; 0 skips prop
#   LAB_FUZZ_REQUESTS    fuzz requests per profile [per server, see PROFILES]; 0 skips fuzz
#   LAB_FUZZ_SECONDS     fuzz time cap per profile [90]: a run it cuts short is not judged stale
#   LAB_RUN_TIMEOUT      cap on one `tokencert run`, seconds [1800]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
. "$here/lib/common.sh"
cd "$root"

# server  profile file  start environment  default -j  default fuzz requests
# (fuzz requests: the fuzzer spends a token family only where a request may use up its token,
# so a few logins serve the whole run: node answers ~150 requests/s, Django ~50, Glewlwyd ~20
# on the shared lab machine; the counts keep every profile well inside the time cap)
PROFILES="
node-oauth2-server   profile.yaml            ROTATE=1  4  3000
node-oauth2-server   profile-short-ttl.yaml  ROTATE=1  4  1500
node-oauth2-server   profile-no-rotate.yaml  ROTATE=0  4  3000
django-oidc-provider profile.yaml            -         2  6000
glewlwyd             profile.yaml            -         1  800
glewlwyd             profile-fixed.yaml      -         1  800
glewlwyd             profile-oneuse.yaml     -         1  800
"
default_port() {
  case "$1" in node-oauth2-server) echo 18401 ;; django-oidc-provider) echo 18402 ;; glewlwyd) echo 18403 ;; esac
}
jobs_for() {
  local var
  case "$1" in node-oauth2-server) var=NODE_JOBS ;; django-oidc-provider) var=DJANGO_JOBS ;; glewlwyd) var=GLEWLWYD_JOBS ;; esac
  echo "${!var:-${LAB_JOBS:-$2}}"
}
target_name() { sed -n 's/^\(target\|name\): *\([^ #]*\).*/\2/p' "$1" | head -1; }

# The selection: every profile whose server or target name is an argument (all without any).
selected=()
while read -r server file startenv jobs fuzzn; do
  [ -n "$server" ] || continue
  name="$(target_name "$here/$server/$file")"
  if [ $# -eq 0 ]; then selected+=("$server $file $startenv $jobs $fuzzn $name"); continue; fi
  for want in "$@"; do
    if [ "$want" = "$server" ] || [ "$want" = "$name" ]; then selected+=("$server $file $startenv $jobs $fuzzn $name"); fi
  done
done <<< "$PROFILES"
if [ ${#selected[@]} -eq 0 ]; then
  echo "no profile matches: $* (servers: glewlwyd django-oidc-provider node-oauth2-server, or a profile's target name)" >&2
  exit 2
fi

reports="${REPORT_DIR:-$INTEROP_STATE/reports}"
mkdir -p "$reports"
summary="$reports/summary.tsv"
rm -f "$summary"
tc="${TOKENCERT:-$root/target/release/tokencert}"
[ -x "$tc" ] || cargo build --release
prop_cases="${LAB_PROP_CASES:-20}" fuzz_secs="${LAB_FUZZ_SECONDS:-90}"
python3 -m unittest discover -s "$here/lib" -p 'test_*.py' 2>&1 | tail -1 | grep -qx OK ||
  { echo "lib/check.py's unit tests fail: python3 -m unittest discover -s interop/lib -p 'test_*.py'" >&2; exit 2; }

now() { date +%s.%N; }
secs() { python3 -c "print(round($(now) - $1, 1))"; }

# run_profile SERVER FILE JOBS FUZZ_REQUESTS NAME ENVFILE: the catalogue, prop, fuzz, then the check.
run_profile() {
  local server="$1" file="$2" jobs="$3" fuzz_requests="$4" name="$5" envfile="$6" out t rc run_s prop_s fuzz_s
  local -a check_args
  out="$reports/$name"
  rm -rf "$out"; mkdir -p "$out"
  # shellcheck disable=SC1090
  . "$envfile"
  render_profile "$here/$server/$file" "$out/profile.yaml" "$(default_port "$server")" "$INTEROP_PORT"
  echo "== $name: tokencert run -j $jobs (port $INTEROP_PORT)"
  t=$(now); rc=0
  # shellcheck disable=SC2086
  # --specs: the tree's catalogue, not the one built into the binary (the same, unless edited since)
  eval "timeout ${LAB_RUN_TIMEOUT:-1800} \"$tc\" run --specs \"$root/specs\" --target \"$out/profile.yaml\" --report-dir \"$out\" -j $jobs ${TOKENCERT_ARGS:-}" \
    > "$out/console.txt" 2>&1 || rc=$?
  run_s=$(secs "$t")
  if [ ! -f "$out/report.json" ]; then
    tail -20 "$out/console.txt" >&2
    echo "$name: tokencert run wrote no report (exit $rc)" | tee "$out/check.txt" >&2
    return 1
  fi
  # The skip reasons with their cells, to audit (each must be a capability the server lacks).
  python3 "$here/lib/check.py" --skips "$out/report.json" > "$out/skips.txt" || true
  check_args=(--expected "$here/$server/expected-findings.toml" --report "$out/report.json")
  prop_s=- fuzz_s=-
  if [ "$prop_cases" != 0 ]; then
    echo "== $name: tokencert prop --cases $prop_cases"
    t=$(now)
    timeout 900 "$tc" prop --target "$out/profile.yaml" --cases "$prop_cases" --seed 1 --out "$out/prop" \
      > "$out/prop.log" 2>&1 || true
    prop_s=$(secs "$t"); check_args+=(--prop "$out/prop.log")
  fi
  if [ "$fuzz_requests" != 0 ]; then
    echo "== $name: tokencert fuzz --max-requests $fuzz_requests --duration ${fuzz_secs}s"
    t=$(now)
    # The latency bound is generous: a slow answer on a shared CI machine is not a finding.
    timeout $((fuzz_secs + 120)) "$tc" fuzz --target "$out/profile.yaml" --max-requests "$fuzz_requests" \
      --duration "${fuzz_secs}s" --latency-bound 15s --seed 1 --out "$out/fuzz" > "$out/fuzz.log" 2>&1 || true
    fuzz_s=$(secs "$t"); check_args+=(--fuzz "$out/fuzz.log" --fuzz-max "$fuzz_requests")
  fi
  python3 "$here/lib/check.py" "${check_args[@]}" --summary "$summary" --times "$run_s" "$prop_s" "$fuzz_s" \
    > "$out/check.txt" && rc=0 || rc=$?
  cat "$out/check.txt"
  [ "$rc" = 0 ] || [ "$rc" = 1 ] || return 1
  return 0
}

broken=0
current=""   # "server startenv" of the running server
stop_current() { [ -z "$current" ] || "$here/${current%% *}/stop.sh" >&2 || true; current=""; }
trap stop_current EXIT
installed=" "
for entry in "${selected[@]}"; do
  read -r server file startenv jobs fuzzn name <<< "$entry"
  jobs="$(jobs_for "$server" "$jobs")"
  fuzzn="${LAB_FUZZ_REQUESTS:-$fuzzn}"
  if [[ "$installed" != *" $server "* ]]; then
    echo "== $server: install"
    "$here/$server/install.sh" >&2 || { echo "$server: install failed" >&2; broken=1; continue; }
    installed+="$server "
  fi
  if [ "$current" != "$server $startenv" ]; then
    stop_current
    # A server left running (by hand, or by an interrupted run) may have another configuration.
    "$here/$server/stop.sh" >/dev/null 2>&1 || true
    echo "== $server: start ($startenv)"
    # shellcheck disable=SC2046
    if ! envfile=$(env $( [ "$startenv" = - ] || echo "$startenv" ) "$here/$server/start.sh"); then
      echo "$server: start failed" >&2; broken=1; continue
    fi
    current="$server $startenv"
  fi
  run_profile "$server" "$file" "$jobs" "$fuzzn" "$name" "$envfile" || broken=1
done
stop_current
trap - EXIT

echo
echo "summary ($summary):"
problems=0
[ -f "$summary" ] && { python3 "$here/lib/check.py" --table "$summary" || problems=1; }
if [ "$broken" != 0 ]; then echo "the lab broke (install, start or tokencert itself): see above" >&2; exit 2; fi
if [ "$problems" != 0 ]; then
  echo "problems: see REPORT_DIR/<profile>/check.txt (one line each)" >&2
  exit 1
fi
echo "every profile shows exactly its expected findings"
