//! The catalogue against the in-process reference server (libtest-mimic, one trial each):
//!
//! - `preset/<preset>/<scenario>`: every scenario under every policy preset passes or skips with
//!   a reason; a Fail, an Error or an XPass fails the trial.
//! - `policy/<name>/<scenario>`: the same under each test policy of `tests/policies/` (choices no
//!   preset makes, shaped like real servers: what introspection observes, unrotated refresh
//!   responses without `refresh_token`).
//! - `flaw/<flaw>/<scenario>`: every flaw a scenario declares in `catches:` makes it fail (under
//!   at least one of the flaw presets): the negative controls.
//! - `flaw/<flaw>/invariant.<rule>`: every response invariant catches the flaws of
//!   [`INVARIANT_CATCHES`] on the exchanges of a scenario that does not look for them itself.
//! - `claims/<key>/<standard>`: every forbidden policy choice of `specs/claims.yaml`, played by
//!   the reference server under the rule's `example` policy with only that standard claimed, is a
//!   `policy.<key>` row, and the scenarios the rule names run and fail at its level.
//! - `prerequisite/<flaw>/<scenario>`: a scenario that is the `prerequisite_for` a client role
//!   fails under each flaw it catches, and every other cell of that client is then skipped
//!   naming it: no Error anywhere.
//! - `meta/…`: no scenario or invariant catches nothing, and every flaw is caught by some
//!   scenario or invariant.
//!
//! Every trial also judges the response invariants on the exchanges it made, and the preset's
//! claims on its policy: a clean server breaks neither.
//!
//! Each trial gets its own server (in memory, virtual clock), so a scenario that advances the
//! clock cannot expire another's tokens.

mod common;
use common::{describe, shipped_catalogue};
use libtest_mimic::{Arguments, Failed, Trial};
use reference_server::{Config, Flaw};
use std::path::PathBuf;
use std::sync::{Arc, LazyLock};
use tokencert::claims::ClaimsCatalogue;
use tokencert::invariant::Rule;
use tokencert::report::{Outcome, ScenarioResult};
use tokencert::runner::{Cell, RunOptions, Runner};
use tokencert::scenario::Catalogue;
use tokencert::session::Session;
use tokencert_policy::{PRESET_NAMES, Policy};

/// Presets a flaw is tried under, in order, until the scenario fails: the common ones first,
/// then every other preset (a flaw may only show where the policy lets the rule apply).
fn flaw_presets() -> Vec<&'static str> {
    let first = ["rfc9700", "rfc6749", "fapi2", "auth0"];
    let rest = PRESET_NAMES.iter().copied().filter(|p| !first.contains(p));
    first.into_iter().chain(rest).collect()
}

static RT: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"))
});

/// The test policies of `tests/policies/*.yaml`, by file stem.
fn test_policies() -> Vec<(String, Policy)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/policies");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|f| {
            let text =
                std::fs::read_to_string(f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            let policy =
                Policy::from_yaml(&text).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            let name = f
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            (name, policy)
        })
        .collect()
}

/// Which flaws each response invariant catches (`src/invariant`), with a scenario whose
/// exchanges show it: the invariants' counterpart of a scenario's `catches:`.
const INVARIANT_CATCHES: &[(&str, &str, &str)] = &[
    (
        "server-error",
        "500-on-malformed-body",
        "hygiene.invalid-percent-encoding",
    ),
    (
        "error-json",
        "invalid-token-wrong-status",
        "errors.unknown-refresh-token",
    ),
    (
        "error-charset",
        "error-description-echoes-input",
        "errors.unknown-refresh-token",
    ),
    (
        "error-status",
        "invalid-grant-401",
        "errors.revoked-refresh-token",
    ),
    (
        "challenge",
        "401-without-challenge",
        "client-auth.wrong-secret-non-basic",
    ),
    (
        "basic-challenge",
        "missing-www-authenticate",
        "client-auth.basic-wrong-secret-challenge",
    ),
    (
        "no-store",
        "code-grant-cacheable",
        "grants.code-pkce-s256-issues-refresh-token",
    ),
    (
        "pragma",
        "code-grant-cacheable",
        "grants.code-pkce-s256-issues-refresh-token",
    ),
    (
        "secret-echo",
        "refresh-token-echoed-in-error",
        "errors.unknown-refresh-token",
    ),
];

/// One trial's results: the scenario's own cells, and the target's rows (`policy.*`,
/// `invariant.*`) that the trial's exchanges and the server's claims gave.
struct Run {
    cells: Vec<ScenarioResult>,
    target: Vec<ScenarioResult>,
}

impl Run {
    fn all(&self) -> Vec<ScenarioResult> {
        self.cells.iter().chain(&self.target).cloned().collect()
    }
}

/// Runs one scenario's cells against a fresh server with this preset and flaws.
fn run(cat: &Arc<Catalogue>, idx: usize, preset: &str, flaws: &[Flaw]) -> Result<Run, String> {
    let policy = Policy::preset(preset).map_err(|e| e.to_string())?;
    run_policy(cat, idx, policy, flaws, None)
}

/// Runs one scenario's cells against a fresh server with this policy and flaws, claiming
/// `claims` (default: the claims of the policy's preset).
fn run_policy(
    cat: &Arc<Catalogue>,
    idx: usize,
    policy: Policy,
    flaws: &[Flaw],
    claims: Option<Vec<String>>,
) -> Result<Run, String> {
    run_cells(cat, policy, flaws, claims, |ctx| ctx.cells_of(idx))
}

/// Runs the cells `select` picks against a fresh server with this policy and flaws, claiming
/// `claims` (default: the claims of the policy's preset).
fn run_cells(
    cat: &Arc<Catalogue>,
    policy: Policy,
    flaws: &[Flaw],
    claims: Option<Vec<String>>,
    select: impl FnOnce(&Runner) -> Vec<Cell>,
) -> Result<Run, String> {
    RT.block_on(async {
        let mut config = Config::new(policy);
        config.flaws = flaws.to_vec();
        let running = reference_server::spawn(config)
            .await
            .map_err(|e| e.to_string())?;
        let mut target = tokencert::profile::embedded::target(&running)?;
        if let Some(c) = claims {
            target.claims = c;
        }
        let session = Session::new(target).await.map_err(|e| e.to_string())?;
        let ctx = Arc::new(Runner::new(
            Arc::new(session),
            Arc::clone(cat),
            "conformance".into(),
        ));
        let cells = select(&ctx);
        let results = ctx
            .run(
                cells,
                &RunOptions {
                    jobs: 2,
                    ..RunOptions::default()
                },
            )
            .await;
        let target = ctx.target_results();
        running.shutdown().await;
        Ok(Run {
            cells: results,
            target,
        })
    })
}

/// With `flaw` on, the prerequisite scenario `idx` of client `role` fails (under the first flaw
/// preset where it does), and every other cell of that client, across the catalogue, is skipped
/// naming it; nothing errors.
fn prerequisite_skips_dependents(
    cat: &Arc<Catalogue>,
    idx: usize,
    role: &str,
    flaw: &str,
) -> Result<(), Failed> {
    let flaw: Flaw = flaw.parse().map_err(|e: String| Failed::from(e))?;
    let id = &cat.scenarios[idx].id;
    let of_role = |c: &Cell| c.values.iter().any(|(k, v)| k == "client" && v == role);
    for preset in flaw_presets() {
        let policy = Policy::preset(preset).map_err(|e| e.to_string())?;
        let results = run_cells(cat, policy, &[flaw], None, |ctx| {
            let mut cells = ctx.cells_of(idx);
            for i in (0..cat.scenarios.len()).filter(|i| *i != idx) {
                cells.extend(ctx.cells_of(i).into_iter().filter(of_role));
            }
            cells
        })?
        .cells;
        let (prereq, others) = results.split_at(1);
        if prereq[0].outcome != Outcome::Fail {
            continue;
        }
        let wrong: Vec<String> = others
            .iter()
            .filter(|r| {
                r.outcome != Outcome::Skip
                    || !r.reason.as_deref().is_some_and(|why| {
                        why.starts_with(&format!(
                            "target lacks a prerequisite of the `{role}` client: {id} fails"
                        ))
                    })
            })
            .map(describe)
            .collect();
        if others.is_empty() {
            return Err(Failed::from(format!(
                "no other scenario has a `{role}` cell"
            )));
        }
        return if wrong.is_empty() {
            Ok(())
        } else {
            Err(Failed::from(format!(
                "{preset}: {id} fails, yet these `{role}` cells were not skipped naming it:\n{}",
                wrong.join("\n")
            )))
        };
    }
    Err(Failed::from(format!(
        "{id} passes under every flaw preset with {flaw:?} on"
    )))
}

/// A trial's verdict on a clean server: passes and skips only.
fn clean(results: &[ScenarioResult]) -> Result<(), Failed> {
    let bad: Vec<String> = results
        .iter()
        .filter(|r| {
            matches!(
                r.outcome,
                Outcome::Fail | Outcome::Error | Outcome::Timeout | Outcome::Xpass
            )
        })
        .map(describe)
        .collect();
    if bad.is_empty() {
        Ok(())
    } else {
        Err(Failed::from(bad.join("\n")))
    }
}

/// The scenario `id`'s index in the catalogue.
fn index_of(cat: &Catalogue, id: &str) -> Result<usize, Failed> {
    cat.scenarios
        .iter()
        .position(|s| s.id == id)
        .ok_or_else(|| Failed::from(format!("no scenario `{id}`")))
}

/// With `flaw` on, the exchanges of `witness` break invariant `rule` (under some flaw preset).
fn invariant_catches(
    cat: &Arc<Catalogue>,
    rule: &str,
    flaw: &str,
    witness: &str,
) -> Result<(), Failed> {
    let flaw: Flaw = flaw.parse().map_err(|e: String| Failed::from(e))?;
    let idx = index_of(cat, witness)?;
    let row = format!("invariant.{rule}");
    let mut seen = Vec::new();
    for preset in flaw_presets() {
        let run = run(cat, idx, preset, &[flaw])?;
        if run
            .target
            .iter()
            .any(|r| r.scenario == row && matches!(r.outcome, Outcome::Fail | Outcome::Warn))
        {
            return Ok(());
        }
        seen.extend(
            run.target
                .iter()
                .map(|r| format!("{preset}: {}", describe(r))),
        );
    }
    Err(Failed::from(format!(
        "{witness} with {flaw} on shows no {row}:\n{}",
        seen.join("\n")
    )))
}

/// Rule `i` of the claims catalogue, claimed by `standard` against its example policy: a
/// `policy.<key>` row at the rule's level, and every scenario it names runs with some cell
/// failing at that level (none skipped for the capabilities the claim decides).
fn forbidden_choice_reported(cat: &Arc<Catalogue>, i: usize, standard: &str) -> Result<(), Failed> {
    let claims = ClaimsCatalogue::builtin();
    let rule = &claims.forbidden[i];
    let level = rule.by[standard].level;
    let want = level.outcome_when_broken();
    let policy = rule.example_policy().map_err(Failed::from)?;
    let claimed = vec![standard.to_owned()];
    let row = format!("policy.{}", rule.key);
    // The row alone, from a scenario that sends nothing.
    let any = index_of(
        cat,
        rule.scenarios
            .first()
            .map_or("metadata.served-as-json", String::as_str),
    )?;
    let first = run_policy(cat, any, policy.clone(), &[], Some(claimed.clone()))?;
    if !first
        .target
        .iter()
        .any(|r| r.scenario == row && r.outcome == want)
    {
        return Err(Failed::from(format!(
            "no {row} at {want:?}; target rows: {:?}",
            first.target.iter().map(describe).collect::<Vec<_>>()
        )));
    }
    for id in &rule.scenarios {
        let idx = index_of(cat, id)?;
        let cells = run_policy(cat, idx, policy.clone(), &[], Some(claimed.clone()))?.cells;
        if !cells.iter().any(|r| r.outcome == want) {
            return Err(Failed::from(format!(
                "{id} should run and show the forbidden choice at {want:?}:\n{}",
                cells.iter().map(describe).collect::<Vec<_>>().join("\n")
            )));
        }
    }
    Ok(())
}

fn main() {
    let args = Arguments::from_args();
    let cat = shipped_catalogue();
    let mut trials = Vec::new();
    for preset in PRESET_NAMES {
        for (idx, s) in cat.scenarios.iter().enumerate() {
            let cat = Arc::clone(&cat);
            trials.push(Trial::test(
                format!("preset/{preset}/{}", s.id),
                move || clean(&run(&cat, idx, preset, &[])?.all()),
            ));
        }
    }
    for (name, policy) in test_policies() {
        for (idx, s) in cat.scenarios.iter().enumerate() {
            let cat = Arc::clone(&cat);
            let policy = policy.clone();
            trials.push(Trial::test(format!("policy/{name}/{}", s.id), move || {
                clean(&run_policy(&cat, idx, policy, &[], None)?.all())
            }));
        }
    }
    for (idx, s) in cat.scenarios.iter().enumerate() {
        for (name, _) in &s.catches {
            let cat = Arc::clone(&cat);
            let name = name.clone();
            trials.push(Trial::test(format!("flaw/{name}/{}", s.id), move || {
                let flaw: Flaw = name.parse().map_err(|e: String| Failed::from(e))?;
                let mut seen = Vec::new();
                for preset in flaw_presets() {
                    // The scenario's own cells: an invariant row would catch it for them.
                    let results = run(&cat, idx, preset, &[flaw])?.cells;
                    if results
                        .iter()
                        .any(|r| matches!(r.outcome, Outcome::Fail | Outcome::Warn | Outcome::Info))
                    {
                        return Ok(());
                    }
                    seen.extend(results.iter().map(|r| format!("{preset}: {}", describe(r))));
                }
                Err(Failed::from(format!(
                    "declares `catches: [{name}]` but passes with the flaw on:\n{}",
                    seen.join("\n")
                )))
            }));
        }
    }
    for (rule, flaw, witness) in INVARIANT_CATCHES {
        let cat = Arc::clone(&cat);
        trials.push(Trial::test(
            format!("flaw/{flaw}/invariant.{rule}"),
            move || invariant_catches(&cat, rule, flaw, witness),
        ));
    }
    let claims = ClaimsCatalogue::builtin();
    for (i, rule) in claims.forbidden.iter().enumerate() {
        for standard in rule.by.keys() {
            let cat = Arc::clone(&cat);
            trials.push(Trial::test(
                format!("claims/{}/{standard}#{i}", rule.key),
                move || forbidden_choice_reported(&cat, i, standard),
            ));
        }
    }
    trials.push(Trial::test("meta/every-invariant-catches-a-flaw", || {
        let idle: Vec<&str> = Rule::ALL
            .iter()
            .map(|r| r.id())
            .filter(|r| !INVARIANT_CATCHES.iter().any(|(c, _, _)| c == r))
            .collect();
        if idle.is_empty() {
            Ok(())
        } else {
            Err(Failed::from(format!(
                "an invariant that catches no flaw is a defect: {}",
                idle.join(", ")
            )))
        }
    }));
    for (idx, s) in cat.scenarios.iter().enumerate() {
        let Some((role, _)) = s.prerequisite_for.clone() else {
            continue;
        };
        for (name, _) in &s.catches {
            let cat = Arc::clone(&cat);
            let (name, role) = (name.clone(), role.clone());
            trials.push(Trial::test(
                format!("prerequisite/{name}/{}", s.id),
                move || prerequisite_skips_dependents(&cat, idx, &role, &name),
            ));
        }
    }
    {
        let cat = Arc::clone(&cat);
        trials.push(Trial::test("meta/every-scenario-catches-a-flaw", move || {
            let empty: Vec<&str> = cat
                .scenarios
                .iter()
                .filter(|s| s.catches.is_empty())
                .map(|s| s.id.as_str())
                .collect();
            if empty.is_empty() {
                Ok(())
            } else {
                Err(Failed::from(format!(
                    "a scenario that passes against anything is a defect; these catch no flaw: {}",
                    empty.join(", ")
                )))
            }
        }));
    }
    {
        let cat = Arc::clone(&cat);
        trials.push(Trial::test("meta/every-flaw-is-caught", move || {
            let missed: Vec<&str> = Flaw::ALL
                .iter()
                .map(|f| f.name())
                .filter(|f| {
                    !cat.scenarios
                        .iter()
                        .any(|s| s.catches.iter().any(|(c, _)| c == f))
                        && !INVARIANT_CATCHES.iter().any(|(_, c, _)| c == f)
                })
                .collect();
            if missed.is_empty() {
                Ok(())
            } else {
                Err(Failed::from(format!(
                    "no scenario or invariant catches: {}",
                    missed.join(", ")
                )))
            }
        }));
    }
    libtest_mimic::run(&args, trials).exit();
}
