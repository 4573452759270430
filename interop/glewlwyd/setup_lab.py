#!/usr/bin/env python3
"""Configures a fresh Glewlwyd through its admin API (docs: API.md, OIDC.md) for the lab.

Reads GLEWLWYD_URL and the secrets start.sh exported. Creates the scopes `read`, `write` and
`admin` (the user and clients may have it, the lab's bootstrap never asks for it: tokencert's
`scopes.outside`),
the test user, the test clients, three OIDC plugin instances, and the user's consent to every
client (Glewlwyd asks the user to grant scopes per client; a person would click "grant" once;
the scope list is space-separated, although API.md says comma-separated: src/scope.c).
Then replaces the package's default admin password. Secrets are never printed.
"""
import http.cookiejar
import json
import os
import sys
import urllib.error
import urllib.request

BASE = os.environ["GLEWLWYD_URL"].rstrip("/") + "/api"
CALLBACK = "http://127.0.0.1:9/callback"  # nothing listens: the login hook only reads it
SCOPES = ["openid", "read", "write", "admin"]


class Session:
    def __init__(self):
        jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))

    def call(self, method, path, body=None, ok=(200,)):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(BASE + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with self.opener.open(req, timeout=20) as r:
                status, text = r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            status, text = e.code, e.read().decode()
        if status not in ok:
            sys.exit(f"setup_lab.py: {method} {path} answered {status}: {text[:300]}")
        return text


def plugin(name, rolling, one_use):
    return {
        "module": "oidc",
        "name": name,
        "display_name": f"tokencert lab ({name})",
        "enabled": True,
        "parameters": {
            "iss": f"{os.environ['GLEWLWYD_URL'].rstrip('/')}/api/{name}",
            "jwt-type": "rsa",                   # RS256, the key pair start.sh generated
            "jwt-key-size": "256",
            "key": open(os.environ["GLEWLWYD_KEY"]).read(),
            "cert": open(os.environ["GLEWLWYD_CERT"]).read(),
            "access-token-duration": 3600,       # documented defaults
            "refresh-token-duration": 1209600,
            "code-duration": 600,
            "refresh-token-rolling": rolling,
            "refresh-token-one-use": one_use,
            "allow-non-oidc": True,              # OAuth2 requests without openid, password, client_credentials
            "auth-type-code-enabled": True,
            "auth-type-code-revoke-replayed": False,
            "auth-type-token-enabled": False,
            "auth-type-id-token-enabled": True,
            "auth-type-password-enabled": True,
            "auth-type-client-enabled": True,
            "auth-type-device-enabled": False,
            "auth-type-refresh-enabled": True,
            "pkce-allowed": True,
            "pkce-method-plain-allowed": False,
            "introspection-revocation-allowed": True,
            "introspection-revocation-allow-target-client": True,
            "jwks-show": True,
            # client assertions (client_secret_jwt, private_key_jwt) at the token endpoint:
            # OIDC.md "Allow request parameter"; the client property that holds a PEM public key
            "request-parameter-allow": True,
            "client-pubkey-parameter": "pubkey",
            "scope": [],
        },
    }


def client(client_id, secret=None, types=("code", "refresh_token", "password", "client_credentials", "delete_token"),
           method="client_secret_basic", **extra):
    c = {
        "client_id": client_id,
        "name": client_id,
        "confidential": secret is not None,
        "redirect_uri": [CALLBACK],
        "authorization_type": list(types),
        "scope": SCOPES,
        "enabled": True,
    }
    if secret is not None:
        c["password"] = secret
        # a confidential client authenticates only with the methods listed here
        # (is_client_auth_method_allowed in src/plugin/protocol_oidc.c): none listed, none allowed
        c["token_endpoint_auth_method"] = [method]
    return c | extra


def main():
    env = os.environ
    admin = Session()
    admin.call("POST", "/auth/", {"username": "admin", "password": "password"})
    # Every client authentication and login hashes the secret with PBKDF2, 150000 rounds by
    # default (G_PBKDF2_ITERATOR_DEFAULT); on a shared 2-core machine that makes each token
    # request take seconds. The lab lowers the database modules' documented
    # `pbkdf2-iterations` before any secret is stored: only hashing cost changes.
    for kind in ("user", "client"):
        mod = json.loads(admin.call("GET", f"/mod/{kind}/database"))
        mod["parameters"]["pbkdf2-iterations"] = 1000
        admin.call("PUT", f"/mod/{kind}/database", {k: mod[k] for k in mod if k not in ("module",)} | {"module": mod["module"]})
    for s in ("read", "write", "admin"):
        admin.call("POST", "/scope/", {"name": s, "display_name": s, "description": f"lab scope {s}",
                                        "password_required": False, "scheme": {}})
    admin.call("POST", "/user/", {"username": env["TOKENCERT_USER"], "name": "tokencert test user",
                                  "email": "alice@tokencert.invalid", "password": env["TOKENCERT_USER_PASSWORD"],
                                  "scope": SCOPES + ["g_profile"], "enabled": True})
    clients = [
        client("tokencert-conf", env["TOKENCERT_CONF_SECRET"]),
        client("tokencert-conf-2", env["TOKENCERT_CONF2_SECRET"]),
        client("tokencert-post", env["TOKENCERT_POST_SECRET"], method="client_secret_post"),
        client("tokencert-special", env["TOKENCERT_SPECIAL_SECRET"]),   # + % : in the secret
        client("tokencert-no-refresh", env["TOKENCERT_NO_REFRESH_SECRET"], ("code", "password")),
        # client_secret_jwt verifies the HMAC with the client's `client_secret`, stored as is
        # (OIDC.md "Client secret vs password"); private_key_jwt with its `pubkey` (PEM)
        client("tokencert-secret-jwt", env["TOKENCERT_SECRET_JWT_SECRET"], method="client_secret_jwt",
               client_secret=env["TOKENCERT_SECRET_JWT_SECRET"]),
        client("tokencert-pkjwt", env["TOKENCERT_SECRET_JWT_SECRET"] + "-unused", method="private_key_jwt",
               pubkey=open(env["GLEWLWYD_PKJWT_PUB"]).read()),
        client("tokencert-public", None, ("code", "refresh_token")),
        client("tokencert-public-2", None, ("code", "refresh_token")),
    ]
    for c in clients:
        admin.call("POST", "/client/", c)
    admin.call("POST", "/mod/plugin/", plugin("oidc-rolling", True, "never"))
    admin.call("POST", "/mod/plugin/", plugin("oidc-fixed", False, "never"))
    admin.call("POST", "/mod/plugin/", plugin("oidc-oneuse", True, "always"))
    user = Session()
    user.call("POST", "/auth/", {"username": env["TOKENCERT_USER"], "password": env["TOKENCERT_USER_PASSWORD"]})
    for c in clients:
        user.call("PUT", f"/auth/grant/{c['client_id']}", {"scope": " ".join(SCOPES)})
    admin.call("PUT", "/profile/password", {"old_password": "password", "password": env["GLEWLWYD_ADMIN_PASSWORD"]})
    print("setup_lab.py: glewlwyd configured (user, 9 clients, plugins oidc-rolling, oidc-fixed, oidc-oneuse)")


if __name__ == "__main__":
    main()
