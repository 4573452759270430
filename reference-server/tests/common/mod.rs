//! Shared helpers for the HTTP tests: start a server on loopback, send form requests.
#![allow(dead_code)]

use base64::Engine;
use reference_server::policy::Policy;
use reference_server::{Config, Flaw, Running, spawn};
use serde_json::Value;

pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

pub struct Srv {
    pub running: Running,
    pub http: reqwest::Client,
}

pub struct Resp {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub json: Value,
    pub text: String,
}

impl Resp {
    pub fn err(&self) -> &str {
        self.json["error"].as_str().unwrap_or("")
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    pub fn at(&self) -> String {
        self.json["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }
    pub fn rt(&self) -> String {
        self.json["refresh_token"]
            .as_str()
            .expect("refresh_token")
            .to_owned()
    }
}

/// How to authenticate a request.
#[derive(Clone, Copy)]
pub enum Auth<'a> {
    None,
    /// client_id only (public client).
    Id(&'a str),
    /// Basic with form-encoded parts.
    Basic(&'a str, &'a str),
    /// client_secret_post.
    Post(&'a str, &'a str),
}

pub fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

pub fn form(pairs: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

pub async fn start(preset: &str, flaws: &[Flaw]) -> Srv {
    start_with(Policy::preset(preset).expect("preset"), flaws).await
}

pub async fn start_with(policy: Policy, flaws: &[Flaw]) -> Srv {
    let mut config = Config::new(policy);
    config.flaws = flaws.to_vec();
    let running = spawn(config).await.expect("spawn");
    // reqwest is built without a default TLS provider in the workspace (tokencert's choice).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    Srv { running, http }
}

impl Srv {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.running.base_url())
    }

    pub fn secret(&self, client: &str) -> String {
        self.running
            .description()
            .client(client)
            .and_then(|c| c.secret.clone())
            .expect("secret")
    }

    pub async fn raw(&self, path: &str, body: Vec<u8>, headers: &[(&str, String)]) -> Resp {
        let mut req = self.http.post(self.url(path)).body(body);
        for (k, v) in headers {
            req = req.header(*k, v.as_str());
        }
        into_resp(req.send().await.expect("send")).await
    }

    pub async fn post(
        &self,
        path: &str,
        auth: Auth<'_>,
        pairs: &[(&str, &str)],
        extra: &[(&str, String)],
    ) -> Resp {
        let mut pairs: Vec<(&str, &str)> = pairs.to_vec();
        let mut headers: Vec<(&str, String)> = vec![(
            "content-type",
            "application/x-www-form-urlencoded".to_owned(),
        )];
        match auth {
            Auth::None => {}
            Auth::Id(id) => pairs.push(("client_id", id)),
            Auth::Basic(id, secret) => {
                let b64 = base64::engine::general_purpose::STANDARD.encode(format!(
                    "{}:{}",
                    enc(id),
                    enc(secret)
                ));
                headers.push(("authorization", format!("Basic {b64}")));
            }
            Auth::Post(id, secret) => {
                pairs.push(("client_id", id));
                pairs.push(("client_secret", secret));
            }
        }
        headers.extend(extra.iter().cloned());
        self.raw(path, form(&pairs).into_bytes(), &headers).await
    }

    pub async fn get(&self, path: &str) -> Resp {
        into_resp(self.http.get(self.url(path)).send().await.expect("send")).await
    }

    /// Password grant for alice as `confidential-basic`.
    pub async fn password(&self, scope: &str) -> Resp {
        let secret = self.secret("confidential-basic");
        self.post(
            "/token",
            Auth::Basic("confidential-basic", &secret),
            &[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", "alice-password"),
                ("scope", scope),
            ],
            &[],
        )
        .await
    }

    /// Runs /authorize with unattended consent and returns the code.
    pub async fn code(&self, client: &str, scope: &str) -> String {
        let q = form(&[
            ("response_type", "code"),
            ("client_id", client),
            ("redirect_uri", reference_server::config::REDIRECT_URI),
            ("scope", scope),
            ("state", "xyz"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
            ("login_hint", "alice"),
            ("nonce", "n1"),
        ]);
        let r = self.get(&format!("/authorize?{q}")).await;
        assert_eq!(r.status, 302, "{}", r.text);
        let loc = url::Url::parse(r.header("location").expect("location")).expect("url");
        let pairs: std::collections::HashMap<_, _> = loc.query_pairs().into_owned().collect();
        assert_eq!(pairs.get("state").map(String::as_str), Some("xyz"));
        pairs.get("code").expect("code").clone()
    }

    /// Code flow for a public client: code → tokens.
    pub async fn public_tokens(&self, client: &str, scope: &str) -> Resp {
        let code = self.code(client, scope).await;
        self.post(
            "/token",
            Auth::Id(client),
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", reference_server::config::REDIRECT_URI),
                ("code_verifier", VERIFIER),
            ],
            &[],
        )
        .await
    }

    pub async fn refresh(&self, auth: Auth<'_>, rt: &str) -> Resp {
        self.post(
            "/token",
            auth,
            &[("grant_type", "refresh_token"), ("refresh_token", rt)],
            &[],
        )
        .await
    }

    pub async fn introspect(&self, token: &str) -> Value {
        let secret = self.secret("confidential-basic-2");
        let r = self
            .post(
                "/introspect",
                Auth::Basic("confidential-basic-2", &secret),
                &[("token", token)],
                &[],
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.json
    }

    pub async fn advance(&self, seconds: u64) {
        let r = self
            .post(
                "/test/clock/advance",
                Auth::None,
                &[("seconds", &seconds.to_string())],
                &[],
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
}

pub async fn into_resp(r: reqwest::Response) -> Resp {
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.text().await.expect("body");
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    Resp {
        status,
        headers,
        json,
        text,
    }
}

/// Signs `claims` with an ES256 PKCS#8 PEM, optionally with a `typ` and an embedded public `jwk`.
pub fn sign_es256(pem: &str, typ: Option<&str>, with_jwk: bool, claims: &Value) -> String {
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    let mut h = Header::new(Algorithm::ES256);
    h.typ = typ.map(str::to_owned);
    if with_jwk {
        let (x, y) = reference_server::keys::public_coordinates(pem).expect("coords");
        h.jwk = serde_json::from_value(
            serde_json::json!({"kty": "EC", "crv": "P-256", "x": x, "y": y}),
        )
        .ok();
    }
    jsonwebtoken::encode(
        &h,
        claims,
        &EncodingKey::from_ec_pem(pem.as_bytes()).expect("pem"),
    )
    .expect("sign")
}

pub fn now() -> u64 {
    reference_server::clock::system_now()
}

static JTI: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

pub fn jti() -> String {
    format!(
        "jti-{}",
        JTI.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
    )
}

impl Srv {
    /// A DPoP proof for POST /token with the demo key (or another PEM).
    pub fn dpop(&self, pem: &str, nonce: Option<&str>) -> String {
        let mut claims = serde_json::json!({
            "jti": jti(), "htm": "POST", "htu": self.url("/token"), "iat": now(),
        });
        if let Some(n) = nonce {
            claims["nonce"] = n.into();
        }
        sign_es256(pem, Some("dpop+jwt"), true, &claims)
    }

    /// A private_key_jwt assertion for `confidential-private-key-jwt`.
    pub fn client_assertion(&self, aud: &str) -> String {
        let id = "confidential-private-key-jwt";
        sign_es256(
            reference_server::keys::CLIENT_PRIVATE_KEY_JWT_PEM,
            None,
            false,
            &serde_json::json!({"iss": id, "sub": id, "aud": aud, "exp": now() + 60, "iat": now(), "jti": jti()}),
        )
    }
}

impl Srv {
    /// A fresh refresh token for `confidential-basic` via the password grant, or via the code
    /// flow when the policy has no password grant.
    pub async fn password_rt(&self) -> String {
        if self.running.description().policy.grants.password {
            return self.password("api:read").await.rt();
        }
        let code = self.code("confidential-basic", "api:read").await;
        let secret = self.secret("confidential-basic");
        let r = self
            .post(
                "/token",
                Auth::Basic("confidential-basic", &secret),
                &[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", reference_server::config::REDIRECT_URI),
                    ("code_verifier", VERIFIER),
                ],
                &[],
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.rt()
    }
}
