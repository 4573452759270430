//! `tokencert init` against real servers: the embedded reference server (a real HTTP server on
//! loopback) under every preset that offers the password grant, and mock servers for the
//! discovery fallbacks. The draft's inferred policy must agree with the server's actual policy
//! on every key init infers, its closest preset must be the server's own, the draft must
//! validate and hold no secret, every inferred value must say so, and a run of the whole
//! catalogue with the draft must raise no false alarm.

mod common;

use common::*;
use serde_json::Value;
use std::path::Path;
use tokencert::profile::{PlaceholderEnv, Target};
use tokencert::yaml::Source;
use tokencert_policy::Policy;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SECRET_VAR: &str = "TOKENCERT_INIT_TEST_SECRET";
const PASSWORD_VAR: &str = "TOKENCERT_INIT_TEST_PASSWORD";

/// The presets under which the reference server offers the password grant, and whether the
/// whole catalogue is also run with the draft (a rotating and a non-rotating server).
const PRESETS: &[(&str, bool)] = &[
    ("rfc6749", true),
    ("wso2", false),
    ("wso2-no-renew", false),
    ("auth0", true),
    ("oracle-idcs", false),
];

/// Every policy key init infers from what it sees (the rest is left to the preset).
const INFERRED_KEYS: &[&str] = &[
    "grants.authorization_code",
    "grants.password",
    "grants.client_credentials",
    "grants.refresh_token",
    "grants.jwt_bearer",
    "grants.device_code",
    "grants.token_exchange",
    "refresh_tokens.password",
    "rotation",
    "lifetimes.access_token",
    "scope.always_echo",
    "clients.auth_methods",
    "clients.invalid_client_status",
    "pkce.plain_allowed",
    "dpop.supported",
    "introspection.access_tokens",
    "introspection.refresh_tokens",
    "pragma_no_cache",
];

fn lookup<'v>(v: &'v Value, dotted: &str) -> Option<&'v Value> {
    dotted.split('.').try_fold(v, |v, k| v.get(k))
}

fn same(a: Option<&Value>, b: Option<&Value>) -> bool {
    match (a.and_then(Value::as_array), b.and_then(Value::as_array)) {
        (Some(x), Some(y)) => x.len() == y.len() && x.iter().all(|i| y.contains(i)),
        _ => a == b,
    }
}

/// The draft as a profile, read the way `validate` reads it.
fn parse(file: &Path) -> Target {
    let text = std::fs::read_to_string(file).expect("draft");
    Target::parse(
        Source::new(file.display().to_string(), text),
        Path::new("."),
        &PlaceholderEnv,
    )
    .unwrap_or_else(|e| panic!("draft invalid: {e:?}"))
}

async fn run_blocking(
    dir: &Path,
    args: Vec<String>,
    env: Vec<(String, String)>,
) -> (i32, String, String) {
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let e: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        tokencert_env(&dir, &a, &e)
    })
    .await
    .expect("joins")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_draft_agrees_with_the_reference_server() {
    for (preset, run_catalogue) in PRESETS {
        let policy = Policy::preset(preset).expect("preset");
        let running = reference_server::spawn(reference_server::Config::new(policy))
            .await
            .expect("server");
        let d = running.description();
        // A confidential client that may use the password grant, and a test user: read from
        // the server's description, as a vendor reads them from their configuration.
        let client = d
            .clients
            .iter()
            .find(|c| {
                !c.public
                    && c.auth_method == "client_secret_basic"
                    && c.grants.iter().any(|g| g == "password")
            })
            .expect("a confidential client with the password grant");
        let secret = client.secret.clone().expect("a secret");
        let user = d.users.first().expect("a test user");
        let dir = tempfile::tempdir().expect("tempdir");
        let draft = dir.path().join("draft.yaml");
        let args: Vec<String> = [
            "init",
            &running.base_url(),
            "--client-id",
            &client.id,
            "--client-secret-env",
            SECRET_VAR,
            "--username",
            &user.username,
            "--password-env",
            PASSWORD_VAR,
            "--scope",
            &client.scope,
            "--out",
            "draft.yaml",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        let env = vec![
            (SECRET_VAR.to_owned(), secret.clone()),
            (PASSWORD_VAR.to_owned(), user.password.clone()),
        ];
        let (code, out, err) = run_blocking(dir.path(), args, env.clone()).await;
        assert_eq!(code, 0, "{preset}: {out}{err}");
        let text = std::fs::read_to_string(&draft).expect("draft written");
        for (name, s) in [("draft", &text), ("stdout", &out), ("stderr", &err)] {
            assert!(
                !s.contains(&secret),
                "{preset}: the client secret is in the {name}"
            );
            assert!(
                !s.contains(&user.password),
                "{preset}: the password is in the {name}"
            );
        }
        assert!(
            text.contains(&format!("secret: {{ env: {SECRET_VAR} }}")),
            "{text}"
        );
        // Every value under `policy:` says it was inferred and must be confirmed.
        let policy_lines: Vec<&str> = text
            .lines()
            .skip_while(|l| *l != "policy:")
            .skip(1)
            .filter(|l| !l.trim_start().starts_with('#') && !l.trim_end().ends_with(':'))
            .collect();
        assert!(policy_lines.len() >= INFERRED_KEYS.len(), "{text}");
        for l in &policy_lines {
            assert!(
                l.contains("  # inferred, confirm: "),
                "{preset}: `{l}` is not marked"
            );
        }
        // The draft validates, and agrees with the server on every key init infers.
        let (code, out, err) = run_blocking(
            dir.path(),
            vec!["validate".into(), "draft.yaml".into()],
            Vec::new(),
        )
        .await;
        assert_eq!(code, 0, "{preset}: {out}{err}");
        let drafted = serde_json::to_value(&parse(&draft).policy).expect("json");
        let actual = serde_json::to_value(&d.policy).expect("json");
        for key in INFERRED_KEYS {
            assert!(
                same(lookup(&drafted, key), lookup(&actual, key)),
                "{preset}: {key} drafted {:?}, the server has {:?}\n{text}",
                lookup(&drafted, key),
                lookup(&actual, key)
            );
        }
        if drafted["rotation"] == "never" {
            // Whether an unrotated refresh returns the token or leaves it out.
            assert_eq!(
                drafted["unrotated_refresh_token"], actual["unrotated_refresh_token"],
                "{preset}"
            );
        }
        assert_eq!(
            drafted["name"], *preset,
            "the closest preset is the server's own"
        );
        if *run_catalogue {
            let args = ["run", "--target", "draft.yaml", "--report-dir", "out", "-q"]
                .iter()
                .map(|s| (*s).to_owned())
                .collect();
            let (code, out, err) = run_blocking(dir.path(), args, env).await;
            assert_eq!(code, 0, "{preset}: a run with the draft: {out}{err}");
            let report: Value = serde_json::from_str(
                &std::fs::read_to_string(dir.path().join("out/report.json")).expect("report"),
            )
            .expect("json");
            let s = &report["summary"];
            assert_eq!(
                (&s["fail"], &s["error"], &s["warn"]),
                (&Value::from(0), &Value::from(0), &Value::from(0)),
                "{preset}: {s}"
            );
            assert!(s["pass"].as_u64().unwrap_or(0) > 20, "{preset}: {s}");
        }
        running.shutdown().await;
    }
}

fn metadata(base: &str) -> Value {
    serde_json::json!({
        "issuer": base,
        "token_endpoint": format!("{base}/token"),
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic"],
    })
}

/// Only OpenID Connect Discovery answers: init uses it and says what RFC 8414's URL answered.
/// Neither answers: init stops (exit 3) naming both URLs, unless `--token-endpoint` is given.
/// An existing file is not overwritten without `--force`; a secret variable that is not set
/// stops the probes (exit 3) naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_falls_back_and_the_command_line_is_checked() {
    let oidc = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/.well-known/openid-configuration"))
        .respond_with(ResponseTemplate::new(200).set_body_json(metadata(&oidc.uri())))
        .mount(&oidc)
        .await;
    let none = MockServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let args = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();

    let (code, out, err) = run_blocking(
        d,
        args(&["init", &oidc.uri(), "-o", "oidc.yaml"]),
        Vec::new(),
    )
    .await;
    assert_eq!(code, 0, "{out}{err}");
    let text = std::fs::read_to_string(d.join("oidc.yaml")).expect("draft");
    assert!(
        text.contains(&format!(
            "discovery: {}/.well-known/openid-configuration  # inferred, confirm:",
            oidc.uri()
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "# discovery (RFC 8414): {}/.well-known/oauth-authorization-server: status 404",
            oidc.uri()
        )),
        "{text}"
    );
    assert!(text.contains("grants:\n    authorization_code: true  # inferred, confirm: grant_types_supported in the OpenID Connect Discovery metadata lists it"), "{text}");
    assert!(
        text.contains("# placeholder:"),
        "no client given: a placeholder {text}"
    );
    let (code, _, err) = run_blocking(d, args(&["validate", "oidc.yaml"]), Vec::new()).await;
    assert_eq!(code, 0, "{err}");
    // Not overwritten without --force.
    let (code, _, err) = run_blocking(
        d,
        args(&["init", &oidc.uri(), "-o", "oidc.yaml"]),
        Vec::new(),
    )
    .await;
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("--force"), "{err}");

    let (code, _, err) = run_blocking(
        d,
        args(&["init", &none.uri(), "-o", "none.yaml"]),
        Vec::new(),
    )
    .await;
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("/.well-known/oauth-authorization-server: status 404")
            && err.contains("/.well-known/openid-configuration: status 404")
            && err.contains("--token-endpoint"),
        "{err}"
    );
    assert!(!d.join("none.yaml").exists());
    let token = format!("{}/token", none.uri());
    let (code, _, err) = run_blocking(
        d,
        args(&[
            "init",
            &none.uri(),
            "--token-endpoint",
            &token,
            "-o",
            "none.yaml",
        ]),
        Vec::new(),
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let t = parse(&d.join("none.yaml"));
    assert_eq!(t.endpoints["token"].as_str(), token);

    let (code, _, err) = run_blocking(
        d,
        args(&[
            "init",
            &oidc.uri(),
            "--client-id",
            "c1",
            "--client-secret-env",
            "TOKENCERT_INIT_UNSET",
            "-o",
            "unset.yaml",
        ]),
        Vec::new(),
    )
    .await;
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("TOKENCERT_INIT_UNSET") && err.contains("is not set"),
        "{err}"
    );
}
