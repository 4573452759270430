//! Every flaw is observable: a probe of the property it breaks passes against the correct server
//! and fails against the server with that one flaw. This is the reference server's own negative
//! control; the harness's conformance suite must catch the same flaws.

mod common;

use base64::Engine;
use common::*;
use libtest_mimic::{Arguments, Failed, Trial};
use reference_server::Flaw;
use reference_server::client_auth::JWT_BEARER_ASSERTION_TYPE;
use reference_server::keys::DPOP_DEMO_PEM;
use reference_server::policy::Policy;
use serde_json::Value;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

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

/// A probe: whether the server gets right what its flaw breaks.
type Probe = for<'a> fn(&'a Arc<Srv>) -> Pin<Box<dyn Future<Output = bool> + 'a>>;

/// One flaw: the policy its probe runs under (JSON overrides of rfc9700 with the password grant,
/// replacing whole top-level sections) and the probe.
struct Row {
    flaw: Flaw,
    overrides: &'static str,
    probe: Probe,
}

macro_rules! row {
    ($flaw:ident, $probe:ident) => {
        row!($flaw, "{}", $probe)
    };
    ($flaw:ident, $overrides:expr, $probe:ident) => {
        Row {
            flaw: Flaw::$flaw,
            overrides: $overrides,
            probe: |s| Box::pin($probe(s)),
        }
    };
}

/// Every flaw, one row each.
const FLAWS: &[Row] = &[
    row!(SupersededTokenAccepted, superseded_token_accepted),
    row!(UnboundedGrace, superseded_token_accepted),
    row!(NoFamilyRevocation, no_family_revocation),
    row!(CrossClientRefresh, cross_client_refresh),
    row!(PublicClientIdUnchecked, public_client_id_unchecked),
    row!(NonAtomicRotation, non_atomic_rotation),
    row!(AbsoluteLifetimeReset, absolute_lifetime_reset),
    row!(ExpiredTokenAccepted, expired_token_accepted),
    row!(ScopeEscalation, scope_escalation),
    row!(MissingNoStore, missing_no_store),
    row!(WrongErrorCode, wrong_error_code),
    row!(ServerErrorOnMalformedBody, server_error_on_malformed_body),
    row!(NoRevocationCascade, no_revocation_cascade),
    row!(DpopBindingUnchecked, dpop_binding_unchecked),
    row!(BasicNotFormDecoded, basic_not_form_decoded),
    row!(MissingWwwAuthenticate, missing_www_authenticate),
    row!(NarrowedRefreshToken, narrowed_refresh_token),
    row!(CodeReplayAccepted, code_replay_accepted),
    row!(CodeClientBindingUnchecked, code_client_binding_unchecked),
    row!(RedirectUriUnchecked, redirect_uri_unchecked),
    row!(ClientAuthSkippedOnRefresh, client_auth_skipped_on_refresh),
    row!(PkceUnchecked, pkce_unchecked),
    row!(AssertionReplayAccepted, assertion_replay_accepted),
    row!(IntrospectionStale, introspection_stale),
    row!(AssertionClaimsUnchecked, assertion_claims_unchecked),
    row!(AssertionSignatureUnchecked, assertion_signature_unchecked),
    row!(AnonymousRefreshAccepted, anonymous_refresh_accepted),
    row!(MultipleAuthMethodsAccepted, multiple_auth_methods_accepted),
    row!(
        BasicClientIdMismatchIgnored,
        basic_client_id_mismatch_ignored
    ),
    row!(ClientIdWithBasicRejected, client_id_with_basic_rejected),
    row!(
        AssertionWithoutClientIdRejected,
        assertion_without_client_id_rejected
    ),
    row!(InvalidTokenWrongStatus, invalid_token_wrong_status),
    row!(ErrorDescriptionEchoesInput, error_description_echoes_input),
    row!(RefreshScopeResetToDefault, refresh_scope_reset_to_default),
    row!(TokenWhitespace, token_whitespace),
    row!(EmptyParameterNotOmitted, empty_parameter_not_omitted),
    row!(MissingParameterMisreported, missing_parameter_misreported),
    row!(UnknownParameterRejected, unknown_parameter_rejected),
    row!(
        UnknownGrantTypeFallsBackToRefresh,
        unknown_grant_type_falls_back_to_refresh
    ),
    row!(TokenEndpointAcceptsGet, token_endpoint_accepts_get),
    row!(ScopeComparedAsString, scope_compared_as_string),
    row!(ScopeNotEchoed, scope_not_echoed),
    row!(MalformedScopeAccepted, malformed_scope_accepted),
    row!(
        AccessTokenRevocationIgnored,
        access_token_revocation_ignored
    ),
    row!(RevocationUnknownTokenError, revocation_unknown_token_error),
    row!(RevocationMissingTokenOk, revocation_missing_token_ok),
    row!(RevocationUnauthenticated, revocation_unauthenticated),
    row!(CrossClientRevocation, cross_client_revocation),
    row!(IntrospectionHintStrict, introspection_hint_strict),
    row!(IntrospectionUnauthenticated, introspection_unauthenticated),
    row!(IntrospectionVerboseInactive, introspection_verbose_inactive),
    row!(ExpiredAccessTokenActive, expired_access_token_active),
    row!(DpopProofHeaderUnchecked, dpop_proof_header_unchecked),
    row!(DpopProofClaimsUnchecked, dpop_proof_claims_unchecked),
    row!(DpopAccessTokenUnbound, dpop_access_token_unbound),
    row!(
        DpopConfidentialRefreshBound,
        dpop_confidential_refresh_bound
    ),
    row!(
        DpopNonceUnchecked,
        r#"{"dpop": {"nonce_required": true}}"#,
        dpop_nonce_unchecked
    ),
    row!(DpopProofWrongErrorCode, dpop_proof_wrong_error_code),
    row!(IntrospectionCallerClientId, introspection_caller_client_id),
    row!(MetadataEndpointsMisreported, metadata_endpoints_misreported),
    row!(
        MetadataCapabilitiesMisreported,
        metadata_capabilities_misreported
    ),
    row!(MetadataWrongContentType, metadata_wrong_content_type),
    row!(JwksPrivateKeyExposed, jwks_private_key_exposed),
    row!(PublicClientCredentials, public_client_credentials),
    row!(ExpiredCodeAccepted, expired_code_accepted),
    row!(PkcePlainAccepted, pkce_plain_accepted),
    row!(DeviceDenialIgnored, device_denial_ignored),
    row!(ExpiredDeviceCodeAccepted, expired_device_code_accepted),
    row!(DeviceSlowDownMissing, device_slow_down_missing),
    row!(JwtBearerSignatureUnchecked, jwt_bearer_signature_unchecked),
    row!(
        PasswordGrantAlwaysOn,
        r#"{"grants": {"password": false}}"#,
        password_grant_always_on
    ),
    row!(PasswordUnchecked, password_unchecked),
    row!(
        TokenExchangeSubjectUnchecked,
        token_exchange_subject_unchecked
    ),
    row!(UnknownGrantTypeMisreported, unknown_grant_type_misreported),
    row!(WrongExpiresIn, wrong_expires_in),
    row!(
        GraceIgnored,
        r#"{"grace": {"seconds": 30, "max_reuses": 1}}"#,
        grace_ignored
    ),
    row!(
        RotationDespiteNever,
        r#"{"rotation": "never"}"#,
        rotation_despite_never
    ),
    row!(
        RegisteredMethodNotEnforced,
        r#"{"clients": {"enforce_registered_method": true}}"#,
        registered_method_not_enforced
    ),
    row!(DpopJtiReplayAccepted, dpop_jti_replay_accepted),
    row!(UnchallengedInvalidClient, unchallenged_invalid_client),
    row!(CodeGrantCacheable, code_grant_cacheable),
    row!(RefreshTokenEchoedInError, refresh_token_echoed_in_error),
    row!(InvalidGrant401, invalid_grant_401),
];

async fn unchallenged_invalid_client(s: &Arc<Srv>) -> bool {
    let r = s
        .post(
            "/token",
            Auth::Post("confidential-post", "wrong-secret"),
            &[("grant_type", "client_credentials")],
            &[],
        )
        .await;
    // The policy's invalid_client_status is 401 here: a 401 needs a challenge (RFC 9110).
    r.status == 401 && r.header("www-authenticate").is_some()
}

async fn code_grant_cacheable(s: &Arc<Srv>) -> bool {
    s.password("api:read").await.header("cache-control") == Some("no-store")
}

async fn refresh_token_echoed_in_error(s: &Arc<Srv>) -> bool {
    let secret = s.secret(C1);
    let token = "no-such-refresh-token-0123456789";
    let r = s.refresh(Auth::Basic(C1, &secret), token).await;
    r.status == 400 && !r.json.to_string().contains(token)
}

async fn invalid_grant_401(s: &Arc<Srv>) -> bool {
    let secret = s.secret(C1);
    let c1 = Auth::Basic(C1, &secret);
    let rt = s.password_rt().await;
    s.post("/revoke", c1, &[("token", &rt)], &[]).await;
    s.refresh(c1, &rt).await.status == 400
}

async fn superseded_token_accepted(s: &Arc<Srv>) -> bool {
    let secret = s.secret(C1);
    let c1 = Auth::Basic(C1, &secret);
    let rt1 = s.password_rt().await;
    s.refresh(c1, &rt1).await;
    s.refresh(c1, &rt1).await.status == 400
}

async fn no_family_revocation(s: &Arc<Srv>) -> bool {
    let secret = s.secret(C1);
    let c1 = Auth::Basic(C1, &secret);
    let rt1 = s.password_rt().await;
    let rt2 = s.refresh(c1, &rt1).await.rt();
    s.refresh(c1, &rt1).await;
    s.refresh(c1, &rt2).await.status == 400
}

async fn cross_client_refresh(s: &Arc<Srv>) -> bool {
    let rt = s.password_rt().await;
    let c2 = s.secret("confidential-basic-2");
    s.refresh(Auth::Basic("confidential-basic-2", &c2), &rt)
        .await
        .err()
        == "invalid_grant"
}

async fn public_client_id_unchecked(s: &Arc<Srv>) -> bool {
    let rt = s.public_tokens("public-1", "api:read").await.rt();
    s.refresh(Auth::Id("public-2"), &rt).await.err() == "invalid_grant"
}

async fn non_atomic_rotation(s: &Arc<Srv>) -> bool {
    let secret = s.secret(C1);
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

async fn absolute_lifetime_reset(s: &Arc<Srv>) -> bool {
    let secret = s.secret(C1);
    let c1 = Auth::Basic(C1, &secret);
    let mut rt = s.password_rt().await;
    // 8 x 10 days keeps it from idling out; day 91 is past the 90-day absolute limit.
    for _ in 0..8 {
        s.advance(10 * 86_400).await;
        rt = s.refresh(c1, &rt).await.rt();
    }
    s.advance(11 * 86_400).await;
    s.refresh(c1, &rt).await.status == 400
}

async fn expired_token_accepted(s: &Arc<Srv>) -> bool {
    let secret = s.secret(C1);
    let c1 = Auth::Basic(C1, &secret);
    let rt = s.password_rt().await;
    s.advance(15 * 86_400).await;
    s.refresh(c1, &rt).await.status == 400
}

async fn scope_escalation(s: &Arc<Srv>) -> bool {
    let secret = s.secret(C1);
    let c1 = Auth::Basic(C1, &secret);
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

async fn missing_no_store(s: &Arc<Srv>) -> bool {
    s.password("api:read").await.header("cache-control") == Some("no-store")
}

async fn wrong_error_code(s: &Arc<Srv>) -> bool {
    let secret = s.secret(C1);
    let c1 = Auth::Basic(C1, &secret);
    let rt = s.password_rt().await;
    s.post("/revoke", c1, &[("token", &rt)], &[]).await;
    s.refresh(c1, &rt).await.err() == "invalid_grant"
}

async fn server_error_on_malformed_body(s: &Arc<Srv>) -> bool {
    let r = s
        .raw(
            "/token",
            b"grant_type=%zz".to_vec(),
            &[("content-type", "application/x-www-form-urlencoded".into())],
        )
        .await;
    r.status == 400
}

async fn no_revocation_cascade(s: &Arc<Srv>) -> bool {
    let secret = s.secret(C1);
    let c1 = Auth::Basic(C1, &secret);
    let t = s.password("api:read").await;
    s.post("/revoke", c1, &[("token", &t.rt())], &[]).await;
    s.introspect(&t.at()).await["active"] == false
}

async fn dpop_binding_unchecked(s: &Arc<Srv>) -> bool {
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

async fn basic_not_form_decoded(s: &Arc<Srv>) -> bool {
    let secret = s.secret(C1);
    let c1 = Auth::Basic(C1, &secret);
    s.post("/token", c1, &[("grant_type", "client_credentials")], &[])
        .await
        .status
        == 200
}

async fn missing_www_authenticate(s: &Arc<Srv>) -> bool {
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

async fn narrowed_refresh_token(s: &Arc<Srv>) -> bool {
    let secret = s.secret(C1);
    let c1 = Auth::Basic(C1, &secret);
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

async fn code_replay_accepted(s: &Arc<Srv>) -> bool {
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

async fn code_client_binding_unchecked(s: &Arc<Srv>) -> bool {
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

async fn redirect_uri_unchecked(s: &Arc<Srv>) -> bool {
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

async fn client_auth_skipped_on_refresh(s: &Arc<Srv>) -> bool {
    let rt = s.password_rt().await;
    s.refresh(Auth::Id(C1), &rt).await.err() == "invalid_client"
}

async fn pkce_unchecked(s: &Arc<Srv>) -> bool {
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

async fn assertion_replay_accepted(s: &Arc<Srv>) -> bool {
    let a = s.client_assertion(&s.url("/token"));
    with_assertion(s, &a).await;
    with_assertion(s, &a).await.err() == "invalid_client"
}

async fn introspection_stale(s: &Arc<Srv>) -> bool {
    let secret = s.secret(C1);
    let c1 = Auth::Basic(C1, &secret);
    let rt1 = s.password_rt().await;
    s.refresh(c1, &rt1).await;
    s.introspect(&rt1).await["active"] == false
}

async fn assertion_claims_unchecked(s: &Arc<Srv>) -> bool {
    let claims = pk_claims(s, |c| c["aud"] = "https://attacker.example/token".into());
    let a = sign_es256(
        reference_server::keys::CLIENT_PRIVATE_KEY_JWT_PEM,
        None,
        false,
        &claims,
    );
    with_assertion(s, &a).await.err() == "invalid_client"
}

async fn assertion_signature_unchecked(s: &Arc<Srv>) -> bool {
    let header = serde_json::json!({"alg": "none", "typ": "JWT"});
    let a = format!("{}.{}.", b64(&header), b64(&pk_claims(s, |_| {})));
    with_assertion(s, &a).await.err() == "invalid_client"
}

async fn anonymous_refresh_accepted(s: &Arc<Srv>) -> bool {
    let rt = s.password_rt().await;
    s.refresh(Auth::None, &rt).await.err() == "invalid_client"
}

async fn multiple_auth_methods_accepted(s: &Arc<Srv>) -> bool {
    let secret = s.secret(C1);
    let c1 = Auth::Basic(C1, &secret);
    let rt = s.password_rt().await;
    let pairs = [
        ("grant_type", "refresh_token"),
        ("refresh_token", rt.as_str()),
        ("client_id", C1),
        ("client_secret", "not-the-secret"),
    ];
    s.post("/token", c1, &pairs, &[]).await.err() == "invalid_request"
}

async fn basic_client_id_mismatch_ignored(s: &Arc<Srv>) -> bool {
    let secret = s.secret(C1);
    let c1 = Auth::Basic(C1, &secret);
    let rt = s.password_rt().await;
    let pairs = [
        ("grant_type", "refresh_token"),
        ("refresh_token", rt.as_str()),
        ("client_id", "public-1"),
    ];
    s.post("/token", c1, &pairs, &[]).await.status == 400
}

async fn client_id_with_basic_rejected(s: &Arc<Srv>) -> bool {
    let secret = s.secret(C1);
    let c1 = Auth::Basic(C1, &secret);
    let rt = s.password_rt().await;
    let pairs = [
        ("grant_type", "refresh_token"),
        ("refresh_token", rt.as_str()),
        ("client_id", C1),
    ];
    s.post("/token", c1, &pairs, &[]).await.status == 200
}

async fn assertion_without_client_id_rejected(s: &Arc<Srv>) -> bool {
    let a = s.client_assertion(&s.url("/token"));
    with_assertion(s, &a).await.status == 200
}

async fn invalid_token_wrong_status(s: &Arc<Srv>) -> bool {
    let secret = s.secret(C1);
    let c1 = Auth::Basic(C1, &secret);
    let r = s.refresh(c1, "no-such-refresh-token").await;
    r.status == 400 && r.err() == "invalid_grant"
}

async fn error_description_echoes_input(s: &Arc<Srv>) -> bool {
    let secret = s.secret(C1);
    let c1 = Auth::Basic(C1, &secret);
    let r = s.refresh(c1, "tc\"\\\u{e9}").await;
    let d = r.json["error_description"].as_str().unwrap_or("");
    r.status == 400
        && d.chars()
            .all(|c| (' '..='~').contains(&c) && c != '"' && c != '\\')
}

async fn refresh_scope_reset_to_default(s: &Arc<Srv>) -> bool {
    let secret = s.secret(C1);
    let c1 = Auth::Basic(C1, &secret);
    let rt = s.password("api:read api:write").await.rt();
    s.refresh(c1, &rt).await.json["scope"] == "api:read api:write"
}

async fn token_whitespace(s: &Arc<Srv>) -> bool {
    let t = s.password("api:read").await;
    !format!("{}{}", t.at(), t.rt()).contains(char::is_whitespace)
}

async fn empty_parameter_not_omitted(s: &Arc<Srv>) -> bool {
    let secret = s.secret(C1);
    let c1 = Auth::Basic(C1, &secret);
    s.refresh(c1, "").await.err() == "invalid_request"
}

async fn missing_parameter_misreported(s: &Arc<Srv>) -> bool {
    let secret = s.secret(C1);
    let c1 = Auth::Basic(C1, &secret);
    s.post("/token", c1, &[("grant_type", "refresh_token")], &[])
        .await
        .err()
        == "invalid_request"
}

async fn unknown_parameter_rejected(s: &Arc<Srv>) -> bool {
    let secret = s.secret(C1);
    let c1 = Auth::Basic(C1, &secret);
    let rt = s.password_rt().await;
    let pairs = [
        ("grant_type", "refresh_token"),
        ("refresh_token", rt.as_str()),
        ("x_unknown", "1"),
    ];
    s.post("/token", c1, &pairs, &[]).await.status == 200
}

async fn unknown_grant_type_falls_back_to_refresh(s: &Arc<Srv>) -> bool {
    let secret = s.secret(C1);
    let c1 = Auth::Basic(C1, &secret);
    let rt = s.password_rt().await;
    let pairs = [
        ("grant_type", "urn:tokencert:grant-type:unknown"),
        ("refresh_token", rt.as_str()),
    ];
    s.post("/token", c1, &pairs, &[]).await.err() == "unsupported_grant_type"
}

async fn token_endpoint_accepts_get(s: &Arc<Srv>) -> bool {
    let secret = s.secret(C1);
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", enc(C1), enc(&secret)));
    let r = s
        .http
        .get(s.url("/token?grant_type=client_credentials"))
        .header("authorization", format!("Basic {basic}"))
        .send()
        .await
        .expect("send");
    into_resp(r).await.status == 405
}

async fn scope_compared_as_string(s: &Arc<Srv>) -> bool {
    let secret = s.secret(C1);
    let c1 = Auth::Basic(C1, &secret);
    let rt = s.password("api:read api:write").await.rt();
    let pairs = [
        ("grant_type", "refresh_token"),
        ("refresh_token", rt.as_str()),
        ("scope", "api:write api:read"),
    ];
    s.post("/token", c1, &pairs, &[]).await.status == 200
}

async fn scope_not_echoed(s: &Arc<Srv>) -> bool {
    let secret = s.secret(C1);
    let c1 = Auth::Basic(C1, &secret);
    let rt = s.password_rt().await;
    s.refresh(c1, &rt).await.json["scope"] == "api:read"
}

async fn malformed_scope_accepted(s: &Arc<Srv>) -> bool {
    let secret = s.secret(C1);
    let c1 = Auth::Basic(C1, &secret);
    let rt = s.password_rt().await;
    let pairs = [
        ("grant_type", "refresh_token"),
        ("refresh_token", rt.as_str()),
        ("scope", "api:read api:\"write\""),
    ];
    s.post("/token", c1, &pairs, &[]).await.err() == "invalid_scope"
}

async fn access_token_revocation_ignored(s: &Arc<Srv>) -> bool {
    let secret = s.secret(C1);
    let c1 = Auth::Basic(C1, &secret);
    let at = s.password("api:read").await.at();
    s.post("/revoke", c1, &[("token", &at)], &[]).await;
    s.introspect(&at).await["active"] == false
}

async fn revocation_unknown_token_error(s: &Arc<Srv>) -> bool {
    let secret = s.secret(C1);
    let c1 = Auth::Basic(C1, &secret);
    s.post("/revoke", c1, &[("token", "no-such-token")], &[])
        .await
        .status
        == 200
}

async fn revocation_missing_token_ok(s: &Arc<Srv>) -> bool {
    let secret = s.secret(C1);
    let c1 = Auth::Basic(C1, &secret);
    s.post("/revoke", c1, &[("token_type_hint", "refresh_token")], &[])
        .await
        .err()
        == "invalid_request"
}

async fn revocation_unauthenticated(s: &Arc<Srv>) -> bool {
    let secret = s.secret(C1);
    let c1 = Auth::Basic(C1, &secret);
    let rt = s.password_rt().await;
    s.post("/revoke", Auth::Id(C1), &[("token", &rt)], &[])
        .await;
    s.post("/revoke", Auth::None, &[("token", &rt)], &[]).await;
    s.refresh(c1, &rt).await.status == 200
}

async fn cross_client_revocation(s: &Arc<Srv>) -> bool {
    let secret = s.secret(C1);
    let c1 = Auth::Basic(C1, &secret);
    let rt = s.password_rt().await;
    let c2 = s.secret("confidential-basic-2");
    let other = Auth::Basic("confidential-basic-2", &c2);
    s.post("/revoke", other, &[("token", &rt)], &[]).await;
    s.refresh(c1, &rt).await.status == 200
}

async fn introspection_hint_strict(s: &Arc<Srv>) -> bool {
    let secret = s.secret(C1);
    let c1 = Auth::Basic(C1, &secret);
    let rt = s.password_rt().await;
    let pairs = [("token", rt.as_str()), ("token_type_hint", "access_token")];
    s.post("/introspect", c1, &pairs, &[]).await.json["active"] == true
}

async fn introspection_unauthenticated(s: &Arc<Srv>) -> bool {
    let rt = s.password_rt().await;
    s.post("/introspect", Auth::Id(C1), &[("token", &rt)], &[])
        .await
        .status
        == 401
}

async fn introspection_verbose_inactive(s: &Arc<Srv>) -> bool {
    s.introspect("no-such-token").await == serde_json::json!({"active": false})
}

async fn expired_access_token_active(s: &Arc<Srv>) -> bool {
    let at = s.password("api:read").await.at();
    s.advance(601).await;
    s.introspect(&at).await["active"] == false
}

async fn dpop_proof_header_unchecked(s: &Arc<Srv>) -> bool {
    cc_with_proof(s, proof(s, "JWT", |_| {})).await.err() == "invalid_dpop_proof"
}

async fn dpop_proof_claims_unchecked(s: &Arc<Srv>) -> bool {
    let p = proof(s, "dpop+jwt", |c| c["htm"] = "GET".into());
    cc_with_proof(s, p).await.err() == "invalid_dpop_proof"
}

async fn dpop_access_token_unbound(s: &Arc<Srv>) -> bool {
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

async fn dpop_confidential_refresh_bound(s: &Arc<Srv>) -> bool {
    let secret = s.secret(C1);
    let c1 = Auth::Basic(C1, &secret);
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

async fn dpop_nonce_unchecked(s: &Arc<Srv>) -> bool {
    let first = cc_with_proof(s, s.dpop(DPOP_DEMO_PEM, None)).await;
    let again = cc_with_proof(s, s.dpop(DPOP_DEMO_PEM, None)).await;
    first.err() == "use_dpop_nonce" && again.err() == "use_dpop_nonce"
}

async fn dpop_proof_wrong_error_code(s: &Arc<Srv>) -> bool {
    cc_with_proof(s, "not-a-jwt".into()).await.err() == "invalid_dpop_proof"
}

async fn introspection_caller_client_id(s: &Arc<Srv>) -> bool {
    let rt = s.password_rt().await;
    s.introspect(&rt).await["client_id"] == C1
}

async fn metadata_endpoints_misreported(s: &Arc<Srv>) -> bool {
    let m = s.get(META).await.json;
    let d = s.running.description();
    m["issuer"] == d.issuer.as_str()
        && m["token_endpoint"] == s.url("/token").as_str()
        && m["revocation_endpoint"] == d.endpoints.revocation.as_str()
        && m["introspection_endpoint"] == d.endpoints.introspection.as_str()
        && m["device_authorization_endpoint"] == d.endpoints.device_authorization.as_str()
}

async fn metadata_capabilities_misreported(s: &Arc<Srv>) -> bool {
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

async fn metadata_wrong_content_type(s: &Arc<Srv>) -> bool {
    s.get(META)
        .await
        .header("content-type")
        .is_some_and(|c| c.starts_with("application/json"))
}

async fn jwks_private_key_exposed(s: &Arc<Srv>) -> bool {
    let set = s.get("/jwks").await.json;
    set["keys"].as_array().is_some_and(|ks| {
        !ks.is_empty()
            && ks
                .iter()
                .all(|k| k.get("d").is_none() && k.get("x").is_some())
    })
}

async fn public_client_credentials(s: &Arc<Srv>) -> bool {
    let pairs = [("grant_type", "client_credentials")];
    let r = s.post("/token", Auth::Id("public-1"), &pairs, &[]).await;
    r.status != 200 && r.json.get("access_token").is_none()
}

async fn expired_code_accepted(s: &Arc<Srv>) -> bool {
    let secret = s.secret(C1);
    let c1 = Auth::Basic(C1, &secret);
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

async fn pkce_plain_accepted(s: &Arc<Srv>) -> bool {
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

async fn device_denial_ignored(s: &Arc<Srv>) -> bool {
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

async fn expired_device_code_accepted(s: &Arc<Srv>) -> bool {
    let (device_code, _) = device_start(s).await;
    s.advance(601).await;
    device_poll(s, &device_code).await.err() == "expired_token"
}

async fn device_slow_down_missing(s: &Arc<Srv>) -> bool {
    let (device_code, _) = device_start(s).await;
    device_poll(s, &device_code).await;
    device_poll(s, &device_code).await.err() == "slow_down"
}

async fn jwt_bearer_signature_unchecked(s: &Arc<Srv>) -> bool {
    let secret = s.secret(C1);
    let c1 = Auth::Basic(C1, &secret);
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

async fn password_grant_always_on(s: &Arc<Srv>) -> bool {
    s.password("api:read").await.err() == "unsupported_grant_type"
}

async fn password_unchecked(s: &Arc<Srv>) -> bool {
    let secret = s.secret(C1);
    let c1 = Auth::Basic(C1, &secret);
    let pairs = [
        ("grant_type", "password"),
        ("username", "alice"),
        ("password", "not-alice-password"),
    ];
    s.post("/token", c1, &pairs, &[]).await.err() == "invalid_grant"
}

async fn token_exchange_subject_unchecked(s: &Arc<Srv>) -> bool {
    let secret = s.secret(C1);
    let c1 = Auth::Basic(C1, &secret);
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

async fn unknown_grant_type_misreported(s: &Arc<Srv>) -> bool {
    let secret = s.secret(C1);
    let c1 = Auth::Basic(C1, &secret);
    let pairs = [("grant_type", "urn:example:no-such-grant")];
    s.post("/token", c1, &pairs, &[]).await.err() == "unsupported_grant_type"
}

async fn wrong_expires_in(s: &Arc<Srv>) -> bool {
    let lifetime = s.running.description().policy.lifetimes.access_token;
    s.password("api:read").await.json["expires_in"] == lifetime
}

async fn grace_ignored(s: &Arc<Srv>) -> bool {
    let secret = s.secret(C1);
    let c1 = Auth::Basic(C1, &secret);
    let rt0 = s.password_rt().await;
    s.refresh(c1, &rt0).await;
    s.refresh(c1, &rt0).await.status == 200
}

async fn rotation_despite_never(s: &Arc<Srv>) -> bool {
    let secret = s.secret(C1);
    let c1 = Auth::Basic(C1, &secret);
    let rt0 = s.password_rt().await;
    let same = s.refresh(c1, &rt0).await.json["refresh_token"] == rt0.as_str();
    same && s.refresh(c1, &rt0).await.status == 200
}

async fn registered_method_not_enforced(s: &Arc<Srv>) -> bool {
    let secret = s.secret(C1);
    // confidential-basic registered client_secret_basic; it tries client_secret_post.
    let pairs = [("grant_type", "client_credentials")];
    s.post("/token", Auth::Post(C1, &secret), &pairs, &[])
        .await
        .err()
        == "invalid_client"
}

async fn dpop_jti_replay_accepted(s: &Arc<Srv>) -> bool {
    let p = s.dpop(DPOP_DEMO_PEM, None);
    cc_with_proof(s, p.clone()).await;
    cc_with_proof(s, p).await.err() == "invalid_dpop_proof"
}

/// The policy a row's probe runs under.
fn policy_for(row: &Row) -> Policy {
    let mut overrides = serde_json::json!({"grants": {"password": true}});
    let extra: Value = serde_json::from_str(row.overrides).expect("overrides are JSON");
    if let (Some(base), Some(extra)) = (overrides.as_object_mut(), extra.as_object()) {
        base.extend(extra.clone());
    }
    Policy::resolve("rfc9700", &overrides).expect("policy")
}

/// The probe passes against the correct server and fails against the one with the flaw.
fn trial(row: &'static Row) -> Result<(), Failed> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let correct = Arc::new(start_with(policy_for(row), &[]).await);
        if !(row.probe)(&correct).await {
            return Err(format!("correct server fails the probe for {}", row.flaw).into());
        }
        let flawed = Arc::new(start_with(policy_for(row), &[row.flaw]).await);
        if (row.probe)(&flawed).await {
            return Err(format!("probe does not catch {}", row.flaw).into());
        }
        Ok(())
    })
}

/// Every flaw has exactly one row.
fn table_covers_every_flaw() -> Result<(), Failed> {
    for flaw in Flaw::ALL {
        let rows = FLAWS.iter().filter(|r| r.flaw == *flaw).count();
        if rows != 1 {
            return Err(format!("{flaw} has {rows} rows").into());
        }
    }
    Ok(())
}

fn main() {
    let args = Arguments::from_args();
    let mut trials = vec![Trial::test(
        "table_covers_every_flaw",
        table_covers_every_flaw,
    )];
    trials.extend(
        FLAWS
            .iter()
            .map(|row| Trial::test(format!("flaw::{}", row.flaw), move || trial(row))),
    );
    libtest_mimic::run(&args, trials).exit();
}
