//! The token endpoint over HTTP on loopback: grants, client authentication, errors and headers.

mod common;

use common::*;
use reference_server::Flaw;

#[tokio::test]
async fn password_refresh_rotation_and_reuse_detection() {
    let s = start("base", &[]).await;
    let r = s.password("openid api:read offline_access").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(r.header("pragma"), Some("no-cache"));
    assert_eq!(r.json["token_type"], "Bearer");
    assert!(r.json["expires_in"].is_u64());
    assert!(r.json["id_token"].is_string());
    let rt1 = r.rt();
    let secret = s.secret("confidential-basic");
    let auth = Auth::Basic("confidential-basic", &secret);
    let r2 = s.refresh(auth, &rt1).await;
    assert_eq!(r2.status, 200, "{}", r2.text);
    let rt2 = r2.rt();
    assert_ne!(rt1, rt2);
    assert_eq!(s.introspect(&rt1).await["active"], false);
    assert_eq!(s.introspect(&rt2).await["active"], true);
    let replay = s.refresh(auth, &rt1).await;
    assert_eq!((replay.status, replay.err()), (400, "invalid_grant"));
    assert_eq!(replay.header("cache-control"), Some("no-store"));
    // base: revoke_family_and_access_tokens.
    assert_eq!(s.introspect(&rt2).await["active"], false);
    assert_eq!(s.introspect(&r2.at()).await["active"], false);
}

#[tokio::test]
async fn basic_secret_must_be_form_encoded() {
    let s = start("base", &[]).await;
    let secret = s.secret("confidential-basic");
    assert!(secret.contains('+') && secret.contains('%') && secret.contains(':'));
    let ok = s
        .post(
            "/token",
            Auth::Basic("confidential-basic", &secret),
            &[("grant_type", "client_credentials")],
            &[],
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert!(ok.json.get("refresh_token").is_none());
    // Raw (not form-encoded) credentials fail with 401 + WWW-Authenticate.
    let raw = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        format!("confidential-basic:{secret}"),
    );
    let bad = s
        .raw(
            "/token",
            b"grant_type=client_credentials".to_vec(),
            &[
                ("content-type", "application/x-www-form-urlencoded".into()),
                ("authorization", format!("Basic {raw}")),
            ],
        )
        .await;
    assert_eq!((bad.status, bad.err()), (401, "invalid_client"));
    assert!(
        bad.header("www-authenticate")
            .is_some_and(|h| h.starts_with("Basic"))
    );
    // The flaw accepts raw credentials instead.
    let f = start("base", &[Flaw::BasicNotFormDecoded]).await;
    let r = f
        .raw(
            "/token",
            b"grant_type=client_credentials".to_vec(),
            &[
                ("content-type", "application/x-www-form-urlencoded".into()),
                ("authorization", format!("Basic {raw}")),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

#[tokio::test]
async fn client_auth_rules() {
    let s = start("base", &[]).await;
    let secret = s.secret("confidential-basic");
    // Two methods at once.
    let two = s
        .post(
            "/token",
            Auth::Basic("confidential-basic", &secret),
            &[("grant_type", "client_credentials"), ("client_secret", "x")],
            &[],
        )
        .await;
    assert_eq!((two.status, two.err()), (400, "invalid_request"));
    // client_secret_post.
    let post_secret = s.secret("confidential-post");
    let ok = s
        .post(
            "/token",
            Auth::Post("confidential-post", &post_secret),
            &[("grant_type", "client_credentials")],
            &[],
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    // Wrong post secret: policy status (401 in base), no Basic challenge needed.
    let bad = s
        .post(
            "/token",
            Auth::Post("confidential-post", "nope"),
            &[("grant_type", "client_credentials")],
            &[],
        )
        .await;
    assert_eq!((bad.status, bad.err()), (401, "invalid_client"));
    // Confidential client refreshing with client_id only.
    let rt = s.password("api:read").await.rt();
    let r = s.refresh(Auth::Id("confidential-basic"), &rt).await;
    assert_eq!(r.err(), "invalid_client");
    // Client not allowed refresh_token.
    let nr = s.secret("confidential-no-refresh");
    let r = s
        .refresh(Auth::Basic("confidential-no-refresh", &nr), &rt)
        .await;
    assert_eq!((r.status, r.err()), (400, "unauthorized_client"));
    // Another client's refresh token.
    let c2 = s.secret("confidential-basic-2");
    let r = s
        .refresh(Auth::Basic("confidential-basic-2", &c2), &rt)
        .await;
    assert_eq!((r.status, r.err()), (400, "invalid_grant"));
    assert_eq!(
        s.refresh(Auth::Basic("confidential-basic", &secret), &rt)
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn malformed_requests_are_clean_4xx_json() {
    let s = start("base", &[]).await;
    let ct = (
        "content-type",
        "application/x-www-form-urlencoded".to_owned(),
    );
    type Case<'a> = (Vec<u8>, Vec<(&'a str, String)>);
    let cases: Vec<Case> = vec![
        (
            b"grant_type=password&grant_type=password".to_vec(),
            vec![ct.clone()],
        ),
        (b"grant_type=%zz".to_vec(), vec![ct.clone()]),
        (b"grant_type=\xff\xfe".to_vec(), vec![ct.clone()]),
        (
            b"{\"grant_type\":\"password\"}".to_vec(),
            vec![("content-type", "application/json".into())],
        ),
        (b"grant_type=password".to_vec(), vec![]),
        (vec![b'a'; 70 * 1024], vec![ct.clone()]),
        (b"".to_vec(), vec![ct.clone()]),
        (b"grant_type=urn:example:nope".to_vec(), vec![ct.clone()]),
    ];
    for (body, headers) in cases {
        let r = s.raw("/token", body, &headers).await;
        assert!((400..500).contains(&r.status), "{} {}", r.status, r.text);
        assert!(r.json["error"].is_string(), "{}", r.text);
        assert_eq!(r.header("cache-control"), Some("no-store"));
    }
    let g = s.get("/token").await;
    assert_eq!((g.status, g.err()), (405, "invalid_request"));
    let unknown = s
        .raw(
            "/token",
            b"grant_type=urn:example:nope".to_vec(),
            std::slice::from_ref(&ct),
        )
        .await;
    assert_eq!(unknown.err(), "unsupported_grant_type");
    let flawed = start("base", &[Flaw::ServerErrorOnMalformedBody]).await;
    assert_eq!(
        flawed
            .raw("/token", b"grant_type=%zz".to_vec(), &[ct])
            .await
            .status,
        500
    );
}

#[tokio::test]
async fn code_flow_with_pkce_and_replay() {
    let s = start("rfc9700", &[]).await;
    let r = s.public_tokens("public-1", "openid api:read").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let rt = r.rt();
    let id = r.json["id_token"].as_str().expect("id token").to_owned();
    // Refresh as a public client with client_id; the ID token keeps iss/sub/aud, drops nonce.
    let r2 = s.refresh(Auth::Id("public-1"), &rt).await;
    assert_eq!(r2.status, 200, "{}", r2.text);
    let claims = |jwt: &str| -> serde_json::Value {
        let p = jwt.split('.').nth(1).expect("payload");
        let b = base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, p)
            .expect("b64");
        serde_json::from_slice(&b).expect("json")
    };
    let (c1, c2) = (
        claims(&id),
        claims(r2.json["id_token"].as_str().expect("id")),
    );
    assert_eq!(c1["nonce"], "n1");
    assert!(c2.get("nonce").is_none());
    for k in ["iss", "sub", "aud"] {
        assert_eq!(c1[k], c2[k]);
    }
    // Another public client's id with this token.
    let other = s.refresh(Auth::Id("public-2"), &r2.rt()).await;
    assert_eq!(other.err(), "invalid_grant");
}

#[tokio::test]
async fn metadata_and_jwks() {
    let s = start("rfc9700", &[]).await;
    let m = s.get("/.well-known/oauth-authorization-server").await;
    assert_eq!(m.status, 200);
    assert_eq!(m.json["issuer"], s.running.base_url());
    let grants = m.json["grant_types_supported"].as_array().expect("grants");
    assert!(grants.iter().any(|g| g == "refresh_token"));
    assert!(!grants.iter().any(|g| g == "password"));
    assert_eq!(
        m.json["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    let j = s.get("/jwks").await;
    assert_eq!(j.json["keys"][0]["alg"], "ES256");
}
