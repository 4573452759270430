//! The command line, shared by the `reference-server` binary and `tokencert serve`.

use crate::config::{Config, Description};
use crate::error::ServerError;
use crate::flaw::Flaw;
use crate::limits::ConnectionLimits;
use crate::policy::{PRESET_NAMES, Policy, PolicyError};
use crate::server::spawn;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::str::FromStr;
use std::time::Duration;

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
    /// Time allowed for a request head to arrive (from the connection's first byte), and again
    /// for its body (`500ms`, `10s`).
    #[arg(long, value_name = "DURATION", default_value = "10s")]
    pub header_read_timeout: DurationArg,
    /// Time a keep-alive connection may sit idle between requests.
    #[arg(long, value_name = "DURATION", default_value = "60s")]
    pub idle_timeout: DurationArg,
    /// Connections served at once; when full, the one waiting longest for a request is dropped.
    #[arg(long, value_name = "N", default_value_t = ConnectionLimits::DEFAULT_MAX_CONNECTIONS,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub max_connections: usize,
    /// Requests served on one connection before it is closed (`Connection: close`).
    #[arg(long, value_name = "N",
          default_value_t = ConnectionLimits::DEFAULT_MAX_REQUESTS_PER_CONNECTION,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_requests_per_connection: u32,
}

impl ServeArgs {
    /// The connection limits these flags ask for.
    pub fn limits(&self) -> ConnectionLimits {
        ConnectionLimits {
            header_read_timeout: self.header_read_timeout.0,
            idle_timeout: self.idle_timeout.0,
            max_connections: self.max_connections,
            max_requests_per_connection: self.max_requests_per_connection,
        }
    }
}

/// A non-zero duration on the command line: whole `ms` or `s` (a bare number is seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DurationArg(pub Duration);

impl FromStr for DurationArg {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let (digits, unit) = if let Some(d) = s.strip_suffix("ms") {
            (d, Duration::from_millis(1))
        } else if let Some(d) = s.strip_suffix('s') {
            (d, Duration::from_secs(1))
        } else {
            (s, Duration::from_secs(1))
        };
        let n: u32 = digits
            .trim()
            .parse()
            .map_err(|_| format!("{s:?} is not a duration like 500ms or 10s"))?;
        if n == 0 {
            return Err("a duration must be greater than zero".into());
        }
        Ok(Self(unit * n))
    }
}

impl std::fmt::Display for DurationArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.subsec_millis() == 0 {
            write!(f, "{}s", self.0.as_secs())
        } else {
            write!(f, "{}ms", self.0.as_millis())
        }
    }
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
    let limits = args.limits();
    let config = Config {
        policy,
        flaws: args.flaws,
        db: args.db,
        test_control: args.test_control,
        bind: args.bind,
        limits,
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
    fn limit_flags_default_to_the_library_defaults_and_parse_units() {
        use clap::Parser;
        let args = ServeArgs::try_parse_from(["reference-server"]).expect("defaults");
        assert_eq!(args.limits(), ConnectionLimits::default());
        let args = ServeArgs::try_parse_from([
            "reference-server",
            "--header-read-timeout",
            "250ms",
            "--idle-timeout",
            "3",
            "--max-connections",
            "7",
            "--max-requests-per-connection",
            "2",
        ])
        .expect("flags");
        let l = args.limits();
        assert_eq!(l.header_read_timeout, Duration::from_millis(250));
        assert_eq!(l.idle_timeout, Duration::from_secs(3));
        assert_eq!((l.max_connections, l.max_requests_per_connection), (7, 2));
        for bad in ["0s", "x", "-1s", "1.5s"] {
            assert!(bad.parse::<DurationArg>().is_err(), "{bad}");
        }
        assert!(ServeArgs::try_parse_from(["reference-server", "--max-connections", "0"]).is_err());
        assert_eq!(
            DurationArg(Duration::from_millis(1500)).to_string(),
            "1500ms"
        );
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
