#!/usr/bin/env python3
"""Runs the catalogue once per reference-server flaw (under each preset until the flaw shows) and
prints the flaw x scenario matrix: for each flaw, the scenarios that caught it (FAIL, or WARN/INFO
for SHOULD/MAY rules), and the exit code of `tokencert run --flaw NAME` under rfc9700.

Usage: python3 scripts/flaw_matrix.py [path/to/tokencert] > flaw-matrix.md
"""
import json
import subprocess
import sys
import tempfile

BIN = sys.argv[1] if len(sys.argv) > 1 else "target/debug/tokencert"
PRESETS = ["rfc9700", "rfc6749", "fapi2", "auth0", "rfc9700-grace", "oauth21", "wso2", "wso2-no-renew", "oracle-idcs"]


def flaws():
    out = subprocess.run([BIN, "serve", "--list-flaws"], capture_output=True, text=True, check=True).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def run(flaw, preset):
    with tempfile.TemporaryDirectory() as d:
        p = subprocess.run([BIN, "run", "--flaw", flaw, "--policy", preset, "--report-dir", d, "--no-progress"],
                           capture_output=True, text=True)
        with open(f"{d}/report.json") as f:
            rep = json.load(f)
    caught = {r["scenario"] for r in rep["results"] if r["outcome"] in ("fail", "warn", "info")}
    return p.returncode, caught


def main():
    rows = []
    caught_by = {}
    for flaw in flaws():
        code, caught = run(flaw, PRESETS[0])
        seen = set(caught)
        for preset in PRESETS[1:]:
            _, more = run(flaw, preset)
            seen |= more
        rows.append((flaw, code, sorted(seen)))
        for s in seen:
            caught_by.setdefault(s, []).append(flaw)
    print("| flaw | exit (rfc9700) | scenarios catching it |")
    print("|---|---|---|")
    for flaw, code, seen in rows:
        print(f"| {flaw} | {code} | {len(seen)}: {', '.join(seen[:6])}{' …' if len(seen) > 6 else ''} |")
    print()
    print(f"flaws: {len(rows)}, caught by at least one scenario: {sum(1 for r in rows if r[2])}")
    print(f"scenarios catching at least one flaw: {len(caught_by)}")


if __name__ == "__main__":
    main()
