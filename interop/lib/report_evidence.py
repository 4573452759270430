#!/usr/bin/env python3
"""Writes the (already redacted) HTTP exchanges of one cell of a tokencert report.json as a
markdown transcript, for evidence/ files whose finding needs a race or a long setup that a
single curl cannot show.

  report_evidence.py REPORT 'scenario[cell]' [STEP_ID] > evidence/x.md
"""
import json
import sys


def main():
    path, want = sys.argv[1], sys.argv[2]
    step_id = sys.argv[3] if len(sys.argv) > 3 else None
    r = json.load(open(path))
    for c in r["results"]:
        name = c["scenario"] + (f"[{c['cell']}]" if c["cell"] else "")
        if name != want:
            continue
        print(f"# {name}: {c['outcome']}\n")
        print(f"tokencert {r['tool']['version']} against `{r['target']['name']}` ({r['started_at']}); "
              "tokens and secrets were redacted by tokencert.\n")
        for f in c["findings"][:6]:
            print(f"- {f['level']} {f['requirement']} at `{f['step']}`: {f['subject']} expected {f['expected']}, observed {f['observed']}")
        print()
        for s in c["steps"]:
            if step_id and s.get("id") != step_id:
                continue
            for i, e in enumerate(s.get("exchanges", [])):
                q, p = e["request"], e.get("response") or {}
                print(f"## step `{s.get('id')}` exchange {i + 1}\n\n```http")
                print(f"{q['method']} {q['url']}")
                for k, v in q["headers"]:
                    print(f"{k}: {v}")
                if q.get("body"):
                    print(f"\n{q['body']}")
                print(f"\n--> {p.get('status')}")
                for k, v in p.get("headers", []):
                    if k.lower() not in ("date", "etag", "connection", "keep-alive"):
                        print(f"{k}: {v}")
                if p.get("body"):
                    print(f"\n{p['body']}")
                print("```\n")
        return
    sys.exit(f"no cell {want} in {path}")


if __name__ == "__main__":
    main()
