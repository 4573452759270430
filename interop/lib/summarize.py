#!/usr/bin/env python3
"""Reads a tokencert report.json.

  summarize.py REPORT NAME EXIT SECONDS     one TSV summary line (run.sh's summary.tsv)
  summarize.py --cells REPORT               every non-pass cell: outcome, id[cell], reason or
                                            first finding (the raw material of TRIAGE.md)
"""
import json
import sys


def cells(path):
    r = json.load(open(path))
    for c in r["results"]:
        if c["outcome"].lower() == "pass":
            continue
        name = c["scenario"] + (f"[{c['cell']}]" if c["cell"] else "")
        why = c.get("reason") or ""
        if not why and c.get("findings"):
            f = c["findings"][0]
            why = " | ".join(str(f.get(k)) for k in ("step", "message", "expected", "observed") if f.get(k) is not None)
        print(f"{c['outcome']}\t{name}\t{why}"[:400])


def main():
    if sys.argv[1] == "--cells":
        cells(sys.argv[2])
        return
    path, name, rc, secs = sys.argv[1:5]
    s = json.load(open(path))["summary"]
    keys = ["pass", "fail", "warn", "info", "skip", "error", "xfail", "xpass"]
    print("\t".join([name] + [str(s.get(k, 0)) for k in keys] + [rc, secs]))


if __name__ == "__main__":
    main()
