//! Harness benchmarks (`cargo bench --bench harness`):
//! 1. load and validate 1,000 scenario files;
//! 2. the runner's overhead per request against a local wiremock server: the median time of a
//!    request step through the runner minus the median of the same request sent with the bare
//!    HTTP client.
//!
//! Bounded: fixed counts, loopback only. Numbers are printed, never asserted.

use std::sync::Arc;
use std::time::{Duration, Instant};
use tokencert::http::PreparedRequest;
use tokencert::http::client::HttpClient;
use tokencert::profile::{ProcessEnv, Target};
use tokencert::runner::{RunOptions, Runner};
use tokencert::scenario::{LoadOptions, load_paths};
use tokencert::session::Session;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

const SCENARIO: &str = "id: bench.s{N}
title: refresh answers with a rotated token and no-store
requirements:
  - { id: RFC9700-4.14.2.d, level: MUST }
  - { id: RFC6749-5.1.d, level: MUST }
requires: [refresh.rotation]
matrix: { client: [confidential, public] }
steps:
  - bootstrap:
    capture:
      rt0: { json: $.refresh_token, secret: true }
  - request:
      endpoint: token
      client_auth: '{{ matrix.client }}'
      form: { grant_type: refresh_token, refresh_token: '{{ rt0 }}' }
    expect:
      status: 200
      headers: { cache-control: { contains: no-store, requirement: RFC6749-5.1.d } }
      json:
        $.access_token: { type: string }
        $.token_type: { equals_ci: bearer }
        $.refresh_token: { not_equals: '{{ rt0 }}' }
    capture:
      rt1: { json: $.refresh_token, secret: true }
  - request:
      endpoint: token
      client_auth: '{{ matrix.client }}'
      form: { grant_type: refresh_token, refresh_token: '{{ rt0 }}' }
    expect:
      status: 400
      json: { $.error: invalid_grant }
";

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn bench_load() {
    let dir = tempfile::tempdir().expect("tempdir");
    for i in 0..1000 {
        let sub = dir.path().join(format!("area{}", i % 10));
        std::fs::create_dir_all(&sub).expect("mkdir");
        std::fs::write(
            sub.join(format!("s{i}.yaml")),
            SCENARIO.replace("{N}", &i.to_string()),
        )
        .expect("write");
    }
    let mut times = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let (cat, diags) = load_paths(&[dir.path().to_path_buf()], &LoadOptions::default());
        times.push(t.elapsed());
        assert_eq!(cat.scenarios.len(), 1000);
        assert!(diags.is_empty(), "{}", diags[0].render());
    }
    println!(
        "load+validate 1000 scenarios: median {:.1} ms (5 runs, min {:.1} ms)",
        median(times.clone()).as_secs_f64() * 1e3,
        times
            .iter()
            .min()
            .copied()
            .unwrap_or_default()
            .as_secs_f64()
            * 1e3
    );
}

async fn bench_overhead() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"access_token": "a", "token_type": "Bearer", "refresh_token": "r2"}))
                .insert_header("cache-control", "no-store"),
        )
        .mount(&server)
        .await;
    let n = 300;
    // Bare client: the same POST, n times.
    let http = HttpClient::new(
        Duration::from_secs(5),
        false,
        tokencert::http::BodyLimit::DEFAULT,
    )
    .expect("client");
    let req = PreparedRequest {
        method: "POST".into(),
        url: url::Url::parse(&format!("{}/token", server.uri())).expect("url"),
        headers: vec![(
            "content-type".into(),
            "application/x-www-form-urlencoded".into(),
        )],
        body: b"grant_type=refresh_token&refresh_token=r1".to_vec(),
    };
    let mut bare = Vec::new();
    for _ in 0..n {
        let t = Instant::now();
        http.send(&req, None).await.expect("send");
        bare.push(t.elapsed());
    }
    // Through the runner: one scenario with one request step and four assertions, n cells.
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("specs")).expect("mkdir");
    std::fs::write(
        dir.path().join("specs/one.yaml"),
        "id: one\ntitle: t\nrequirements: [{ id: RFC6749-6.a, level: MUST }]\nsteps:\n  - request:\n      endpoint: token\n      client_auth: confidential\n      form: { grant_type: refresh_token, refresh_token: r1 }\n    expect:\n      status: 200\n      headers: { cache-control: { contains: no-store } }\n      json: { $.token_type: { equals_ci: bearer }, $.refresh_token: { not_equals: r1 } }\n",
    )
    .expect("write");
    std::fs::write(
        dir.path().join("target.yaml"),
        format!("name: b\nbase_url: {}\nendpoints: {{ token: /token }}\nclients:\n  confidential: {{ id: c, secret: s3cret-value, auth_method: client_secret_basic }}\nbootstrap: {{ grant: password, username: u, password: p4ssword }}\npolicy: rfc9700\n", server.uri()),
    )
    .expect("write");
    let (cat, _) = load_paths(&[dir.path().join("specs")], &LoadOptions::default());
    let target = Target::load(&dir.path().join("target.yaml"), &ProcessEnv)
        .map_err(|e| format!("{e:?}"))
        .expect("target");
    let session = Session::new(target).await.expect("session");
    let ctx = Arc::new(Runner::new(
        Arc::new(session),
        Arc::new(cat),
        "bench".into(),
    ));
    let cells = ctx.plan(&[]);
    let opts = RunOptions {
        jobs: 1,
        ..RunOptions::default()
    };
    let mut through = Vec::new();
    for _ in 0..n {
        let t = Instant::now();
        let r = ctx.run(cells.clone(), &opts).await;
        through.push(t.elapsed());
        assert_eq!(r[0].outcome, tokencert::report::Outcome::Pass);
    }
    let (b, r) = (median(bare), median(through));
    println!(
        "request via bare client: median {:.0} µs; via runner (render, auth, 4 assertions, redaction): median {:.0} µs; overhead {:.0} µs per request ({n} each)",
        b.as_secs_f64() * 1e6,
        r.as_secs_f64() * 1e6,
        (r.as_secs_f64() - b.as_secs_f64()) * 1e6
    );
}

fn main() {
    bench_load();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(bench_overhead());
}
