//! Revocation, introspection, device flow, JWT grants, token exchange, DPoP, assertion-based
//! client authentication, test control, and refresh concurrency, over HTTP on loopback.

mod common;

use common::*;
use reference_server::Flaw;
use reference_server::client_auth::JWT_BEARER_ASSERTION_TYPE;
use reference_server::keys::{DPOP_DEMO_PEM, TRUSTED_ISSUER, TRUSTED_ISSUER_PEM};
use std::sync::Arc;

const OTHER_PEM: &str = reference_server::keys::ISSUER_SIGNING_PEM;

#[tokio::test]
async fn revocation_cascades_per_policy() {
    let s = start("base", &[]).await;
    let secret = s.secret("confidential-basic");
    let auth = Auth::Basic("confidential-basic", &secret);
    let t = s.password("api:read").await;
    // Another client's revocation is a silent no-op.
    let c2 = s.secret("confidential-basic-2");
    let r = s
        .post(
            "/revoke",
            Auth::Basic("confidential-basic-2", &c2),
            &[("token", &t.rt())],
            &[],
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(s.introspect(&t.rt()).await["active"], true);
    // A wrong hint does not prevent revocation.
    let r = s
        .post(
            "/revoke",
            auth,
            &[("token", &t.rt()), ("token_type_hint", "access_token")],
            &[],
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(s.refresh(auth, &t.rt()).await.err(), "invalid_grant");
    assert_eq!(s.introspect(&t.at()).await["active"], false);
    assert_eq!(
        s.post("/revoke", auth, &[("token", "garbage")], &[])
            .await
            .status,
        200
    );
    // Flawed: the access token survives.
    let f = start("base", &[Flaw::NoRevocationCascade]).await;
    let fs = f.secret("confidential-basic");
    let t = f.password("api:read").await;
    f.post(
        "/revoke",
        Auth::Basic("confidential-basic", &fs),
        &[("token", &t.rt())],
        &[],
    )
    .await;
    assert_eq!(f.introspect(&t.at()).await["active"], true);
}

#[tokio::test]
async fn introspection_requires_a_confidential_client() {
    let s = start("base", &[]).await;
    let t = s.password("api:read").await;
    let r = s
        .post(
            "/introspect",
            Auth::Id("public-1"),
            &[("token", &t.at())],
            &[],
        )
        .await;
    assert_eq!((r.status, r.err()), (401, "invalid_client"));
    let r = s
        .post("/introspect", Auth::None, &[("token", &t.at())], &[])
        .await;
    assert_eq!(r.status, 401);
    let v = s.introspect(&t.at()).await;
    assert_eq!(v["active"], true);
    assert_eq!(v["client_id"], "confidential-basic");
    assert_eq!(v["sub"], "alice");
    assert_eq!(
        s.introspect("nope").await,
        serde_json::json!({"active": false})
    );
}

#[tokio::test]
async fn introspection_reports_what_the_policy_lets_it_see() {
    let policy = |yaml: &str| reference_server::policy::Policy::from_yaml(yaml).expect("policy");
    // Access tokens only (django-oidc-provider).
    let s = start_with(policy("introspection: { refresh_tokens: false }\n"), &[]).await;
    let t = s.password("api:read").await;
    assert_eq!(
        s.introspect(&t.rt()).await,
        serde_json::json!({"active": false})
    );
    assert_eq!(s.introspect(&t.at()).await["active"], true);
    // Only the token's own client learns about it (Glewlwyd); public clients cannot ask.
    let s = start_with(policy("introspection: { callers: owner }\n"), &[]).await;
    let t = s.password("api:read").await;
    assert_eq!(
        s.introspect(&t.rt()).await["active"],
        false,
        "another client"
    );
    let own = s.secret("confidential-basic");
    let r = s
        .post(
            "/introspect",
            Auth::Basic("confidential-basic", &own),
            &[("token", &t.rt())],
            &[],
        )
        .await;
    assert_eq!(r.json["active"], true, "the owner");
    // Public clients' tokens hidden from every caller.
    let s = start_with(policy("introspection: { public_clients: false }\n"), &[]).await;
    let p = s.public_tokens("public-1", "api:read").await;
    assert_eq!(s.introspect(&p.at()).await["active"], false);
    assert_eq!(s.introspect(&p.rt()).await["active"], false);
    let t = s.password("api:read").await;
    assert_eq!(s.introspect(&t.rt()).await["active"], true);
}

#[tokio::test]
async fn virtual_clock_expires_tokens() {
    let s = start("rfc9700", &[]).await;
    let t = s.public_tokens("public-1", "api:read").await;
    let c = s.get("/test/clock").await;
    assert_eq!(c.json["offset"], 0);
    s.advance(601).await;
    assert_eq!(s.introspect(&t.at()).await["active"], false);
    s.advance(14 * 86_400).await;
    let r = s.refresh(Auth::Id("public-1"), &t.rt()).await;
    assert_eq!(r.err(), "invalid_grant");
    // Without test control the endpoints do not exist.
    let mut cfg = reference_server::Config::new(
        reference_server::policy::Policy::preset("rfc9700").expect("p"),
    );
    cfg.test_control = false;
    let plain = reference_server::spawn(cfg).await.expect("spawn");
    let r = reqwest::get(format!("{}/test/clock", plain.base_url()))
        .await
        .expect("get");
    assert_eq!(r.status().as_u16(), 404);
    assert!(plain.description().endpoints.test_clock.is_none());
}

#[tokio::test]
async fn device_flow() {
    let s = start("base", &[]).await;
    let d = s
        .post(
            "/device_authorization",
            Auth::Id("public-1"),
            &[("scope", "api:read")],
            &[],
        )
        .await;
    assert_eq!(d.status, 200, "{}", d.text);
    let device_code = d.json["device_code"].as_str().expect("dc").to_owned();
    let user_code = d.json["user_code"].as_str().expect("uc").to_owned();
    let poll_pairs = [
        ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
        ("device_code", device_code.as_str()),
    ];
    let poll = || s.post("/token", Auth::Id("public-1"), &poll_pairs, &[]);
    assert_eq!(poll().await.err(), "authorization_pending");
    assert_eq!(poll().await.err(), "slow_down");
    let bad = s
        .post(
            "/device/approve",
            Auth::None,
            &[
                ("user_code", &user_code),
                ("username", "alice"),
                ("password", "x"),
            ],
            &[],
        )
        .await;
    assert_eq!(bad.err(), "access_denied");
    let ok = s
        .post(
            "/device/approve",
            Auth::None,
            &[
                ("user_code", &user_code),
                ("username", "alice"),
                ("password", "alice-password"),
            ],
            &[],
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    let t = poll().await;
    assert_eq!(t.status, 200, "{}", t.text);
    assert!(t.json["refresh_token"].is_string());
    assert_eq!(poll().await.err(), "invalid_grant");
    // Denied and expired.
    let d = s
        .post("/device_authorization", Auth::Id("public-1"), &[], &[])
        .await;
    let uc = d.json["user_code"].as_str().expect("uc").to_owned();
    let dc = d.json["device_code"].as_str().expect("dc").to_owned();
    s.post(
        "/device/approve",
        Auth::None,
        &[
            ("user_code", &uc),
            ("username", "bob"),
            ("password", "bob-password"),
            ("action", "deny"),
        ],
        &[],
    )
    .await;
    let grant = [
        ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
        ("device_code", dc.as_str()),
    ];
    assert_eq!(
        s.post("/token", Auth::Id("public-1"), &grant, &[])
            .await
            .err(),
        "access_denied"
    );
    s.advance(601).await;
    assert_eq!(
        s.post("/token", Auth::Id("public-1"), &grant, &[])
            .await
            .err(),
        "expired_token"
    );
}

#[tokio::test]
async fn jwt_bearer_and_token_exchange() {
    let s = start("base", &[]).await;
    let secret = s.secret("confidential-basic");
    let auth = Auth::Basic("confidential-basic", &secret);
    let assertion = sign_es256(
        TRUSTED_ISSUER_PEM,
        None,
        false,
        &serde_json::json!({"iss": TRUSTED_ISSUER, "sub": "bob", "aud": s.running.base_url(), "exp": now() + 60, "jti": jti()}),
    );
    let grant = [
        ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
        ("assertion", assertion.as_str()),
    ];
    let r = s.post("/token", auth, &grant, &[]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.json["refresh_token"].is_string());
    assert_eq!(
        s.post("/token", auth, &grant, &[]).await.err(),
        "invalid_grant"
    );
    // Exchange the access token; a refresh token only when asked for.
    let at = r.at();
    let x = [
        (
            "grant_type",
            "urn:ietf:params:oauth:grant-type:token-exchange",
        ),
        ("subject_token", at.as_str()),
        (
            "subject_token_type",
            "urn:ietf:params:oauth:token-type:access_token",
        ),
    ];
    let e = s.post("/token", auth, &x, &[]).await;
    assert_eq!(e.status, 200, "{}", e.text);
    assert_eq!(
        e.json["issued_token_type"],
        "urn:ietf:params:oauth:token-type:access_token"
    );
    assert!(e.json.get("refresh_token").is_none());
    let mut with_rt = x.to_vec();
    with_rt.push((
        "requested_token_type",
        "urn:ietf:params:oauth:token-type:refresh_token",
    ));
    let e = s.post("/token", auth, &with_rt, &[]).await;
    assert!(e.json["refresh_token"].is_string(), "{}", e.text);
    let bad = [
        (
            "grant_type",
            "urn:ietf:params:oauth:grant-type:token-exchange",
        ),
        ("subject_token", "nope"),
        (
            "subject_token_type",
            "urn:ietf:params:oauth:token-type:refresh_token",
        ),
    ];
    assert_eq!(
        s.post("/token", auth, &bad, &[]).await.err(),
        "invalid_request"
    );
}

#[tokio::test]
async fn private_key_jwt_and_replay() {
    let s = start("base", &[]).await;
    let a = s.client_assertion(&s.url("/token"));
    let pairs = [
        ("grant_type", "client_credentials"),
        ("client_assertion_type", JWT_BEARER_ASSERTION_TYPE),
        ("client_assertion", a.as_str()),
    ];
    let r = s.post("/token", Auth::None, &pairs, &[]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let replay = s.post("/token", Auth::None, &pairs, &[]).await;
    assert_eq!(replay.err(), "invalid_client");
    // Issuer as audience is also accepted; a foreign audience is not.
    let a = s.client_assertion(&s.running.base_url());
    let ok = s
        .post(
            "/token",
            Auth::None,
            &[
                ("grant_type", "client_credentials"),
                ("client_assertion_type", JWT_BEARER_ASSERTION_TYPE),
                ("client_assertion", &a),
            ],
            &[],
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    let a = s.client_assertion("https://evil.example");
    let bad = s
        .post(
            "/token",
            Auth::None,
            &[
                ("grant_type", "client_credentials"),
                ("client_assertion_type", JWT_BEARER_ASSERTION_TYPE),
                ("client_assertion", &a),
            ],
            &[],
        )
        .await;
    assert_eq!(bad.err(), "invalid_client");
}

#[tokio::test]
async fn client_secret_jwt() {
    let s = start("base", &[]).await;
    let id = "confidential-secret-jwt";
    let key = jsonwebtoken::EncodingKey::from_secret(s.secret(id).as_bytes());
    let claims = serde_json::json!({"iss": id, "sub": id, "aud": s.url("/token"), "exp": now() + 60, "jti": jti()});
    let a = jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &key).expect("sign");
    let r = s
        .post(
            "/token",
            Auth::None,
            &[
                ("grant_type", "client_credentials"),
                ("client_assertion_type", JWT_BEARER_ASSERTION_TYPE),
                ("client_assertion", &a),
            ],
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

#[tokio::test]
async fn dpop_binds_public_refresh_tokens() {
    let s = start("rfc9700", &[]).await;
    let code = s.code("public-dpop", "api:read").await;
    let t = s
        .post(
            "/token",
            Auth::Id("public-dpop"),
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", reference_server::config::REDIRECT_URI),
                ("code_verifier", VERIFIER),
            ],
            &[("dpop", s.dpop(DPOP_DEMO_PEM, None))],
        )
        .await;
    assert_eq!(t.status, 200, "{}", t.text);
    assert_eq!(t.json["token_type"], "DPoP");
    let rt = t.rt();
    let refresh = |proof: Option<String>| {
        let extra: Vec<(&str, String)> = proof.into_iter().map(|p| ("dpop", p)).collect();
        let rt = rt.clone();
        let s = &s;
        async move {
            s.post(
                "/token",
                Auth::Id("public-dpop"),
                &[("grant_type", "refresh_token"), ("refresh_token", &rt)],
                &extra,
            )
            .await
        }
    };
    assert_eq!(refresh(None).await.err(), "invalid_dpop_proof");
    assert_eq!(
        refresh(Some(s.dpop(OTHER_PEM, None))).await.err(),
        "invalid_dpop_proof"
    );
    let ok = refresh(Some(s.dpop(DPOP_DEMO_PEM, None))).await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    // A replayed proof is refused.
    let proof = s.dpop(DPOP_DEMO_PEM, None);
    let t2 = ok.rt();
    let first = s
        .post(
            "/token",
            Auth::Id("public-dpop"),
            &[("grant_type", "refresh_token"), ("refresh_token", &t2)],
            &[("dpop", proof.clone())],
        )
        .await;
    assert_eq!(first.status, 200);
    let again = s
        .post(
            "/token",
            Auth::Id("public-dpop"),
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &first.rt()),
            ],
            &[("dpop", proof)],
        )
        .await;
    assert_eq!(again.err(), "invalid_dpop_proof");
}

#[tokio::test]
async fn dpop_nonce_when_required() {
    let s = start("fapi2", &[]).await;
    let a = s.client_assertion(&s.url("/token"));
    let pairs = [
        ("grant_type", "client_credentials"),
        ("client_assertion_type", JWT_BEARER_ASSERTION_TYPE),
        ("client_assertion", a.as_str()),
    ];
    let r = s
        .post(
            "/token",
            Auth::None,
            &pairs,
            &[("dpop", s.dpop(DPOP_DEMO_PEM, None))],
        )
        .await;
    assert_eq!(r.err(), "use_dpop_nonce");
    let nonce = r.header("dpop-nonce").expect("nonce").to_owned();
    let a = s.client_assertion(&s.url("/token"));
    let pairs = [
        ("grant_type", "client_credentials"),
        ("client_assertion_type", JWT_BEARER_ASSERTION_TYPE),
        ("client_assertion", a.as_str()),
    ];
    let r = s
        .post(
            "/token",
            Auth::None,
            &pairs,
            &[("dpop", s.dpop(DPOP_DEMO_PEM, Some(&nonce)))],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["token_type"], "DPoP");
    assert!(r.header("pragma").is_none(), "fapi2 drops Pragma");
}

async fn race(s: &Arc<Srv>, rt: &str, n: usize) -> Vec<(u16, String)> {
    let secret = s.secret("confidential-basic");
    let mut tasks = Vec::new();
    for _ in 0..n {
        let (s, rt, secret) = (s.clone(), rt.to_owned(), secret.clone());
        tasks.push(tokio::spawn(async move {
            let r = s
                .refresh(Auth::Basic("confidential-basic", &secret), &rt)
                .await;
            (r.status, r.err().to_owned())
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.expect("task"));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_refreshes_have_exactly_one_winner() {
    let s = Arc::new(start("rfc9700", &[]).await);
    for _ in 0..3 {
        let rt = s.password_rt().await;
        let outcomes = race(&s, &rt, 16).await;
        assert!(outcomes.iter().all(|(st, _)| *st < 500), "{outcomes:?}");
        assert_eq!(
            outcomes.iter().filter(|(st, _)| *st == 200).count(),
            1,
            "{outcomes:?}"
        );
    }
    // The flaw lets several win.
    let f = Arc::new(start("rfc9700", &[Flaw::NonAtomicRotation]).await);
    let rt = f.password_rt().await;
    let outcomes = race(&f, &rt, 8).await;
    assert!(
        outcomes.iter().filter(|(st, _)| *st == 200).count() > 1,
        "{outcomes:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refresh_racing_revocation_leaves_nothing_alive() {
    let s = Arc::new(start("rfc9700", &[]).await);
    let secret = s.secret("confidential-basic");
    for _ in 0..10 {
        let rt = s.password_rt().await;
        let (s1, s2, rt1, rt2, sec1, sec2) = (
            s.clone(),
            s.clone(),
            rt.clone(),
            rt.clone(),
            secret.clone(),
            secret.clone(),
        );
        let refresh = tokio::spawn(async move {
            s1.refresh(Auth::Basic("confidential-basic", &sec1), &rt1)
                .await
        });
        let revoke = tokio::spawn(async move {
            s2.post(
                "/revoke",
                Auth::Basic("confidential-basic", &sec2),
                &[("token", &rt2)],
                &[],
            )
            .await
        });
        let r = refresh.await.expect("task");
        assert_eq!(revoke.await.expect("task").status, 200);
        if r.status == 200 {
            // Revocation ran after the rotation: it revoked the family, successor included.
            assert_eq!(s.introspect(&r.rt()).await["active"], false);
            assert_eq!(s.introspect(&r.at()).await["active"], false);
        } else {
            assert_eq!(r.err(), "invalid_grant");
        }
    }
}

#[tokio::test]
async fn test_control_tokens_are_deterministic() {
    let a = start("base", &[]).await;
    let b = start("base", &[]).await;
    let (ta, tb) = (a.password("api:read").await, b.password("api:read").await);
    assert_eq!(ta.at(), tb.at());
    assert_eq!(ta.rt(), tb.rt());
}

/// Test control mints a jwt-bearer grant assertion (for curl walkthroughs) that the token
/// endpoint accepts once: its `jti` is single use.
#[tokio::test]
async fn test_control_mints_a_jwt_bearer_assertion() {
    let s = start("rfc9700", &[]).await;
    let r = s
        .post(
            "/test/jwt-bearer-assertion",
            Auth::None,
            &[("sub", "alice")],
            &[],
        )
        .await;
    assert_eq!(r.status, 200);
    let assertion = r.json["assertion"].as_str().expect("assertion").to_owned();
    let grant = "urn:ietf:params:oauth:grant-type:jwt-bearer";
    let secret = s.secret("confidential-basic-2");
    let body = [("grant_type", grant), ("assertion", assertion.as_str())];
    let r = s
        .post(
            "/token",
            Auth::Basic("confidential-basic-2", &secret),
            &body,
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.json);
    assert!(r.json["access_token"].is_string());
    let r = s
        .post(
            "/token",
            Auth::Basic("confidential-basic-2", &secret),
            &body,
            &[],
        )
        .await;
    assert_eq!(r.err(), "invalid_grant", "a replayed assertion is refused");
}
