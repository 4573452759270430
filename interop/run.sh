#!/usr/bin/env bash
# The interop lab: install, start, run the whole catalogue against, and stop each real server.
#
#   interop/run.sh                       # every server
#   interop/run.sh glewlwyd              # one: glewlwyd | django-oidc-provider | node-oauth2-server
#   REPORT_DIR=/tmp/lab interop/run.sh   # where the reports go (default $INTEROP_STATE/reports)
#   TOKENCERT=path/to/tokencert          # default target/release/tokencert (built if missing)
#   TOKENCERT_ARGS="-f 'rotation.*'"     # extra arguments for `tokencert run`
#   GLEWLWYD_JOBS=2 DJANGO_JOBS=2        # cells in flight against Glewlwyd / Django (both on SQLite,
#                                        # which answers 500 under more concurrency: see the TRIAGE.md)
#
# Each profile's run writes junit.xml, report.json and report.html into REPORT_DIR/<profile>/,
# and one summary line per profile goes to REPORT_DIR/summary.tsv. A conformance failure of a
# server is what the lab is for, not a failure of the lab: the script exits non-zero only when a
# server cannot be installed or started, or tokencert itself is unusable (exit 1 or 2).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
. "$here/lib/common.sh"
servers=("${@:-glewlwyd django-oidc-provider node-oauth2-server}")
read -r -a servers <<< "${servers[*]}"
reports="${REPORT_DIR:-$INTEROP_STATE/reports}"
mkdir -p "$reports"
cd "$root"
tc="${TOKENCERT:-$root/target/release/tokencert}"
[ -x "$tc" ] || cargo build --release
summary="$reports/summary.tsv"
[ -f "$summary" ] || printf 'profile\tpass\tfail\twarn\tinfo\tskip\terror\txfail\txpass\texit\tseconds\n' > "$summary"

# run_profile SERVER PROFILE ENVFILE DEFAULT_PORT [EXTRA TOKENCERT ARGS]
run_profile() {
  local server="$1" profile="$2" envfile="$3" default_port="$4" extra="${5:-}" name out rc start secs
  name="$(basename "$profile" .yaml)"; name="$server${name#profile}"
  out="$reports/$name"
  rm -rf "$out"; mkdir -p "$out"
  # shellcheck disable=SC1090
  . "$envfile"
  render_profile "$profile" "$out/profile.yaml" "$default_port" "$INTEROP_PORT"
  echo "== $name: tokencert run --target $profile (port $INTEROP_PORT)"
  start=$(date +%s.%N)
  set +e
  # shellcheck disable=SC2086
  eval "\"$tc\" run --target \"$out/profile.yaml\" --report-dir \"$out\" $extra ${TOKENCERT_ARGS:-}" > "$out/console.txt" 2>&1
  rc=$?
  set -e
  secs=$(python3 -c "print(round($(date +%s.%N) - $start, 1))")
  [ "$rc" = 1 ] || [ "$rc" = 2 ] && { tail -20 "$out/console.txt" >&2; echo "tokencert refused the run (exit $rc)" >&2; return 1; }
  python3 "$here/lib/summarize.py" "$out/report.json" "$name" "$rc" "$secs" >> "$summary"
  tail -1 "$summary"
}

for server in "${servers[@]}"; do
  dir="$here/$server"
  [ -d "$dir" ] || { echo "unknown server $server" >&2; exit 1; }
  echo "== $server: install"
  "$dir/install.sh"
  case "$server" in
    node-oauth2-server)
      for rotate in 1 0; do
        env="$(ROTATE=$rotate "$dir/start.sh")"
        if [ "$rotate" = 1 ]; then p="$dir/profile.yaml"; else p="$dir/profile-no-rotate.yaml"; fi
        run_profile "$server" "$p" "$env" 18401 || { "$dir/stop.sh"; exit 1; }
        "$dir/stop.sh"
      done ;;
    django-oidc-provider)
      env="$("$dir/start.sh")"
      run_profile "$server" "$dir/profile.yaml" "$env" 18402 "-j ${DJANGO_JOBS:-2}" || { "$dir/stop.sh"; exit 1; }
      "$dir/stop.sh" ;;
    glewlwyd)
      env="$("$dir/start.sh")"
      for p in "$dir/profile.yaml" "$dir/profile-fixed.yaml" "$dir/profile-oneuse.yaml"; do
        run_profile "$server" "$p" "$env" 18403 "-j ${GLEWLWYD_JOBS:-2}" || { "$dir/stop.sh"; exit 1; }
      done
      "$dir/stop.sh" ;;
  esac
done
echo "summary: $summary"
column -t -s $'\t' "$summary" 2>/dev/null || cat "$summary"
