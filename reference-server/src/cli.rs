//! The command line, shared by the `reference-server` binary and `tokencert serve`.

use crate::config::{Config, Description};
use crate::error::ServerError;
use crate::flaw::Flaw;
use crate::policy::{PRESET_NAMES, Policy, PolicyError};
use crate::server::spawn;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Run tokcert's reference OAuth 2.0 authorization server.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "reference-server", version, about)]
pub struct ServeArgs {
    /// Policy: a preset name (rfc6749, rfc9700, rfc9700-grace, oauth21, oauth21-strict, fapi2,
    /// wso2, wso2-no-renew, auth0, oracle-idcs) or a YAML file (`preset: NAME` plus overrides).
    #[arg(long, value_name = "FILE|PRESET", default_value = "rfc9700")]
    pub policy: String,
    /// Address to listen on (loopback by default; port 0 picks a free port).
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    /// Keep tokens in this SQLite file (hashed) instead of memory.
    #[arg(long, value_name = "FILE")]
    pub db: Option<PathBuf>,
    /// Inject a deliberate bug (repeatable; see --list-flaws).
    #[arg(long = "flaw", value_name = "NAME")]
    pub flaws: Vec<Flaw>,
    /// Print the effective configuration (policy, clients with secrets and keys, users) as YAML
    /// and exit.
    #[arg(long)]
    pub print_config: bool,
    /// List the injectable flaws, one per line: name, then what it breaks.
    #[arg(long)]
    pub list_flaws: bool,
    /// Enable test control: virtual clock (/test/clock), deterministic tokens.
    #[arg(long)]
    pub test_control: bool,
}

/// A policy from a preset name or a YAML file.
pub fn load_policy(spec: &str) -> Result<Policy, ServerError> {
    let path = Path::new(spec);
    if PRESET_NAMES.contains(&spec) || !path.exists() {
        if !PRESET_NAMES.contains(&spec) && (spec.ends_with(".yaml") || spec.ends_with(".yml")) {
            return Err(ServerError::Io {
                path: path.to_owned(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
            });
        }
        return Ok(Policy::preset(spec)?);
    }
    let text = std::fs::read_to_string(path).map_err(|source| ServerError::Io {
        path: path.to_owned(),
        source,
    })?;
    Policy::from_yaml(&text).map_err(|e| match e {
        PolicyError::Invalid(m) => {
            ServerError::Policy(PolicyError::Invalid(format!("{spec}: {m}")))
        }
        other => ServerError::Policy(other),
    })
}

/// The flaw listing: one line per flaw, name first.
pub fn flaw_listing() -> String {
    let width = Flaw::ALL.iter().map(|f| f.name().len()).max().unwrap_or(0);
    Flaw::ALL
        .iter()
        .map(|f| format!("{:width$}  {}\n", f.name(), f.description()))
        .collect()
}

/// Runs the server until Ctrl-C or SIGTERM. Exit codes: 0 fine, 2 bad configuration, 3 the
/// server could not start.
pub async fn serve(args: ServeArgs) -> ExitCode {
    if args.list_flaws {
        print!("{}", flaw_listing());
        return ExitCode::SUCCESS;
    }
    let policy = match load_policy(&args.policy) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let config = Config {
        policy,
        flaws: args.flaws,
        db: args.db,
        test_control: args.test_control,
        bind: args.bind,
    };
    if args.print_config {
        let clients = match crate::state::demo_registry() {
            Ok(c) => c,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(3);
            }
        };
        print!(
            "{}",
            Description::new(&config, &format!("http://{}", config.bind), &clients).to_yaml()
        );
        return ExitCode::SUCCESS;
    }
    if !config.bind.ip().is_loopback() {
        eprintln!(
            "warning: listening on {} (not loopback); this is a test server",
            config.bind
        );
    }
    if !config.flaws.is_empty() {
        let names: Vec<&str> = config.flaws.iter().map(|f| f.name()).collect();
        eprintln!("warning: deliberately flawed server: {}", names.join(", "));
    }
    let running = match spawn(config).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(3);
        }
    };
    // One machine-readable line on stdout, so wrappers can learn the port.
    println!("reference-server listening on {}", running.base_url());
    let _ = std::io::stdout().flush();
    wait_for_signal().await;
    running.shutdown().await;
    ExitCode::SUCCESS
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_and_files_load() {
        assert_eq!(load_policy("wso2").expect("preset").name, "wso2");
        assert!(load_policy("nope").is_err());
        assert!(load_policy("missing.yaml").is_err());
        let dir = tempfile::tempdir().expect("dir");
        let f = dir.path().join("p.yaml");
        std::fs::write(
            &f,
            "preset: rfc9700\ngrace: { seconds: 5, max_reuses: 1 }\n",
        )
        .expect("write");
        let p = load_policy(f.to_str().expect("utf8")).expect("file");
        assert_eq!(p.grace.seconds, 5);
    }

    #[test]
    fn flaw_listing_has_one_line_per_flaw_name_first() {
        let l = flaw_listing();
        assert_eq!(l.lines().count(), Flaw::ALL.len());
        for (line, f) in l.lines().zip(Flaw::ALL) {
            assert!(line.starts_with(f.name()));
        }
    }
}
