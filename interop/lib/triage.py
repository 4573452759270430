#!/usr/bin/env python3
"""Classifies every non-PASS cell of tokencert reports by cause, with a server's rules file.

  triage.py RULES REPORT.json [REPORT.json…]

RULES is a TSV file: `cause<TAB>regex`, first match wins, matched against
"<outcome> <scenario[cell]> <reason or first finding (step | expected | observed)>" of each
cell. Prints, per cause, the cells of each report, then every cell no rule matched (those
must be triaged by hand before the table is published). Skips whose reason is a capability
the server lacks are matched by rules too (cause `skip-capability`).
"""
import collections
import json
import re
import sys


def line(c):
    name = c["scenario"] + (f"[{c['cell']}]" if c["cell"] else "")
    why = c.get("reason") or ""
    if c.get("findings"):
        f = c["findings"][0]
        first = " | ".join(str(f.get(k)) for k in ("step", "expected", "observed") if f.get(k) is not None)
        why = f"{why} :: {first}" if why else first
    return name, f"{c['outcome']} {name} {why}"


def main():
    rules = []
    for raw in open(sys.argv[1]):
        if raw.strip() and not raw.startswith("#"):
            cause, rx = raw.rstrip("\n").split("\t", 1)
            rules.append((cause, re.compile(rx)))
    table = collections.OrderedDict((c, collections.OrderedDict()) for c, _ in rules)
    unclassified = []
    for path in sys.argv[2:]:
        r = json.load(open(path))
        prof = r["target"]["name"]
        for c in r["results"]:
            if c["outcome"] == "pass":
                continue
            name, text = line(c)
            for cause, rx in rules:
                if rx.search(text):
                    if cause.startswith("skip"):
                        # skips are many: count them by reason instead of listing each cell
                        entry = f"SKIP ({c.get('reason') or 'no reason'})"
                    else:
                        entry = f"{c['outcome'].upper()} {name}"
                    table[cause].setdefault(prof, []).append(entry)
                    break
            else:
                unclassified.append(f"{prof}: {text[:250]}")
    for cause, by_prof in table.items():
        if not by_prof:
            continue
        n = sum(len(v) for v in by_prof.values())
        print(f"### {cause} ({n} cells)\n")
        for prof, cells in by_prof.items():
            if cause.startswith("skip"):
                counts = collections.Counter(cells)
                shown = ", ".join(f"{n}× {why[6:-1]}" for why, n in counts.most_common())
                print(f"- `{prof}` ({len(cells)}): {shown}")
            else:
                print(f"- `{prof}` ({len(cells)}): " + ", ".join(f"`{x}`" for x in cells))
        print()
    if unclassified:
        print("### UNCLASSIFIED\n")
        for u in unclassified:
            print(f"- {u}")


if __name__ == "__main__":
    main()
