//! Every flaw is observable: a probe of the property it breaks passes against the correct server
//! and fails against the server with that one flaw. This is the reference server's own negative
//! control; the harness's conformance suite must catch the same flaws.

mod common;

use common::*;
use reference_server::Flaw;
use reference_server::client_auth::JWT_BEARER_ASSERTION_TYPE;
use reference_server::keys::DPOP_DEMO_PEM;
use reference_server::policy::Policy;
use std::sync::Arc;

fn policy() -> Policy {
    Policy::resolve(
        "rfc9700",
        &serde_json::json!({"grants": {"password": true}}),
    )
    .expect("policy")
}

const C1: &str = "confidential-basic";

/// Whether the server gets right what `flaw` breaks.
async fn probe(s: &Arc<Srv>, flaw: Flaw) -> bool {
    let secret = s.secret(C1);
    let c1 = Auth::Basic(C1, &secret);
    match flaw {
        Flaw::SupersededTokenAccepted | Flaw::UnboundedGrace => {
            let rt1 = s.password_rt().await;
            s.refresh(c1, &rt1).await;
            s.refresh(c1, &rt1).await.status == 400
        }
        Flaw::NoFamilyRevocation => {
            let rt1 = s.password_rt().await;
            let rt2 = s.refresh(c1, &rt1).await.rt();
            s.refresh(c1, &rt1).await;
            s.refresh(c1, &rt2).await.status == 400
        }
        Flaw::CrossClientRefresh => {
            let rt = s.password_rt().await;
            let c2 = s.secret("confidential-basic-2");
            s.refresh(Auth::Basic("confidential-basic-2", &c2), &rt)
                .await
                .err()
                == "invalid_grant"
        }
        Flaw::PublicClientIdUnchecked => {
            let rt = s.public_tokens("public-1", "api:read").await.rt();
            s.refresh(Auth::Id("public-2"), &rt).await.err() == "invalid_grant"
        }
        Flaw::NonAtomicRotation => {
            let rt = s.password_rt().await;
            let mut tasks = Vec::new();
            for _ in 0..6 {
                let (s, rt, secret) = (s.clone(), rt.clone(), secret.clone());
                tasks.push(tokio::spawn(async move {
                    s.refresh(Auth::Basic(C1, &secret), &rt).await.status
                }));
            }
            let mut wins = 0;
            for t in tasks {
                wins += usize::from(t.await.expect("task") == 200);
            }
            wins == 1
        }
        Flaw::AbsoluteLifetimeReset => {
            let mut rt = s.password_rt().await;
            // 8 x 10 days keeps it from idling out; day 91 is past the 90-day absolute limit.
            for _ in 0..8 {
                s.advance(10 * 86_400).await;
                rt = s.refresh(c1, &rt).await.rt();
            }
            s.advance(11 * 86_400).await;
            s.refresh(c1, &rt).await.status == 400
        }
        Flaw::ExpiredTokenAccepted => {
            let rt = s.password_rt().await;
            s.advance(15 * 86_400).await;
            s.refresh(c1, &rt).await.status == 400
        }
        Flaw::ScopeEscalation => {
            let rt = s.password_rt().await;
            let r = s
                .post(
                    "/token",
                    c1,
                    &[
                        ("grant_type", "refresh_token"),
                        ("refresh_token", &rt),
                        ("scope", "api:read api:write"),
                    ],
                    &[],
                )
                .await;
            r.status != 200 || !r.json["scope"].as_str().unwrap_or("").contains("api:write")
        }
        Flaw::MissingNoStore => {
            s.password("api:read").await.header("cache-control") == Some("no-store")
        }
        Flaw::WrongErrorCode => {
            let rt = s.password_rt().await;
            s.post("/revoke", c1, &[("token", &rt)], &[]).await;
            s.refresh(c1, &rt).await.err() == "invalid_grant"
        }
        Flaw::ServerErrorOnMalformedBody => {
            let r = s
                .raw(
                    "/token",
                    b"grant_type=%zz".to_vec(),
                    &[("content-type", "application/x-www-form-urlencoded".into())],
                )
                .await;
            r.status == 400
        }
        Flaw::NoRevocationCascade => {
            let t = s.password("api:read").await;
            s.post("/revoke", c1, &[("token", &t.rt())], &[]).await;
            s.introspect(&t.at()).await["active"] == false
        }
        Flaw::DpopBindingUnchecked => {
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
            let other = s.dpop(reference_server::keys::ISSUER_SIGNING_PEM, None);
            let r = s
                .post(
                    "/token",
                    Auth::Id("public-dpop"),
                    &[("grant_type", "refresh_token"), ("refresh_token", &t.rt())],
                    &[("dpop", other)],
                )
                .await;
            r.status == 400
        }
        Flaw::BasicNotFormDecoded => {
            s.post("/token", c1, &[("grant_type", "client_credentials")], &[])
                .await
                .status
                == 200
        }
        Flaw::MissingWwwAuthenticate => {
            let r = s
                .post(
                    "/token",
                    Auth::Basic(C1, "wrong"),
                    &[("grant_type", "client_credentials")],
                    &[],
                )
                .await;
            r.status == 401 && r.header("www-authenticate").is_some()
        }
        Flaw::NarrowedRefreshToken => {
            let rt = s.password("api:read api:write").await.rt();
            let narrow = s
                .post(
                    "/token",
                    c1,
                    &[
                        ("grant_type", "refresh_token"),
                        ("refresh_token", &rt),
                        ("scope", "api:read"),
                    ],
                    &[],
                )
                .await;
            let full = s.refresh(c1, &narrow.rt()).await;
            full.json["scope"] == "api:read api:write"
        }
        Flaw::CodeReplayAccepted => {
            let code = s.code("public-1", "api:read").await;
            let pairs = [
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", reference_server::config::REDIRECT_URI),
                ("code_verifier", VERIFIER),
            ];
            s.post("/token", Auth::Id("public-1"), &pairs, &[]).await;
            s.post("/token", Auth::Id("public-1"), &pairs, &[])
                .await
                .status
                == 400
        }
        Flaw::ClientAuthSkippedOnRefresh => {
            let rt = s.password_rt().await;
            s.refresh(Auth::Id(C1), &rt).await.err() == "invalid_client"
        }
        Flaw::PkceUnchecked => {
            let code = s.code("public-1", "api:read").await;
            let wrong = "x".repeat(43);
            let pairs = [
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", reference_server::config::REDIRECT_URI),
                ("code_verifier", wrong.as_str()),
            ];
            s.post("/token", Auth::Id("public-1"), &pairs, &[])
                .await
                .err()
                == "invalid_grant"
        }
        Flaw::AssertionReplayAccepted => {
            let a = s.client_assertion(&s.url("/token"));
            let pairs = [
                ("grant_type", "client_credentials"),
                ("client_assertion_type", JWT_BEARER_ASSERTION_TYPE),
                ("client_assertion", a.as_str()),
            ];
            s.post("/token", Auth::None, &pairs, &[]).await;
            s.post("/token", Auth::None, &pairs, &[]).await.err() == "invalid_client"
        }
        Flaw::IntrospectionStale => {
            let rt1 = s.password_rt().await;
            s.refresh(c1, &rt1).await;
            s.introspect(&rt1).await["active"] == false
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_flaw_is_caught_by_its_probe() {
    let correct = Arc::new(start_with(policy(), &[]).await);
    for flaw in Flaw::ALL {
        assert!(
            probe(&correct, *flaw).await,
            "correct server fails the probe for {flaw}"
        );
        let flawed = Arc::new(start_with(policy(), &[*flaw]).await);
        assert!(!probe(&flawed, *flaw).await, "probe does not catch {flaw}");
    }
}
