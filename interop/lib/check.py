#!/usr/bin/env python3
"""The interop lab's gate: compares one profile's run with the server's expected findings.

  check.py --expected SERVER/expected-findings.toml --report OUT/report.json
           [--prop OUT/prop.log] [--fuzz OUT/fuzz.log [--fuzz-max N]]
           [--summary SUMMARY.tsv --times RUN_S PROP_S FUZZ_S]   append the profile's table line
  check.py --expected FILE --validate                  only check the expected-findings file
  check.py --expected FILE --draft --report R.json     print a TOML entry for every unexpected
                                                       cell (why = "TODO": triage, then fill in)
  check.py --skips R.json                              the run's skip reasons, with their cells
                                                       (to audit: each must be a capability the
                                                       target lacks)
  check.py --table SUMMARY.tsv                         print the summary table (exit 1: problems)

A problem is: an ERROR, TIMEOUT or XPASS cell (never a finding: a cell that cannot start
because of a deviation another scenario reports is skipped by that scenario, its
`prerequisite_for`); a FAIL, WARN or INFO cell no expected finding names (or one that breaks a
requirement its entry does not list); an expected finding that no longer
shows (stale); a prop counterexample or fuzz finding not expected, or an expected one that did
not show; prop or fuzz stopping on a harness error. One line per problem; exit 1 on any.
Only what the run covered is judged: a scenario the run's filter left out is never stale.

The expected-findings file (TOML, stdlib tomllib) is documented in interop/README.md.
"""
import argparse
import json
import os
import re
import sys

try:
    import tomllib
except ImportError:  # Python < 3.11
    sys.exit("check.py needs Python 3.11 or newer (tomllib)")

OUTCOMES = ("fail", "warn", "info")
# report.json layouts read here (reports/README.md): 2 added `untested`, `coverage` and `fail_on`,
# none of which the gate needs.
SCHEMA_VERSIONS = (1, 2)
# The level that decides each outcome (specs/README.md, "Outcomes and exit codes").
DECISIVE = {"fail": "MUST", "warn": "SHOULD", "info": "MAY"}
KEYS = {
    "finding": {"id", "scenario", "cells", "outcome", "requirement", "profiles", "evidence",
                "source", "why"},
    "prop": {"id", "requirement", "message", "profiles", "evidence", "source", "why"},
    "fuzz": {"id", "oracle", "status", "mutations", "cause", "requirement", "profiles", "evidence", "source", "why"},
}
REQUIRED = {
    "finding": ("id", "scenario", "outcome", "requirement", "why"),
    "prop": ("id", "requirement", "message", "why"),
    "fuzz": ("id", "oracle", "requirement", "why"),
}
# `source` cites the server's code: path:line@version (a range path:10-20@version is fine).
SOURCE_RE = re.compile(r"^[^\s:@]+:\d+(-\d+)?@[^\s@]+$")
# One fuzz finding on the console (src/cli/fuzz.rs print_findings).
FUZZ_RE = re.compile(
    r"^FINDING (?P<oracle>\S+) \((?P<req>[^)]+)\): .* — status (?P<status>\S+), error (?P<error>\S+), "
    r"(?:mutations (?P<mutations>\S+), )?(?P<hits>\d+) hit")
# The shrunk prop counterexample (src/prop/mod.rs Finding::describe).
PROP_RE = re.compile(r"^counterexample \(policy .*\): (?P<message>.*) \[(?P<req>[A-Za-z0-9.\-]+)\]$")


class Invalid(Exception):
    """The expected-findings file is wrong (message carries file:line)."""


def read_text(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


def as_list(v):
    return v if isinstance(v, list) else [v]


def load_expected(path):
    """Parses and validates an expected-findings file. Returns {"profiles", "finding", "prop", "fuzz"}."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
        doc = tomllib.loads(raw.decode("utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise Invalid(f"{path}: {e}")
    except tomllib.TOMLDecodeError as e:
        raise Invalid(f"{path}: {e} (TOML: see interop/README.md, 'Expected findings')")
    # Line of the n-th [[kind]] header, for messages.
    lines = {k: [] for k in KEYS}
    for i, text in enumerate(raw.decode("utf-8").splitlines(), 1):
        m = re.match(r"^\s*\[\[\s*(\w+)\s*\]\]", text)
        if m and m.group(1) in lines:
            lines[m.group(1)].append(i)
    unknown = set(doc) - set(KEYS) - {"profiles"}
    if unknown:
        raise Invalid(f"{path}: unknown top-level key(s) {sorted(unknown)} (known: profiles, "
                      + ", ".join(f"[[{k}]]" for k in KEYS) + ")")
    profiles = doc.get("profiles")
    if not isinstance(profiles, list) or not profiles or not all(isinstance(p, str) for p in profiles):
        raise Invalid(f"{path}: `profiles` must list the server's profile names (the reports' target names)")
    base = os.path.dirname(os.path.abspath(path))
    out = {"profiles": profiles}
    errors = []
    for kind in KEYS:
        entries = doc.get(kind, [])
        if not isinstance(entries, list):
            raise Invalid(f"{path}: `{kind}` must be an array of tables ([[{kind}]])")
        for n, e in enumerate(entries):
            where = f"{path}:{lines[kind][n] if n < len(lines[kind]) else '?'}: [[{kind}]] #{n + 1}"
            errors += [f"{where}: {m}" for m in validate_entry(kind, e, profiles, base)]
        out[kind] = entries
    if errors:
        raise Invalid("\n".join(errors))
    return out


def validate_entry(kind, e, profiles, base):
    msgs = []
    for k in sorted(set(e) - KEYS[kind]):
        msgs.append(f"unknown key `{k}` (known: {', '.join(sorted(KEYS[kind]))})")
    for k in REQUIRED[kind]:
        if k not in e or e[k] in ("", []):
            msgs.append(f"`{k}` is required")
    if str(e.get("why", "")).strip().upper().startswith("TODO"):
        msgs.append("`why` is still TODO: triage the cell (real deviation, or a harness fault for HARNESS-FAULTS.md)")
    if "evidence" not in e and "source" not in e:
        msgs.append("needs `evidence` (a transcript under evidence/) or `source` (path:line@version)")
    for ev in as_list(e.get("evidence", [])):
        if not isinstance(ev, str) or not os.path.isfile(os.path.join(base, ev)):
            msgs.append(f"evidence file `{ev}` does not exist (paths are relative to the file's directory)")
    for src in as_list(e.get("source", [])):
        if not isinstance(src, str) or not SOURCE_RE.match(src):
            msgs.append(f"source `{src}` is not path:line@version")
    for p in as_list(e.get("profiles", [])):
        if p not in profiles:
            msgs.append(f"profile `{p}` is not one of {profiles}")
    if kind == "finding":
        if e.get("outcome") in ("error", "timeout"):
            msgs.append(f"an {e['outcome'].upper()} is never an expected finding: it is a harness or lab fault "
                        "(HARNESS-FAULTS.md); a cell that cannot start because of a deviation another scenario "
                        "reports is skipped by that scenario (`prerequisite_for`, specs/README.md)")
        elif e.get("outcome") not in OUTCOMES:
            msgs.append(f"outcome must be one of {', '.join(OUTCOMES)}, not `{e.get('outcome')}`")
        for c in as_list(e.get("cells", [])):
            if not isinstance(c, str) or "=" not in c:
                msgs.append(f"cell `{c}` is not `dim=value` (as in reports)")
    if kind == "fuzz":
        for s in as_list(e.get("status", [])):
            if not isinstance(s, int):
                msgs.append(f"status `{s}` is not an integer")
    for k in ("scenario", "mutations", "cause"):
        if k in e and not all(isinstance(v, str) and v for v in as_list(e[k])):
            msgs.append(f"`{k}` must be a string or a list of strings")
    if not all(isinstance(r, str) and r for r in as_list(e.get("requirement", ""))):
        msgs.append("`requirement` must be a requirement id or a list of them")
    return msgs


def applies(entry, profile):
    return "profiles" not in entry or profile in as_list(entry["profiles"])


def cell_name(c):
    return c["scenario"] + (f"[{c['cell']}]" if c.get("cell") else "")


def first_reason(c, level=None):
    """The cell's first failure reason: its first finding at `level` (else any), or its reason."""
    fs = [f for f in c.get("findings", []) if level is None or f.get("level") == level] or c.get("findings", [])
    if fs:
        f = fs[0]
        return (f"[{f.get('requirement')} {f.get('level')}] step {f.get('step')}: {f.get('subject')} "
                f"expected {f.get('expected')}, observed {f.get('observed')}")
    return c.get("reason") or "(no reason recorded)"


def failure_text(c):
    """What a cell that could not be judged shows: its reason and its first finding."""
    reason = c.get("reason") or ""
    first = first_reason(c) if c.get("findings") else ""
    return f"{reason} :: {first}" if reason and first else (reason or first or "(no reason recorded)")


def one_line(s, width=300):
    s = " ".join(str(s).split())
    return s if len(s) <= width else s[: width - 1] + "…"


def check_report(expected, report):
    """Problems of a run's report.json against the expected findings: (problems, stats)."""
    profile = report["target"]["name"]
    if profile not in expected["profiles"]:
        return [f"PROFILE {profile}: not listed in the expected-findings file's `profiles`"], {}
    entries = [e for e in expected["finding"] if applies(e, profile)]
    problems, matched = [], set()
    expected_cells = unexpected_cells = 0
    for c in report["results"]:
        outcome = c["outcome"].lower()
        name = cell_name(c)
        if outcome == "xfail":  # a deviation listed in the profile: the lab lists them here instead
            outcome = "fail"
        if outcome == "timeout":  # no answer within the timeout: the cell could not be judged
            problems.append(f"TIMEOUT {name}: {one_line(failure_text(c))}")
            unexpected_cells += 1
            continue
        if outcome in ("error", "xpass"):  # never a finding
            problems.append(f"{outcome.upper()} {name}: {one_line(failure_text(c))}")
            unexpected_cells += 1
            continue
        if outcome not in OUTCOMES:
            continue
        cands = [i for i, e in enumerate(entries)
                 if c["scenario"] in as_list(e["scenario"]) and e["outcome"] == outcome
                 and ("cells" not in e or c.get("cell", "") in as_list(e["cells"]))]
        level = DECISIVE[outcome]
        decisive = sorted({f["requirement"] for f in c.get("findings", []) if f.get("level") == level})
        if not cands:
            problems.append(f"UNEXPECTED {outcome.upper()} {name}: {one_line(first_reason(c, level))}")
            unexpected_cells += 1
            continue
        ok = [i for i in cands if set(decisive) <= set(as_list(entries[i]["requirement"]))]
        if not ok:
            listed = sorted({r for i in cands for r in as_list(entries[i]["requirement"])})
            extra = [r for r in decisive if r not in listed]
            f = next(f for f in c["findings"] if f.get("level") == level and f["requirement"] in extra)
            problems.append(f"UNEXPECTED {outcome.upper()} {name}: breaks {', '.join(extra)} "
                            f"(expected only {', '.join(listed)}): {one_line(first_reason({'findings': [f]}))}")
            unexpected_cells += 1
            continue
        expected_cells += 1
        for i in ok:
            matched.add((i, (c["scenario"], c.get("cell", ""))))
    ran = {c["scenario"]: {x.get("cell", "") for x in report["results"] if x["scenario"] == c["scenario"]}
           for c in report["results"]}
    stale = 0
    for i, e in enumerate(entries):
        hit = {cell for (j, cell) in matched if j == i}
        for scenario in as_list(e["scenario"]):
            if scenario not in ran:
                continue  # not in this run (filtered out)
            label = f"{e['id']} {e['outcome'].upper()} {scenario}"
            if "cells" in e:
                for cell in (c for c in as_list(e["cells"]) if c in ran[scenario]):
                    if (scenario, cell) not in hit:
                        shown = outcome_of(report, scenario, cell)
                        if shown == e["outcome"]:
                            shown += " for another reason"
                        problems.append(f"STALE {label}[{cell}]: expected {e['outcome']}, the run shows {shown}")
                        stale += 1
            elif not any(s == scenario for (s, _) in hit):
                shown = ", ".join(sorted({outcome_of(report, scenario, c) for c in ran[scenario]}))
                problems.append(f"STALE {label}: expected {e['outcome']} in some cell, the run shows {shown}")
                stale += 1
    stats = {"expected": expected_cells, "unexpected": unexpected_cells, "stale": stale}
    return problems, stats


def outcome_of(report, scenario, cell):
    for c in report["results"]:
        if c["scenario"] == scenario and c.get("cell", "") == cell:
            return c["outcome"].lower()
    return "absent"


def parse_fuzz(text):
    """Fuzz findings of a `tokencert fuzz` console log, and whether the run finished."""
    found = []
    for line in text.splitlines():
        m = FUZZ_RE.match(line.strip())
        if m:
            st = m.group("status")
            muts = m.group("mutations") or "-"
            found.append({"oracle": m.group("oracle"), "requirement": m.group("req"),
                          "status": int(st) if st.isdigit() else None, "error": m.group("error"),
                          "mutations": [] if muts == "-" else muts.split("+"), "line": line.strip()})
    m = re.search(r"^(\d+) requests in [\d.]+ s", text, re.M)
    return found, (int(m.group(1)) if m else None)


def parse_prop(text):
    """The counterexample of a `tokencert prop` console log (or None), and a harness error (or None)."""
    found = None
    for line in text.splitlines():
        m = PROP_RE.match(line.strip())
        if m:
            found = {"message": m.group("message"), "requirement": m.group("req"), "line": line.strip()}
            break
    err = None
    if found is None and "no counterexample" not in text:
        errs = [ln for ln in text.splitlines() if ln.startswith("error:")]
        err = errs[-1] if errs else "prop did not finish (no 'no counterexample' and no counterexample)"
    return found, err


def check_fuzz(expected, profile, text, max_requests=None):
    """Fuzz findings against the expectations. When the time cap stopped the fuzzer before
    `max_requests`, its expected findings may simply not have come up: no STALE then."""
    entries = [e for e in expected["fuzz"] if applies(e, profile)]
    found, sent = parse_fuzz(text)
    done = sent is not None
    complete = done and (max_requests is None or sent >= max_requests)
    problems, hit = [], set()
    if not done:
        errs = [ln for ln in text.splitlines() if ln.startswith("error")]
        problems.append(f"FUZZ {profile}: did not finish: {one_line(errs[-1] if errs else text.strip()[-300:])}")
    for f in found:
        ok = [i for i, e in enumerate(entries)
              if e["oracle"] == f["oracle"] and f["requirement"] in as_list(e["requirement"])
              and ("status" not in e or f["status"] in as_list(e["status"]))
              and ("mutations" not in e or set(f["mutations"]) <= set(as_list(e["mutations"])))
              and ("cause" not in e or set(as_list(e["cause"])) <= set(f["mutations"]))]
        if ok:
            hit.update(ok)
        else:
            problems.append(f"UNEXPECTED FUZZ {f['oracle']}: {one_line(f['line'])}")
    if complete:
        for i, e in enumerate(entries):
            if i not in hit:
                problems.append(f"STALE {e['id']} FUZZ {e['oracle']}"
                                + (f" status {e['status']}" if "status" in e else "") + ": no longer found")
    return problems, len(found)


def check_prop(expected, profile, text):
    entries = [e for e in expected["prop"] if applies(e, profile)]
    found, err = parse_prop(text)
    problems = []
    if err:
        problems.append(f"PROP {profile}: {one_line(err)}")
    if found:
        ok = [e for e in entries if found["requirement"] in as_list(e["requirement"])
              and e["message"] in found["message"]]
        if not ok:
            problems.append(f"UNEXPECTED PROP [{found['requirement']}]: {one_line(found['message'])}")
    elif not err:
        for e in entries:
            problems.append(f"STALE {e['id']} PROP [{e['requirement']}] {e['message']}: no counterexample found")
    return problems, 1 if found else 0


def draft(expected, report):
    """TOML entries for every unexpected FAIL/WARN/INFO cell (grouped per scenario and outcome)."""
    problems, _ = check_report(expected, report)
    groups = {}
    for c in report["results"]:
        o = c["outcome"].lower()
        if o not in OUTCOMES or not any(p.startswith(f"UNEXPECTED {o.upper()} {cell_name(c)}:") for p in problems):
            continue
        g = groups.setdefault((c["scenario"], o), {"cells": [], "reqs": set(), "why": first_reason(c, DECISIVE[o])})
        g["cells"].append(c.get("cell", ""))
        g["reqs"] |= {f["requirement"] for f in c["findings"] if f.get("level") == DECISIVE[o]}
    for (scenario, o), g in groups.items():
        reqs = sorted(g["reqs"])
        print("[[finding]]")
        print('id = "TODO"')
        print(f'scenario = "{scenario}"')
        cells = [c for c in g["cells"] if c]
        if cells:
            print("cells = [" + ", ".join(f'"{c}"' for c in cells) + "]")
        print(f'outcome = "{o}"')
        print("requirement = " + (f'"{reqs[0]}"' if len(reqs) == 1 else "[" + ", ".join(f'"{r}"' for r in reqs) + "]"))
        print(f'profiles = ["{report["target"]["name"]}"]')
        print('evidence = "evidence/TODO.md"')
        print(f"why = {json.dumps('TODO ' + one_line(g['why'], 200), ensure_ascii=False)}")
        print()


def skips(report):
    """The run's skip reasons, most cells first: {reason: [cell names]}."""
    out = {}
    for c in report["results"]:
        if c["outcome"].lower() == "skip":
            out.setdefault(c.get("reason") or "(no reason recorded)", []).append(cell_name(c))
    return dict(sorted(out.items(), key=lambda kv: (-len(kv[1]), kv[0])))


def print_skips(report):
    for reason, cells in skips(report).items():
        print(f"{len(cells):4}  {reason}")
        for name in cells:
            print(f"        {name}")


COLUMNS = ["profile", "pass", "fail", "warn", "info", "skip", "error", "timeout", "expected", "unexpected",
           "stale", "prop", "fuzz", "problems", "run_s", "prop_s", "fuzz_s"]


def table(path):
    """Prints the summary table; returns the number of problems it counts."""
    rows = [ln.split("\t") for ln in read_text(path).splitlines() if ln.strip()]
    widths = [max(len(r[i]) for r in rows if i < len(r)) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(v.rjust(w) if i else v.ljust(w) for i, (v, w) in enumerate(zip(r, widths))))
    col = rows[0].index("problems")
    return sum(int(r[col]) for r in rows[1:] if len(r) > col and r[col].isdigit())


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--expected")
    ap.add_argument("--report")
    ap.add_argument("--prop")
    ap.add_argument("--fuzz")
    ap.add_argument("--fuzz-max", type=int, help="the fuzz run's --max-requests (a shorter run is not judged stale)")
    ap.add_argument("--summary")
    ap.add_argument("--times", nargs=3, default=["-", "-", "-"], metavar=("RUN_S", "PROP_S", "FUZZ_S"),
                    help="wall times for the summary line")
    ap.add_argument("--validate", action="store_true")
    ap.add_argument("--draft", action="store_true")
    ap.add_argument("--table")
    ap.add_argument("--skips", metavar="REPORT", help="print the skip reasons of a report.json, with their cells")
    a = ap.parse_args(argv)
    if a.table:
        return 1 if table(a.table) else 0
    if a.skips:
        print_skips(json.loads(read_text(a.skips)))
        return 0
    if not a.expected:
        ap.error("--expected is required")
    try:
        expected = load_expected(a.expected)
    except Invalid as e:
        print(e, file=sys.stderr)
        return 2
    if a.validate:
        print(f"{a.expected}: {len(expected['finding'])} finding(s), {len(expected['prop'])} prop, "
              f"{len(expected['fuzz'])} fuzz expectation(s): valid")
        return 0
    if not a.report:
        ap.error("--report is required")
    report = json.loads(read_text(a.report))
    if report.get("schema_version") not in SCHEMA_VERSIONS:
        print(f"{a.report}: schema_version {report.get('schema_version')}, check.py reads "
              + ", ".join(map(str, SCHEMA_VERSIONS)), file=sys.stderr)
        return 2
    if a.draft:
        draft(expected, report)
        return 0
    profile = report["target"]["name"]
    problems, stats = check_report(expected, report)
    n_prop = n_fuzz = "-"
    if a.prop:
        p, n_prop = check_prop(expected, profile, read_text(a.prop))
        problems += p
    if a.fuzz:
        p, n_fuzz = check_fuzz(expected, profile, read_text(a.fuzz), a.fuzz_max)
        problems += p
    for p in problems:
        print(f"{profile}: {p}")
    if a.summary:
        s = report["summary"]
        new = not os.path.exists(a.summary) or os.path.getsize(a.summary) == 0
        with open(a.summary, "a") as out:
            if new:
                out.write("\t".join(COLUMNS) + "\n")
            row = [profile] + [str(s.get(k, 0)) for k in ("pass", "fail", "warn", "info", "skip")]
            row += [str(s.get("error", 0) + s.get("xpass", 0)), str(s.get("timeout", 0))]
            row += [str(stats.get(k, 0)) for k in ("expected", "unexpected", "stale")]
            row += [str(n_prop), str(n_fuzz), str(len(problems))] + a.times
            out.write("\t".join(row) + "\n")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
