#!/usr/bin/env python3
"""Unit tests of check.py on small report fixtures:  python3 -m unittest discover -s interop/lib"""
import io
import json
import os
import tempfile
import textwrap
import unittest
from contextlib import redirect_stdout, redirect_stderr

import check

EXPECTED = """\
profiles = ["srv-a", "srv-b"]

[[finding]]
id = "X1"
scenario = "errors.unknown"
cells = ["client=public"]
outcome = "fail"
requirement = ["R-5.2.a", "R-5.2.b"]
evidence = "evidence/x1.md"
why = "errors without a JSON body"

[[finding]]
id = "X2"
scenario = "errors.cache"
outcome = "warn"
requirement = "R-5.1.d"
profiles = ["srv-a"]
source = "lib/handler.js:42@v1.0.0"
why = "no no-store on errors"

[[prop]]
id = "X3"
requirement = "R-9700"
message = "more than one refresh won"
profiles = ["srv-a"]
source = "lib/refresh.js:7@v1.0.0"
why = "no lock"

[[fuzz]]
id = "X4"
oracle = "malformed-error"
status = 400
mutations = ["method-GET", "unknown-param"]
requirement = "R-5.2.b"
evidence = "evidence/x1.md"
why = "empty error bodies"
"""


def finding(req, level="MUST", step="s1"):
    return {"requirement": req, "level": level, "step": step, "subject": "status",
            "expected": "equals 400", "observed": "500"}


def cell(scenario, outcome, cell="", findings=(), reason=None):
    c = {"scenario": scenario, "cell": cell, "outcome": outcome, "findings": list(findings), "steps": []}
    if reason:
        c["reason"] = reason
    return c


def report(profile, results):
    return {"schema_version": 1, "target": {"name": profile}, "summary": {"pass": 1}, "results": results}


class Base(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        os.makedirs(os.path.join(self.dir.name, "evidence"))
        self.write("# x1\n", os.path.join("evidence", "x1.md"))
        self.path = self.write(EXPECTED)
        self.expected = check.load_expected(self.path)

    def tearDown(self):
        self.dir.cleanup()

    def write(self, text, name="expected-findings.toml"):
        p = os.path.join(self.dir.name, name)
        with open(p, "w") as f:
            f.write(text)
        return p

    def good(self, profile="srv-a"):
        """A run that shows exactly the expected findings of srv-a."""
        return report(profile, [
            cell("errors.unknown", "fail", "client=public", [finding("R-5.2.a"), finding("R-5.2.b")]),
            cell("errors.unknown", "pass", "client=confidential"),
            cell("errors.cache", "warn", "client=public", [finding("R-5.1.d", "SHOULD")]),
            cell("errors.cache", "pass", "client=confidential"),
            cell("caps.dpop", "skip", reason="target lacks dpop"),
        ])


class ReportTests(Base):
    def test_expected_run_has_no_problem(self):
        problems, stats = check.check_report(self.expected, self.good())
        self.assertEqual(problems, [])
        self.assertEqual(stats, {"expected": 2, "unexpected": 0, "stale": 0})

    def test_error_cell_is_a_problem(self):
        r = self.good()
        r["results"].append(cell("grants.code", "error", "client=public", reason="setup step 1: 302"))
        problems, _ = check.check_report(self.expected, r)
        self.assertEqual(problems, ["ERROR grants.code[client=public]: setup step 1: 302"])

    def test_timeout_is_a_problem(self):
        r = self.good()
        r["results"].append(cell("races.x", "timeout", reason="3 of 20 requests got no answer within 17.6 s"))
        self.assertEqual(check.check_report(self.expected, r)[0],
                         ["TIMEOUT races.x: 3 of 20 requests got no answer within 17.6 s"])

    def test_xpass_is_a_problem(self):
        r = self.good()
        r["results"].append(cell("x.y", "xpass", reason="known deviation passed"))
        self.assertEqual(check.check_report(self.expected, r)[0], ["XPASS x.y: known deviation passed"])

    def test_unexpected_fail_names_first_must_finding(self):
        r = self.good()
        r["results"].append(cell("hygiene.dup", "fail", "client=public",
                                 [finding("R-3.1", "SHOULD"), finding("R-3.2", step="dup")]))
        problems, stats = check.check_report(self.expected, r)
        self.assertEqual(len(problems), 1)
        self.assertTrue(problems[0].startswith("UNEXPECTED FAIL hygiene.dup[client=public]: [R-3.2 MUST] step dup:"),
                        problems[0])
        self.assertEqual(stats["unexpected"], 1)

    def test_other_cell_of_an_expected_scenario_is_unexpected(self):
        r = self.good()
        r["results"][1] = cell("errors.unknown", "fail", "client=confidential", [finding("R-5.2.a")])
        problems, _ = check.check_report(self.expected, r)
        self.assertEqual([p.split(":")[0] for p in problems], ["UNEXPECTED FAIL errors.unknown[client=confidential]"])

    def test_other_outcome_is_unexpected_and_expected_one_stale(self):
        r = self.good()
        r["results"][2] = cell("errors.cache", "fail", "client=public", [finding("R-5.1.d")])
        problems, _ = check.check_report(self.expected, r)
        self.assertEqual([p.split(":")[0] for p in problems],
                         ["UNEXPECTED FAIL errors.cache[client=public]", "STALE X2 WARN errors.cache"])

    def test_requirement_not_listed_is_unexpected(self):
        r = self.good()
        r["results"][0]["findings"].append(finding("R-2.3.1", step="auth"))
        problems, _ = check.check_report(self.expected, r)
        self.assertEqual(len(problems), 2, problems)
        self.assertIn("breaks R-2.3.1 (expected only R-5.2.a, R-5.2.b)", problems[0])
        self.assertTrue(problems[1].startswith("STALE X1 FAIL errors.unknown[client=public]"))

    def test_lower_level_findings_do_not_count(self):
        r = self.good()
        r["results"][0]["findings"].append(finding("R-other", "SHOULD"))
        self.assertEqual(check.check_report(self.expected, r)[0], [])

    def test_fixed_deviation_is_stale(self):
        r = self.good()
        r["results"][0] = cell("errors.unknown", "pass", "client=public")
        problems, stats = check.check_report(self.expected, r)
        self.assertEqual(problems, ["STALE X1 FAIL errors.unknown[client=public]: expected fail, the run shows pass"])
        self.assertEqual(stats["stale"], 1)

    def test_filtered_out_scenario_is_not_stale(self):
        r = self.good()
        r["results"] = [c for c in r["results"] if c["scenario"] != "errors.cache"]
        self.assertEqual(check.check_report(self.expected, r)[0], [])

    def test_profiles_restrict_entries(self):
        # X2 is for srv-a only: on srv-b the same warning is unexpected.
        problems, _ = check.check_report(self.expected, self.good("srv-b"))
        self.assertEqual([p.split(":")[0] for p in problems], ["UNEXPECTED WARN errors.cache[client=public]"])

    def test_unknown_profile(self):
        problems, _ = check.check_report(self.expected, self.good("srv-c"))
        self.assertEqual(len(problems), 1)
        self.assertIn("srv-c", problems[0])

    def test_error_is_a_problem_even_where_a_finding_is_expected(self):
        # errors.unknown[client=public] is an expected FAIL; erroring instead is not a finding,
        # and leaves the expected FAIL stale.
        r = self.good()
        r["results"][0] = cell("errors.unknown", "error", "client=public",
                               reason="setup step `obtain-tokens` did not get the expected answer")
        problems, stats = check.check_report(self.expected, r)
        self.assertEqual([p.split(":")[0] for p in problems],
                         ["ERROR errors.unknown[client=public]", "STALE X1 FAIL errors.unknown[client=public]"])
        self.assertEqual(stats["unexpected"], 1)

    def test_skips_lists_reasons_with_their_cells(self):
        r = self.good()
        r["results"] += [cell("refresh.ok", "skip", "client=special",
                              reason="target lacks a prerequisite of the `special` client: a.b fails"),
                         cell("caps.dpop2", "skip", reason="target lacks dpop")]
        self.assertEqual(check.skips(r), {
            "target lacks dpop": ["caps.dpop", "caps.dpop2"],
            "target lacks a prerequisite of the `special` client: a.b fails": ["refresh.ok[client=special]"],
        })

    def test_scenario_list(self):
        extra = textwrap.dedent("""
            [[finding]]
            id = "X5"
            scenario = ["a.one", "a.two"]
            outcome = "fail"
            requirement = "R-1"
            evidence = "evidence/x1.md"
            why = "w"
            """)
        expected = check.load_expected(self.write(EXPECTED + extra))
        r = self.good()
        r["results"] += [cell("a.one", "fail", "c=1", [finding("R-1")]), cell("a.two", "pass", "c=1")]
        self.assertEqual(check.check_report(expected, r)[0], ["STALE X5 FAIL a.two: expected fail in some cell, the run shows pass"])
        r["results"][-1] = cell("a.two", "fail", "c=1", [finding("R-1")])
        self.assertEqual(check.check_report(expected, r)[0], [])

    def test_draft_prints_an_entry_per_unexpected_scenario(self):
        r = self.good()
        r["results"] += [cell("hygiene.dup", "fail", "client=public", [finding("R-3.2")]),
                         cell("hygiene.dup", "fail", "client=confidential", [finding("R-3.2")])]
        out = io.StringIO()
        with redirect_stdout(out):
            check.draft(self.expected, r)
        text = out.getvalue()
        self.assertEqual(text.count("[[finding]]"), 1, text)
        self.assertIn('scenario = "hygiene.dup"', text)
        self.assertIn('cells = ["client=public", "client=confidential"]', text)
        self.assertIn('why = "TODO [R-3.2 MUST]', text)

    def test_xfail_counts_as_fail(self):
        r = self.good()
        r["results"][0]["outcome"] = "xfail"
        self.assertEqual(check.check_report(self.expected, r)[0], [])


class PropFuzzTests(Base):
    FUZZ_OK = textwrap.dedent("""\
        fuzzing http://127.0.0.1:1/token (seed 1, at most 60s or 2000 requests)
        FINDING malformed-error (R-5.2.b): the error is not RFC 6749 §5.2 JSON — status 400, error -, mutations method-GET, 12 hit(s), reproducer out/a.yaml
        FINDING malformed-error (R-5.2.b): the error is not RFC 6749 §5.2 JSON — status 400, error -, mutations method-GET+unknown-param, 3 hit(s)
        2000 requests in 30.0 s (66 req/s): 2 finding(s), 1 reproducer(s) in out
        """)

    def test_expected_fuzz_findings(self):
        self.assertEqual(check.check_fuzz(self.expected, "srv-a", self.FUZZ_OK), ([], 2))

    def test_unexpected_fuzz_finding(self):
        for old, new in (("status 400, error -, mutations method-GET+", "status 500, error -, mutations method-GET+"),
                         ("mutations method-GET+unknown-param", "mutations method-GET+wrong-secret")):
            problems, _ = check.check_fuzz(self.expected, "srv-a", self.FUZZ_OK.replace(old, new))
            self.assertEqual(len(problems), 1, problems)
            self.assertTrue(problems[0].startswith("UNEXPECTED FUZZ malformed-error: FINDING malformed-error"))

    def test_fuzz_cause_is_among_the_mutations(self):
        exp = {"fuzz": [{"id": "X9", "oracle": "error-json", "requirement": "R-5.2.a",
                         "cause": "content-type-multipart/form-data", "why": "w", "source": "s"}],
               "finding": [], "prop": []}
        line = ("FINDING error-json (R-5.2.a): not JSON — status 400, error -, mutations "
                "content-type-multipart/form-data+long-grant_type, 3 hit(s), reproducer out/e.yaml\n"
                "2000 requests in 30.0 s (66 req/s): 1 finding(s), 1 reproducer(s) in out\n")
        self.assertEqual(check.check_fuzz(exp, "srv-a", line), ([], 1))
        self.assertEqual(check.check_fuzz(exp, "srv-a", line.replace("long-grant_type", "body-credentials-long")), ([], 1))
        other = line.replace("content-type-multipart/form-data+", "content-type-text/plain+")
        problems, _ = check.check_fuzz(exp, "srv-a", other)
        self.assertEqual(len(problems), 2, problems)  # unexpected, and X9 stale
        self.assertTrue(problems[0].startswith("UNEXPECTED FUZZ error-json"), problems)

    def test_stale_fuzz_expectation(self):
        text = "2000 requests in 30.0 s (66 req/s): 0 finding(s), 0 reproducer(s) in out\n"
        self.assertEqual(check.check_fuzz(self.expected, "srv-a", text)[0],
                         ["STALE X4 FUZZ malformed-error status 400: no longer found"])

    def test_fuzz_cut_by_time_is_not_stale(self):
        text = "700 requests in 60.0 s (11 req/s): 0 finding(s), 0 reproducer(s) in out\n"
        self.assertEqual(check.check_fuzz(self.expected, "srv-a", text, 1500)[0], [])
        self.assertEqual(len(check.check_fuzz(self.expected, "srv-a", text, 700)[0]), 1)

    def test_unfinished_fuzz(self):
        problems, _ = check.check_fuzz(self.expected, "srv-a", "error: discovery failed: 404\n")
        self.assertEqual(problems, ["FUZZ srv-a: did not finish: error: discovery failed: 404"])

    def test_expected_counterexample(self):
        text = ("prop: 20 cases (seed 1) against srv-a\n"
                "counterexample (policy srv-a with overrides {a: [b]}): more than one refresh won: 3 of 4 [R-9700]\n"
                "  0. start a family (Confidential client)\n")
        self.assertEqual(check.check_prop(self.expected, "srv-a", text), ([], 1))
        problems, _ = check.check_prop(self.expected, "srv-b", text)
        self.assertEqual(problems, ["UNEXPECTED PROP [R-9700]: more than one refresh won: 3 of 4"])

    def test_stale_counterexample_and_harness_error(self):
        self.assertEqual(check.check_prop(self.expected, "srv-a", "no counterexample\n")[0],
                         ["STALE X3 PROP [R-9700] more than one refresh won: no counterexample found"])
        self.assertEqual(check.check_prop(self.expected, "srv-b", "no counterexample\n")[0], [])
        self.assertEqual(check.check_prop(self.expected, "srv-b", "error: introspection answered 401\n")[0],
                         ["PROP srv-b: error: introspection answered 401"])


class ValidationTests(Base):
    def invalid(self, text):
        with self.assertRaises(check.Invalid) as cm:
            check.load_expected(self.write(text, "bad.toml"))
        return str(cm.exception)

    def test_unknown_key_names_the_line(self):
        msg = self.invalid('profiles = ["a"]\n\n[[finding]]\nid = "1"\nscenario = "s"\noutcom = "fail"\n'
                           'outcome = "fail"\nrequirement = "R"\nsource = "a.c:1@v1"\nwhy = "w"\n')
        self.assertIn("bad.toml:3: [[finding]] #1: unknown key `outcom`", msg)

    def test_missing_evidence_and_bad_source(self):
        msg = self.invalid('profiles = ["a"]\n[[finding]]\nid = "1"\nscenario = "s"\noutcome = "fail"\n'
                           'requirement = "R"\nevidence = "evidence/none.md"\nsource = "a.c@v1"\nwhy = "w"\n')
        self.assertIn("evidence file `evidence/none.md` does not exist", msg)
        self.assertIn("source `a.c@v1` is not path:line@version", msg)

    def test_todo_why_and_bad_outcome_and_profile(self):
        msg = self.invalid('profiles = ["a"]\n[[finding]]\nid = "1"\nscenario = "s"\noutcome = "pass"\n'
                           'requirement = "R"\nsource = "a.c:1@v1"\nprofiles = ["b"]\nwhy = "TODO"\n')
        self.assertIn("`why` is still TODO", msg)
        self.assertIn("outcome must be one of fail, warn, info, not `pass`", msg)
        self.assertIn("profile `b` is not one of ['a']", msg)

    def test_error_entry_is_refused(self):
        msg = self.invalid('profiles = ["a"]\n[[finding]]\nid = "1"\nscenario = "s"\noutcome = "error"\n'
                           'requirement = "R"\nsource = "a.c:1@v1"\nwhy = "w"\n'
                           '[[finding]]\nid = "2"\nscenario = "s"\noutcome = "fail"\ncaused_by = "1"\n'
                           'requirement = "R"\nsource = "a.c:1@v1"\nwhy = "w"\n')
        self.assertIn("bad.toml:2: [[finding]] #1: an ERROR is never an expected finding", msg)
        self.assertIn("bad.toml:9: [[finding]] #2: unknown key `caused_by`", msg)

    def test_toml_syntax_error_has_a_line(self):
        self.assertIn("line 2", self.invalid('profiles = ["a"]\n[[finding]\n'))

    def test_cli_exit_codes(self):
        rpath = os.path.join(self.dir.name, "report.json")
        self.write(json.dumps(self.good()), "report.json")
        out = io.StringIO()
        with redirect_stdout(out):
            self.assertEqual(check.main(["--expected", self.path, "--report", rpath]), 0)
        r = self.good()
        r["results"].append(cell("a.b", "error", reason="boom"))
        self.write(json.dumps(r), "report.json")
        summary = os.path.join(self.dir.name, "summary.tsv")
        with redirect_stdout(out):
            self.assertEqual(check.main(["--expected", self.path, "--report", rpath,
                                         "--summary", summary, "--times", "1.5", "-", "2"]), 1)
        self.assertIn("srv-a: ERROR a.b: boom", out.getvalue())
        lines = check.read_text(summary).splitlines()
        self.assertEqual(lines[0].split("\t")[0], "profile")
        self.assertEqual(lines[1].split("\t")[-4:], ["1", "1.5", "-", "2"])
        bad = self.write("profiles = 3\n", "bad.toml")
        with redirect_stderr(io.StringIO()):
            self.assertEqual(check.main(["--expected", bad, "--validate"]), 2)


if __name__ == "__main__":
    unittest.main()
