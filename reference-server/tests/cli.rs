//! The binary's informational modes.

use std::process::Command;

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_reference-server"))
        .args(args)
        .output()
        .expect("run reference-server");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn list_flaws_prints_one_per_line_name_first() {
    let (code, out, _) = run(&["--list-flaws"]);
    assert_eq!(code, 0);
    assert_eq!(out.lines().count(), reference_server::Flaw::ALL.len());
    assert!(
        out.lines()
            .any(|l| l.starts_with("superseded-token-accepted "))
    );
}

#[test]
fn print_config_is_yaml_with_clients_users_and_policy() {
    let (code, out, _) = run(&[
        "--print-config",
        "--policy",
        "wso2",
        "--bind",
        "127.0.0.1:9999",
    ]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_saphyr::from_str(&out).expect("yaml");
    assert_eq!(v["issuer"], "http://127.0.0.1:9999");
    assert_eq!(v["policy"]["name"], "wso2");
    assert_eq!(v["users"][0]["username"], "alice");
    let pk = v["clients"]
        .as_array()
        .expect("clients")
        .iter()
        .find(|c| c["auth_method"] == "private_key_jwt")
        .expect("pk client");
    assert!(
        pk["private_key_pem"]
            .as_str()
            .expect("pem")
            .contains("BEGIN PRIVATE KEY")
    );
    assert_eq!(v["endpoints"]["token"], "http://127.0.0.1:9999/token");
}

#[test]
fn bad_policy_and_flaw_are_usage_errors() {
    let (code, _, err) = run(&["--policy", "nope", "--print-config"]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = run(&["--flaw", "nope"]);
    assert_ne!(code, 0);
    assert!(err.contains("unknown flaw"), "{err}");
}
