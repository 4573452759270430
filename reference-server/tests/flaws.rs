//! Every flaw is observable: a probe of the property it breaks passes against the correct server
//! and fails against the server with that one flaw. This is the reference server's own negative
//! control; the harness's conformance suite must catch the same flaws.

mod common;

use base64::Engine;
use common::*;
use reference_server::Flaw;
use reference_server::client_auth::JWT_BEARER_ASSERTION_TYPE;
use reference_server::keys::DPOP_DEMO_PEM;
use reference_server::policy::Policy;
use serde_json::Value;
use std::sync::Arc;

fn policy() -> Policy {
    policy_for(None)
}

/// The policy a flaw's probe runs under: rfc9700 with the password grant, plus DPoP nonces for
/// the nonce flaw.
fn policy_for(flaw: Option<Flaw>) -> Policy {
    let overrides = match flaw {
        Some(Flaw::DpopNonceUnchecked) => {
            serde_json::json!({"grants": {"password": true}, "dpop": {"nonce_required": true}})
        }
        Some(Flaw::GraceIgnored) => serde_json::json!({
            "grants": {"password": true}, "grace": {"seconds": 30, "max_reuses": 1},
        }),
        Some(Flaw::RotationDespiteNever) => {
            serde_json::json!({"grants": {"password": true}, "rotation": "never"})
        }
        Some(Flaw::RegisteredMethodNotEnforced) => serde_json::json!({
            "grants": {"password": true}, "clients": {"enforce_registered_method": true},
        }),
        Some(Flaw::PasswordGrantAlwaysOn) => serde_json::json!({"grants": {"password": false}}),
        _ => serde_json::json!({"grants": {"password": true}}),
    };
    Policy::resolve("rfc9700", &overrides).expect("policy")
}

fn b64(v: &Value) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
}

/// Valid private_key_jwt claims for the token endpoint, edited by `tweak`.
fn pk_claims(s: &Srv, tweak: impl FnOnce(&mut Value)) -> Value {
    let id = "confidential-private-key-jwt";
    let mut c = serde_json::json!({
        "iss": id, "sub": id, "aud": s.url("/token"), "exp": now() + 60, "iat": now(), "jti": jti(),
    });
    tweak(&mut c);
    c
}

/// client_credentials authenticated by a client assertion.
async fn with_assertion(s: &Srv, assertion: &str) -> Resp {
    let pairs = [
        ("grant_type", "client_credentials"),
        ("client_assertion_type", JWT_BEARER_ASSERTION_TYPE),
        ("client_assertion", assertion),
    ];
    s.post("/token", Auth::None, &pairs, &[]).await
}

/// A DPoP proof for POST /token with the demo key, edited by `tweak` (header, claims).
fn proof(s: &Srv, typ: &str, tweak: impl FnOnce(&mut Value)) -> String {
    let mut claims = serde_json::json!({
        "jti": jti(), "htm": "POST", "htu": s.url("/token"), "iat": now(),
    });
    tweak(&mut claims);
    sign_es256(DPOP_DEMO_PEM, Some(typ), true, &claims)
}

/// client_credentials for `confidential-basic` with a DPoP header.
async fn cc_with_proof(s: &Srv, proof: String) -> Resp {
    let secret = s.secret(C1);
    s.post(
        "/token",
        Auth::Basic(C1, &secret),
        &[("grant_type", "client_credentials")],
        &[("dpop", proof)],
    )
    .await
}

/// Tokens for `public-dpop`, bound to the demo key.
async fn dpop_tokens(s: &Srv) -> Resp {
    let code = s.code("public-dpop", "api:read").await;
    s.post(
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
    .await
}

/// Starts a device authorization for `confidential-basic`: `(device_code, user_code)`.
async fn device_start(s: &Srv) -> (String, String) {
    let secret = s.secret(C1);
    let r = s
        .post(
            "/device_authorization",
            Auth::Basic(C1, &secret),
            &[("scope", "api:read")],
            &[],
        )
        .await;
    let get = |k: &str| r.json[k].as_str().expect(k).to_owned();
    (get("device_code"), get("user_code"))
}

/// Polls a device code as `confidential-basic`.
async fn device_poll(s: &Srv, device_code: &str) -> Resp {
    let secret = s.secret(C1);
    let pairs = [
        ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
        ("device_code", device_code),
    ];
    s.post("/token", Auth::Basic(C1, &secret), &pairs, &[])
        .await
}

const C1: &str = "confidential-basic";
const META: &str = "/.well-known/oauth-authorization-server";

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
        Flaw::CodeClientBindingUnchecked => {
            let code = s.code("public-1", "api:read").await;
            let pairs = [
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", reference_server::config::REDIRECT_URI),
                ("code_verifier", VERIFIER),
            ];
            s.post("/token", Auth::Id("public-2"), &pairs, &[])
                .await
                .status
                == 400
        }
        Flaw::RedirectUriUnchecked => {
            let code = s.code("public-1", "api:read").await;
            let pairs = [
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", "https://attacker.example/cb"),
                ("code_verifier", VERIFIER),
            ];
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
        Flaw::AssertionClaimsUnchecked => {
            let claims = pk_claims(s, |c| c["aud"] = "https://attacker.example/token".into());
            let a = sign_es256(
                reference_server::keys::CLIENT_PRIVATE_KEY_JWT_PEM,
                None,
                false,
                &claims,
            );
            with_assertion(s, &a).await.err() == "invalid_client"
        }
        Flaw::AssertionSignatureUnchecked => {
            let header = serde_json::json!({"alg": "none", "typ": "JWT"});
            let a = format!("{}.{}.", b64(&header), b64(&pk_claims(s, |_| {})));
            with_assertion(s, &a).await.err() == "invalid_client"
        }
        Flaw::AnonymousRefreshAccepted => {
            let rt = s.password_rt().await;
            s.refresh(Auth::None, &rt).await.err() == "invalid_client"
        }
        Flaw::MultipleAuthMethodsAccepted => {
            let rt = s.password_rt().await;
            let pairs = [
                ("grant_type", "refresh_token"),
                ("refresh_token", rt.as_str()),
                ("client_id", C1),
                ("client_secret", "not-the-secret"),
            ];
            s.post("/token", c1, &pairs, &[]).await.err() == "invalid_request"
        }
        Flaw::BasicClientIdMismatchIgnored => {
            let rt = s.password_rt().await;
            let pairs = [
                ("grant_type", "refresh_token"),
                ("refresh_token", rt.as_str()),
                ("client_id", "public-1"),
            ];
            s.post("/token", c1, &pairs, &[]).await.status == 400
        }
        Flaw::ClientIdWithBasicRejected => {
            let rt = s.password_rt().await;
            let pairs = [
                ("grant_type", "refresh_token"),
                ("refresh_token", rt.as_str()),
                ("client_id", C1),
            ];
            s.post("/token", c1, &pairs, &[]).await.status == 200
        }
        Flaw::InvalidTokenWrongStatus => {
            let r = s.refresh(c1, "no-such-refresh-token").await;
            r.status == 400 && r.err() == "invalid_grant"
        }
        Flaw::ErrorDescriptionEchoesInput => {
            let r = s.refresh(c1, "tc\"\\\u{e9}").await;
            let d = r.json["error_description"].as_str().unwrap_or("");
            r.status == 400
                && d.chars()
                    .all(|c| (' '..='~').contains(&c) && c != '"' && c != '\\')
        }
        Flaw::RefreshScopeResetToDefault => {
            let rt = s.password("api:read api:write").await.rt();
            s.refresh(c1, &rt).await.json["scope"] == "api:read api:write"
        }
        Flaw::TokenWhitespace => {
            let t = s.password("api:read").await;
            !format!("{}{}", t.at(), t.rt()).contains(char::is_whitespace)
        }
        Flaw::EmptyParameterNotOmitted => s.refresh(c1, "").await.err() == "invalid_request",
        Flaw::MissingParameterMisreported => {
            s.post("/token", c1, &[("grant_type", "refresh_token")], &[])
                .await
                .err()
                == "invalid_request"
        }
        Flaw::UnknownParameterRejected => {
            let rt = s.password_rt().await;
            let pairs = [
                ("grant_type", "refresh_token"),
                ("refresh_token", rt.as_str()),
                ("x_unknown", "1"),
            ];
            s.post("/token", c1, &pairs, &[]).await.status == 200
        }
        Flaw::UnknownGrantTypeFallsBackToRefresh => {
            let rt = s.password_rt().await;
            let pairs = [
                ("grant_type", "urn:tokencert:grant-type:unknown"),
                ("refresh_token", rt.as_str()),
            ];
            s.post("/token", c1, &pairs, &[]).await.err() == "unsupported_grant_type"
        }
        Flaw::TokenEndpointAcceptsGet => {
            let basic = base64::engine::general_purpose::STANDARD.encode(format!(
                "{}:{}",
                enc(C1),
                enc(&secret)
            ));
            let r = s
                .http
                .get(s.url("/token?grant_type=client_credentials"))
                .header("authorization", format!("Basic {basic}"))
                .send()
                .await
                .expect("send");
            into_resp(r).await.status == 405
        }
        Flaw::ScopeComparedAsString => {
            let rt = s.password("api:read api:write").await.rt();
            let pairs = [
                ("grant_type", "refresh_token"),
                ("refresh_token", rt.as_str()),
                ("scope", "api:write api:read"),
            ];
            s.post("/token", c1, &pairs, &[]).await.status == 200
        }
        Flaw::ScopeNotEchoed => {
            let rt = s.password_rt().await;
            s.refresh(c1, &rt).await.json["scope"] == "api:read"
        }
        Flaw::MalformedScopeAccepted => {
            let rt = s.password_rt().await;
            let pairs = [
                ("grant_type", "refresh_token"),
                ("refresh_token", rt.as_str()),
                ("scope", "api:read api:\"write\""),
            ];
            s.post("/token", c1, &pairs, &[]).await.err() == "invalid_scope"
        }
        Flaw::AccessTokenRevocationIgnored => {
            let at = s.password("api:read").await.at();
            s.post("/revoke", c1, &[("token", &at)], &[]).await;
            s.introspect(&at).await["active"] == false
        }
        Flaw::RevocationUnknownTokenError => {
            s.post("/revoke", c1, &[("token", "no-such-token")], &[])
                .await
                .status
                == 200
        }
        Flaw::RevocationMissingTokenOk => {
            s.post("/revoke", c1, &[("token_type_hint", "refresh_token")], &[])
                .await
                .err()
                == "invalid_request"
        }
        Flaw::RevocationUnauthenticated => {
            let rt = s.password_rt().await;
            s.post("/revoke", Auth::Id(C1), &[("token", &rt)], &[])
                .await;
            s.post("/revoke", Auth::None, &[("token", &rt)], &[]).await;
            s.refresh(c1, &rt).await.status == 200
        }
        Flaw::CrossClientRevocation => {
            let rt = s.password_rt().await;
            let c2 = s.secret("confidential-basic-2");
            let other = Auth::Basic("confidential-basic-2", &c2);
            s.post("/revoke", other, &[("token", &rt)], &[]).await;
            s.refresh(c1, &rt).await.status == 200
        }
        Flaw::IntrospectionHintStrict => {
            let rt = s.password_rt().await;
            let pairs = [("token", rt.as_str()), ("token_type_hint", "access_token")];
            s.post("/introspect", c1, &pairs, &[]).await.json["active"] == true
        }
        Flaw::IntrospectionUnauthenticated => {
            let rt = s.password_rt().await;
            s.post("/introspect", Auth::Id(C1), &[("token", &rt)], &[])
                .await
                .status
                == 401
        }
        Flaw::IntrospectionVerboseInactive => {
            s.introspect("no-such-token").await == serde_json::json!({"active": false})
        }
        Flaw::ExpiredAccessTokenActive => {
            let at = s.password("api:read").await.at();
            s.advance(601).await;
            s.introspect(&at).await["active"] == false
        }
        Flaw::DpopProofHeaderUnchecked => {
            cc_with_proof(s, proof(s, "JWT", |_| {})).await.err() == "invalid_dpop_proof"
        }
        Flaw::DpopProofClaimsUnchecked => {
            let p = proof(s, "dpop+jwt", |c| c["htm"] = "GET".into());
            cc_with_proof(s, p).await.err() == "invalid_dpop_proof"
        }
        Flaw::DpopAccessTokenUnbound => {
            let rt = dpop_tokens(s).await.rt();
            let r = s
                .post(
                    "/token",
                    Auth::Id("public-dpop"),
                    &[("grant_type", "refresh_token"), ("refresh_token", &rt)],
                    &[("dpop", s.dpop(DPOP_DEMO_PEM, None))],
                )
                .await;
            r.json["token_type"] == "DPoP"
        }
        Flaw::DpopConfidentialRefreshBound => {
            let t = s
                .post(
                    "/token",
                    c1,
                    &[
                        ("grant_type", "password"),
                        ("username", "alice"),
                        ("password", "alice-password"),
                    ],
                    &[("dpop", s.dpop(DPOP_DEMO_PEM, None))],
                )
                .await;
            let other = s.dpop(reference_server::keys::ISSUER_SIGNING_PEM, None);
            let pairs = [("grant_type", "refresh_token"), ("refresh_token", &t.rt())];
            s.post("/token", c1, &pairs, &[("dpop", other)])
                .await
                .status
                == 200
        }
        Flaw::DpopNonceUnchecked => {
            let first = cc_with_proof(s, s.dpop(DPOP_DEMO_PEM, None)).await;
            let again = cc_with_proof(s, s.dpop(DPOP_DEMO_PEM, None)).await;
            first.err() == "use_dpop_nonce" && again.err() == "use_dpop_nonce"
        }
        Flaw::DpopProofWrongErrorCode => {
            cc_with_proof(s, "not-a-jwt".into()).await.err() == "invalid_dpop_proof"
        }
        Flaw::IntrospectionCallerClientId => {
            let rt = s.password_rt().await;
            s.introspect(&rt).await["client_id"] == C1
        }
        Flaw::MetadataEndpointsMisreported => {
            let m = s.get(META).await.json;
            let d = s.running.description();
            m["issuer"] == d.issuer.as_str()
                && m["token_endpoint"] == s.url("/token").as_str()
                && m["revocation_endpoint"] == d.endpoints.revocation.as_str()
                && m["introspection_endpoint"] == d.endpoints.introspection.as_str()
                && m["device_authorization_endpoint"] == d.endpoints.device_authorization.as_str()
        }
        Flaw::MetadataCapabilitiesMisreported => {
            let m = s.get(META).await.json;
            let has = |k: &str, v: &str| m[k].as_array().is_some_and(|a| a.iter().any(|x| x == v));
            has("grant_types_supported", "refresh_token")
                && has(
                    "grant_types_supported",
                    reference_server::client::GrantType::DeviceCode.as_str(),
                )
                && !has("token_endpoint_auth_signing_alg_values_supported", "none")
                && has("code_challenge_methods_supported", "S256")
        }
        Flaw::MetadataWrongContentType => s
            .get(META)
            .await
            .header("content-type")
            .is_some_and(|c| c.starts_with("application/json")),
        Flaw::JwksPrivateKeyExposed => {
            let set = s.get("/jwks").await.json;
            set["keys"].as_array().is_some_and(|ks| {
                !ks.is_empty()
                    && ks
                        .iter()
                        .all(|k| k.get("d").is_none() && k.get("x").is_some())
            })
        }
        Flaw::PublicClientCredentials => {
            let pairs = [("grant_type", "client_credentials")];
            let r = s.post("/token", Auth::Id("public-1"), &pairs, &[]).await;
            r.status != 200 && r.json.get("access_token").is_none()
        }
        Flaw::ExpiredCodeAccepted => {
            let code = s.code(C1, "api:read").await;
            s.advance(61).await;
            let pairs = [
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", reference_server::config::REDIRECT_URI),
                ("code_verifier", VERIFIER),
            ];
            s.post("/token", c1, &pairs, &[]).await.err() == "invalid_grant"
        }
        Flaw::PkcePlainAccepted => {
            let q = common::form(&[
                ("response_type", "code"),
                ("client_id", C1),
                ("redirect_uri", reference_server::config::REDIRECT_URI),
                ("scope", "api:read"),
                ("state", "xyz"),
                ("code_challenge", VERIFIER),
                ("code_challenge_method", "plain"),
                ("login_hint", "alice"),
            ]);
            let r = s.get(&format!("/authorize?{q}")).await;
            let loc = r.header("location").unwrap_or("");
            url::Url::parse(loc).is_ok_and(|u| u.query_pairs().all(|(k, _)| k != "code"))
        }
        Flaw::DeviceDenialIgnored => {
            let (device_code, user_code) = device_start(s).await;
            let pairs = [
                ("user_code", user_code.as_str()),
                ("username", "alice"),
                ("password", "alice-password"),
                ("action", "deny"),
            ];
            s.post("/device/approve", Auth::None, &pairs, &[]).await;
            device_poll(s, &device_code).await.err() == "access_denied"
        }
        Flaw::ExpiredDeviceCodeAccepted => {
            let (device_code, _) = device_start(s).await;
            s.advance(601).await;
            device_poll(s, &device_code).await.err() == "expired_token"
        }
        Flaw::DeviceSlowDownMissing => {
            let (device_code, _) = device_start(s).await;
            device_poll(s, &device_code).await;
            device_poll(s, &device_code).await.err() == "slow_down"
        }
        Flaw::JwtBearerSignatureUnchecked => {
            let minted = s
                .post(
                    "/test/jwt-bearer-assertion",
                    Auth::None,
                    &[("sub", "alice")],
                    &[],
                )
                .await;
            let assertion = minted.json["assertion"].as_str().expect("assertion");
            // Same header and claims, another signature.
            let tampered = format!("{}AAAAAAAAAA", &assertion[..assertion.len() - 10]);
            let pairs = [
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                ("assertion", tampered.as_str()),
            ];
            s.post("/token", c1, &pairs, &[]).await.err() == "invalid_grant"
        }
        Flaw::PasswordGrantAlwaysOn => {
            s.password("api:read").await.err() == "unsupported_grant_type"
        }
        Flaw::PasswordUnchecked => {
            let pairs = [
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", "not-alice-password"),
            ];
            s.post("/token", c1, &pairs, &[]).await.err() == "invalid_grant"
        }
        Flaw::TokenExchangeSubjectUnchecked => {
            let pairs = [
                (
                    "grant_type",
                    "urn:ietf:params:oauth:grant-type:token-exchange",
                ),
                ("subject_token", "no-such-token"),
                (
                    "subject_token_type",
                    "urn:ietf:params:oauth:token-type:access_token",
                ),
            ];
            let r = s.post("/token", c1, &pairs, &[]).await;
            r.status == 400 && r.json.get("access_token").is_none()
        }
        Flaw::UnknownGrantTypeMisreported => {
            let pairs = [("grant_type", "urn:example:no-such-grant")];
            s.post("/token", c1, &pairs, &[]).await.err() == "unsupported_grant_type"
        }
        Flaw::WrongExpiresIn => {
            let lifetime = s.running.description().policy.lifetimes.access_token;
            s.password("api:read").await.json["expires_in"] == lifetime
        }
        Flaw::GraceIgnored => {
            let rt0 = s.password_rt().await;
            s.refresh(c1, &rt0).await;
            s.refresh(c1, &rt0).await.status == 200
        }
        Flaw::RotationDespiteNever => {
            let rt0 = s.password_rt().await;
            let same = s.refresh(c1, &rt0).await.json["refresh_token"] == rt0.as_str();
            same && s.refresh(c1, &rt0).await.status == 200
        }
        Flaw::RegisteredMethodNotEnforced => {
            // confidential-basic registered client_secret_basic; it tries client_secret_post.
            let pairs = [("grant_type", "client_credentials")];
            s.post("/token", Auth::Post(C1, &secret), &pairs, &[])
                .await
                .err()
                == "invalid_client"
        }
        Flaw::DpopJtiReplayAccepted => {
            let p = s.dpop(DPOP_DEMO_PEM, None);
            cc_with_proof(s, p.clone()).await;
            cc_with_proof(s, p).await.err() == "invalid_dpop_proof"
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_flaw_is_caught_by_its_probe() {
    let shared = Arc::new(start_with(policy(), &[]).await);
    for flaw in Flaw::ALL {
        let own = policy_for(Some(*flaw));
        let correct = if own == policy() {
            shared.clone()
        } else {
            Arc::new(start_with(own, &[]).await)
        };
        assert!(
            probe(&correct, *flaw).await,
            "correct server fails the probe for {flaw}"
        );
        let flawed = Arc::new(start_with(policy_for(Some(*flaw)), &[*flaw]).await);
        assert!(!probe(&flawed, *flaw).await, "probe does not catch {flaw}");
    }
}
