//! `tokencert init`: a draft target profile for a new server, from its discovery documents
//! (RFC 8414 and OpenID Connect Discovery both tried) and safe probes with a test client given
//! on the command line. Every inferred value carries a comment saying so and asking for
//! confirmation; no secret is written (the profile names the environment variables); the draft
//! is checked to validate before it is written.

mod discover;
mod draft;
mod infer;
mod probe;

use super::{EXIT_HARNESS, EXIT_OK, EXIT_USAGE};
use crate::http::BodyLimit;
use crate::http::client::HttpClient;
use crate::profile::{Env, PlaceholderEnv, ProcessEnv, Target, TargetError};
use crate::session::Session;
use crate::yaml::Source;
use draft::{BootstrapDraft, ClientDraft, Draft, Origin};
use infer::Findings;
use serde_json::Value;
use std::path::{Path, PathBuf};
use tokencert_policy::AuthMethod;
use url::Url;

#[derive(Debug, clap::Args)]
pub(super) struct InitArgs {
    /// The server's issuer URL: its discovery documents are read below it.
    issuer: Url,
    /// A test client's `client_id`; without one nothing is probed and the client is a
    /// placeholder.
    #[arg(long)]
    client_id: Option<String>,
    /// The environment variable holding the test client's secret (the secret itself is never
    /// taken on the command line nor written to the draft).
    #[arg(long, value_name = "VAR")]
    client_secret_env: Option<String>,
    /// The test client's authentication method (default: the first secret-based one the token
    /// endpoint accepts).
    #[arg(long, value_name = "METHOD", value_parser = auth_method_arg)]
    auth_method: Option<AuthMethod>,
    /// A test user, for a password-grant bootstrap (needs --password-env).
    #[arg(long, requires = "password_env")]
    username: Option<String>,
    /// The environment variable holding the test user's password.
    #[arg(long, value_name = "VAR", requires = "username")]
    password_env: Option<String>,
    /// The scope the bootstrap asks for.
    #[arg(long)]
    scope: Option<String>,
    /// The token endpoint, for a server that publishes no discovery document.
    #[arg(long)]
    token_endpoint: Option<Url>,
    /// The profile's name (default: the issuer's host).
    #[arg(long)]
    name: Option<String>,
    /// Where the draft is written.
    #[arg(long, short = 'o', default_value = "tokencert-profile.yaml")]
    out: PathBuf,
    /// Overwrite `--out` if it exists.
    #[arg(long)]
    force: bool,
    /// Accept invalid TLS certificates.
    #[arg(long)]
    insecure: bool,
    /// Per-request timeout.
    #[arg(long, default_value = "10s")]
    timeout: humantime::Duration,
}

fn auth_method_arg(v: &str) -> Result<AuthMethod, String> {
    AuthMethod::from_wire(v).ok_or_else(|| {
        format!(
            "unknown method `{v}`: {}",
            crate::diagnostic::hint_for(v, &AuthMethod::NAMES)
        )
    })
}

pub(super) async fn init(a: InitArgs) -> u8 {
    if a.out.exists() && !a.force {
        eprintln!(
            "error: {} exists; pass --force to overwrite it or --out to write elsewhere",
            a.out.display()
        );
        return EXIT_USAGE;
    }
    if a.client_secret_env.is_some() && a.client_id.is_none() {
        eprintln!("error: --client-secret-env needs --client-id");
        return EXIT_USAGE;
    }
    match draft(&a).await {
        Ok(text) => write(&a.out, &text),
        Err(e) => {
            eprint!("{e}");
            EXIT_HARNESS
        }
    }
}

/// The draft's text, or why none could be written.
async fn draft(a: &InitArgs) -> Result<String, String> {
    let http = HttpClient::new(a.timeout.into(), a.insecure, BodyLimit::DEFAULT)
        .map_err(|e| format!("error: {e}\n"))?;
    let found = discover::discover(&http, &a.issuer).await;
    let chosen = found.chosen();
    if chosen.is_none() && a.token_endpoint.is_none() {
        let tried: Vec<String> = found
            .tried
            .iter()
            .map(|(_, u, r)| format!("  {u}: {}\n", r.as_ref().err().map_or("", String::as_str)))
            .collect();
        return Err(format!(
            "error: no discovery document answered:\n{}pass --token-endpoint for a server without one\n",
            tried.concat()
        ));
    }
    let mut f = Findings::default();
    if let Some((kind, _, meta)) = chosen {
        infer::from_metadata(meta, &format!("the {} metadata", kind.name()), &mut f);
    }
    let mut d = Draft {
        name: a
            .name
            .clone()
            .or_else(|| a.issuer.host_str().map(str::to_owned))
            .unwrap_or_else(|| "my-server".into()),
        issuer: &a.issuer,
        tried: found
            .tried
            .iter()
            .map(|(k, u, r)| (*k, u.clone(), r.as_ref().map(|_| ()).map_err(Clone::clone)))
            .collect(),
        discovery: chosen.map(|(k, u, meta)| (k, u.clone(), endpoints(meta))),
        token_endpoint: a.token_endpoint.clone(),
        client: client_draft(a),
        bootstrap: match (&a.username, &a.password_env) {
            (Some(u), Some(p)) => BootstrapDraft::Password {
                username: u.clone(),
                password_env: p.clone(),
            },
            _ => BootstrapDraft::ClientCredentials,
        },
        scope: a.scope.clone(),
    };
    if a.client_id.is_some() {
        probe_all(a, &mut d, &mut f).await?;
    } else {
        f.note("nothing was probed: no --client-id was given");
    }
    for w in &f.warnings {
        eprintln!("warning: {w}");
    }
    let (preset, agree, total) = infer::closest_preset(&f);
    let text = d.render(Some((preset, agree, total, &f)));
    // The draft must validate as written (`tokencert validate`): a draft that does not is ours.
    parse(&a.out, &text, &PlaceholderEnv).map_err(|e| {
        format!("error: the draft written by init does not validate (a bug of tokencert):\n{e}")
    })?;
    Ok(text)
}

/// The client as the command line gives it (a placeholder without `--client-id`).
fn client_draft(a: &InitArgs) -> ClientDraft {
    let method = a.auth_method.unwrap_or(AuthMethod::ClientSecretBasic);
    ClientDraft {
        id: a.client_id.clone().unwrap_or_else(|| "replace-me".into()),
        id_origin: if a.client_id.is_some() {
            Origin::Given
        } else {
            Origin::Placeholder("give --client-id, or write your test client's id".into())
        },
        secret_env: a.client_secret_env.clone().or_else(|| {
            a.client_id
                .is_none()
                .then(|| "TOKENCERT_CLIENT_SECRET".into())
        }),
        auth_method: method.as_str().to_owned(),
        auth_origin: if a.auth_method.is_some() {
            Origin::Given
        } else {
            Origin::Placeholder(
                "nothing probed; the server's metadata lists what it accepts".into(),
            )
        },
    }
}

/// The probes: client authentication first (it decides the method the others use), then a
/// token family of the test client's own.
async fn probe_all(a: &InitArgs, d: &mut Draft<'_>, f: &mut Findings) -> Result<(), String> {
    let session = open(a, d).await?;
    let accepted = probe::auth_methods(&session, f).await;
    drop(session);
    if a.auth_method.is_none()
        && let Some(m) = accepted
    {
        d.client.auth_method = m.as_str().to_owned();
        d.client.auth_origin =
            Origin::Inferred("the first secret-based method the token endpoint accepted".into());
    }
    let session = open(a, d).await?;
    probe::grants(&session, f).await;
    probe::dpop(&session, f).await;
    let family = probe::Family {
        grant: d.bootstrap.grant(),
        scope: a.scope.as_deref(),
    };
    probe::family(&session, &family, f).await;
    Ok(())
}

/// A session on the draft as it stands (no policy yet), with the real environment's secrets.
async fn open(a: &InitArgs, d: &Draft<'_>) -> Result<Session, String> {
    let mut target = parse(&a.out, &d.render(None), &ProcessEnv)?;
    target.timeout = a.timeout.into();
    target.insecure = a.insecure;
    Session::new(target)
        .await
        .map_err(|e| format!("error: {e}\n"))
}

/// The draft as a profile; `Err` is the diagnostics, rendered.
fn parse(out: &Path, text: &str, env: &dyn Env) -> Result<Target, String> {
    let base = out.parent().unwrap_or(Path::new("."));
    let source = Source::new(out.display().to_string(), text.to_owned());
    match Target::parse(source, base, env) {
        Ok(t) => Ok(t),
        Err(TargetError::Invalid(diags) | TargetError::MissingSecret(diags)) => {
            Err(crate::diagnostic::render_all(&diags))
        }
    }
}

/// The endpoints the metadata names, for a comment.
fn endpoints(meta: &Value) -> Vec<(String, String)> {
    let Some(m) = meta.as_object() else {
        return Vec::new();
    };
    m.iter()
        .filter(|(k, v)| k.ends_with("_endpoint") && v.is_string())
        .map(|(k, v)| {
            (
                k.trim_end_matches("_endpoint").to_owned(),
                v.as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn write(out: &Path, text: &str) -> u8 {
    if let Some(dir) = out.parent().filter(|p| !p.as_os_str().is_empty())
        && let Err(e) = std::fs::create_dir_all(dir)
    {
        eprintln!("error: cannot create {}: {e}", dir.display());
        return EXIT_HARNESS;
    }
    if let Err(e) = std::fs::write(out, text) {
        eprintln!("error: cannot write {}: {e}", out.display());
        return EXIT_HARNESS;
    }
    let inferred = text.matches("# inferred, confirm:").count();
    eprintln!(
        "wrote {}: {inferred} inferred value(s) to confirm (each commented `inferred, confirm`)",
        out.display()
    );
    eprintln!(
        "next: tokencert validate {0}, then tokencert run --target {0}",
        out.display()
    );
    EXIT_OK
}
