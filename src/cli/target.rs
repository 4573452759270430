//! The one setup of "a target profile or the embedded reference server" that `run`, `fuzz` and
//! `prop` share: flags, the profile loader, the embedded server, the loopback guard, and the
//! session with the target.

use super::{EXIT_HARNESS, EXIT_INVALID, EXIT_USAGE};
use crate::diagnostic::Diagnostic;
use crate::embedded::{Flaw, Running};
use crate::profile::{ProcessEnv, Target, TargetError, deviations};
use crate::scenario::Catalogue;
use crate::session::Session;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Where the target is: a profile, or the embedded reference server with a policy and flaws.
#[derive(Debug, clap::Args)]
pub(super) struct TargetArgs {
    /// Target profile (YAML). Without it, tokencert uses its embedded reference server.
    #[arg(long, short = 't', env = "TOKENCERT_TARGET")]
    pub target: Option<PathBuf>,
    /// Policy of the embedded reference server (a preset name or a policy file); without
    /// --target. Default: rfc9700, or the preset where the given --flaw shows (prop: a random
    /// policy within the presets' space per case).
    #[arg(long, value_parser = policy_arg)]
    pub policy: Option<String>,
    /// Switch on a deliberate flaw in the embedded reference server (repeatable); without --target.
    #[arg(long = "flaw", value_name = "NAME", value_parser = flaw_arg)]
    pub flaws: Vec<Flaw>,
    /// Accept invalid TLS certificates (never for a real certification run).
    #[arg(long)]
    pub insecure: bool,
    /// Largest response body read from the target, e.g. `4MiB`, `512KiB` or a byte count; a
    /// larger or endless body is an error for that request, never read whole (prop: --target
    /// only, the embedded server's per-case answers are trusted).
    #[arg(long, value_name = "SIZE", default_value_t = crate::http::BodyLimit::DEFAULT)]
    pub max_response_bytes: crate::http::BodyLimit,
}

/// `--policy`: a preset name or a policy file. Anything else is a usage error (exit 1) with a
/// did-you-mean, before a server is started.
fn policy_arg(value: &str) -> Result<String, String> {
    let presets = tokencert_policy::PRESET_NAMES;
    if presets.contains(&value) || Path::new(value).is_file() {
        return Ok(value.to_owned());
    }
    let looks_like_file =
        value.contains(['/', '\\']) || value.ends_with(".yaml") || value.ends_with(".yml");
    Err(
        match crate::diagnostic::did_you_mean(value, presets.iter().copied()) {
            Some(near) if !looks_like_file => {
                format!("unknown policy preset `{value}`: did you mean `{near}`?")
            }
            _ if looks_like_file => format!("no policy file `{value}`"),
            _ => format!(
                "`{value}` is neither a policy preset ({}) nor a policy file",
                presets.join(", ")
            ),
        },
    )
}

/// `--flaw`: a flaw of the embedded server, with a did-you-mean (`tokencert serve --list-flaws`
/// lists them with what each breaks).
fn flaw_arg(value: &str) -> Result<Flaw, String> {
    value.parse::<Flaw>().map_err(|_| {
        let names = crate::embedded::flaw_names();
        let hint = match crate::diagnostic::did_you_mean(value, names.iter().copied()) {
            Some(near) => format!("did you mean `{near}`?"),
            None => "`tokencert serve --list-flaws` lists them".to_owned(),
        };
        format!("unknown flaw `{value}`: {hint}")
    })
}

/// What a command adds to the shared setup.
#[derive(Default)]
pub(super) struct SetupOptions<'a> {
    /// Per-request timeout instead of the profile's.
    pub timeout: Option<Duration>,
    /// Other flags that only make sense with the embedded server, by name.
    pub embedded_only: &'a [(&'a str, bool)],
    /// Refuse a target off loopback (unless `allow_remote`), saying why.
    pub loopback_only: Option<&'a str>,
    /// `--allow-remote` was given.
    pub allow_remote: bool,
    /// Without --target, leave the embedded server to the command (prop starts one per case).
    pub defer_embedded: bool,
    /// The scenarios a profile's deviations must name (none: not checked).
    pub scenarios: &'a [&'a Catalogue],
    /// Print nothing but errors (`--quiet`).
    pub quiet: bool,
}

/// The target a command plays against.
pub(super) struct Opened {
    /// The session with the target (`None`: the embedded server was left to the command).
    pub session: Option<Arc<Session>>,
    /// The embedded server, kept running while the session is used.
    running: Option<Running>,
}

impl Opened {
    /// Stops the embedded server, if one was started.
    pub async fn close(self) {
        drop(self.session);
        if let Some(r) = self.running {
            r.shutdown().await;
        }
    }
}

/// Why the setup stopped before anything was run: the exit code, the stage (a short name for
/// reports), and what to tell the user (already redacted: it holds no secret value).
#[derive(Debug)]
pub(super) struct Stop {
    /// The exit code.
    pub code: u8,
    /// `usage`, `profile`, `secrets`, `embedded-server`, `discovery` or `preflight`.
    pub stage: &'static str,
    /// The file the reason is about, if one is.
    pub file: Option<String>,
    /// What went wrong, as printed on the console.
    pub message: String,
    /// The same, for a report: diagnostics as `file:line:col: message` without the quoted
    /// source line, since a profile's line may hold an inline secret.
    pub summary: String,
}

impl Stop {
    fn new(code: u8, stage: &'static str, message: impl Into<String>) -> Stop {
        let message = message.into();
        Stop {
            code,
            stage,
            file: None,
            summary: message.clone(),
            message: format!("error: {message}\n"),
        }
    }

    /// A stop on diagnostics, closed by `then`; its file is theirs when they share one.
    pub fn diagnostics(code: u8, stage: &'static str, diags: &[Diagnostic], then: &str) -> Stop {
        let file = diags.first().map(|d| d.path.clone());
        let file = file.filter(|f| diags.iter().all(|d| d.path == *f));
        let summary: Vec<String> = diags
            .iter()
            .map(|d| match &d.label {
                Some(l) => format!("{}: {} ({l})", d.location(), d.message),
                None => format!("{}: {}", d.location(), d.message),
            })
            .collect();
        Stop {
            code,
            stage,
            file,
            message: format!("{}{then}\n", crate::diagnostic::render_all(diags)),
            summary: format!("{then}:\n{}", summary.join("\n")),
        }
    }

    /// Prints the reason on stderr; the exit code.
    pub fn print(&self) -> u8 {
        eprint!("{}", self.message);
        self.code
    }
}

/// Opens the target the flags name, after checking it can be reached; `Err` says why not
/// (nothing printed yet).
pub(super) async fn open(a: &TargetArgs, o: &SetupOptions<'_>) -> Result<Opened, Stop> {
    let (target, running) = match &a.target {
        Some(path) => {
            refuse_embedded_flags(a, o.embedded_only)?;
            (load_target(path, o.scenarios)?, None)
        }
        None if o.defer_embedded => {
            return Ok(Opened {
                session: None,
                running: None,
            });
        }
        None => {
            let (running, target) = start_embedded(a.policy.as_deref(), &a.flaws, o.quiet).await?;
            (target, Some(running))
        }
    };
    let mut target = target;
    if a.insecure {
        target.insecure = true;
    }
    if let Some(t) = o.timeout {
        target.timeout = t;
    }
    target.max_response = a.max_response_bytes;
    let session = match prepare(target, o).await {
        Ok(s) => s,
        Err(stop) => {
            if let Some(r) = running {
                r.shutdown().await;
            }
            return Err(stop);
        }
    };
    Ok(Opened {
        session: Some(Arc::new(session)),
        running,
    })
}

/// The loopback guard, the session (with discovery), and the reachability check.
async fn prepare(target: Target, o: &SetupOptions<'_>) -> Result<Session, Stop> {
    if let Some(why) = o.loopback_only {
        refuse_remote(&target, o.allow_remote, why)?;
    }
    let session = Session::new(target)
        .await
        .map_err(|e| Stop::new(EXIT_HARNESS, "discovery", e.to_string()))?;
    let t = &session.target;
    let url = t.endpoints.get("token").unwrap_or(&t.base_url);
    crate::session::preflight::reachable(url, t.timeout)
        .await
        .map_err(|e| Stop::new(EXIT_HARNESS, "preflight", e))?;
    Ok(session)
}

/// --flaw, --policy (and the command's own embedded-only flags) with --target are an error.
fn refuse_embedded_flags(a: &TargetArgs, more: &[(&str, bool)]) -> Result<(), Stop> {
    let mut given: Vec<&str> = Vec::new();
    if !a.flaws.is_empty() {
        given.push("--flaw");
    }
    if a.policy.is_some() {
        given.push("--policy");
    }
    given.extend(more.iter().filter(|(_, set)| *set).map(|(name, _)| *name));
    if given.is_empty() {
        return Ok(());
    }
    Err(Stop::new(
        EXIT_USAGE,
        "usage",
        format!(
            "{} apply to the embedded reference server only (drop --target)",
            given.join(", ")
        ),
    ))
}

#[cfg(feature = "embedded-server")]
/// The embedded server's policy: the one asked for, else the preset where every given flaw is
/// observable (some need the password grant, a grace window…), else rfc9700.
fn embedded_policy(asked: Option<&str>, flaws: &[Flaw]) -> String {
    if let Some(p) = asked {
        return p.to_owned();
    }
    let hints: Vec<&str> = flaws.iter().filter_map(|f| f.showcase_preset()).collect();
    match hints.as_slice() {
        [first, rest @ ..] if rest.iter().all(|h| h == first) => (*first).to_owned(),
        _ => "rfc9700".to_owned(),
    }
}

/// Loads a target profile; `Err` says why it cannot be used. Its deviations must name
/// scenarios of `scenarios` (when given). Every missing secret is listed, each at its place.
fn load_target(path: &Path, scenarios: &[&Catalogue]) -> Result<Target, Stop> {
    let invalid = |diags: &[Diagnostic]| {
        Stop::diagnostics(
            EXIT_INVALID,
            "profile",
            diags,
            "the target profile is invalid",
        )
    };
    match Target::load(path, &ProcessEnv) {
        Ok(t) => {
            let wrong = if scenarios.is_empty() {
                Vec::new()
            } else {
                deviations::check(&t, scenarios)
            };
            if wrong.is_empty() {
                Ok(t)
            } else {
                Err(invalid(&wrong))
            }
        }
        Err(TargetError::Invalid(diags)) => Err(invalid(&diags)),
        Err(TargetError::MissingSecret(missing)) => Err(Stop::diagnostics(
            EXIT_HARNESS,
            "secrets",
            &missing,
            &format!(
                "{} value(s) the profile reads from the environment are missing",
                missing.len()
            ),
        )),
    }
}

/// Starts the embedded reference server; `Err` says why it did not.
#[cfg(feature = "embedded-server")]
async fn start_embedded(
    policy: Option<&str>,
    flaws: &[Flaw],
    quiet: bool,
) -> Result<(Running, Target), Stop> {
    use crate::profile::embedded::StartError;
    let policy = embedded_policy(policy, flaws);
    let running = crate::profile::embedded::start(&policy, flaws)
        .await
        .map_err(|e| match e {
            StartError::Policy(_) => Stop::new(EXIT_INVALID, "policy", e.to_string()),
            StartError::Server(_) => Stop::new(EXIT_HARNESS, "embedded-server", e.to_string()),
        })?;
    let target = match crate::profile::embedded::target(&running) {
        Ok(t) => t,
        Err(e) => {
            running.shutdown().await;
            return Err(Stop::new(EXIT_HARNESS, "embedded-server", e));
        }
    };
    if !quiet {
        eprintln!(
            "target: embedded reference server at {} (policy {}{})",
            running.base_url(),
            target.policy.name,
            if target.flaws.is_empty() {
                String::new()
            } else {
                format!(", flaws: {}", target.flaws.join(", "))
            }
        );
    }
    Ok((running, target))
}

/// Without the embedded server, every run that needs one is a usage error.
#[cfg(not(feature = "embedded-server"))]
async fn start_embedded(_: Option<&str>, _: &[Flaw], _: bool) -> Result<(Running, Target), Stop> {
    Err(Stop::new(EXIT_USAGE, "usage", crate::embedded::ABSENT))
}

/// Refuses a target whose token endpoint is not on loopback unless `allowed`: load and fuzz
/// loops belong on servers the user owns.
fn refuse_remote(target: &Target, allowed: bool, why: &str) -> Result<(), Stop> {
    let url = target.endpoints.get("token").unwrap_or(&target.base_url);
    if allowed || crate::blackbox::is_loopback(url) {
        return Ok(());
    }
    Err(Stop::new(
        EXIT_USAGE,
        "usage",
        format!(
            "{url} is not a loopback address; {why}. Pass --allow-remote if you own this server."
        ),
    ))
}
