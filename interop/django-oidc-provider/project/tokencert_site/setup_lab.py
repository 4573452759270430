"""Creates (or updates) the lab's test user and clients from environment variables.
Run with `manage.py shell -c 'from tokencert_site.setup_lab import run; run()'`. Idempotent."""
import os

from django.contrib.auth.models import User
from oidc_provider.models import Client, ResponseType, RSAKey

CALLBACK = "http://127.0.0.1:9/callback"  # nothing listens: the login hook only reads it
SCOPES = "openid profile email"
LAB_CLIENTS = ["tokencert-conf", "tokencert-conf-2", "tokencert-post", "tokencert-special", "tokencert-public", "tokencert-public-2"]


def client(client_id, client_type, secret="", scope=SCOPES):
    c, _ = Client.objects.get_or_create(client_id=client_id, defaults={"name": client_id})
    c.name = client_id
    c.client_type = client_type
    c.client_secret = secret
    c.jwt_alg = "RS256"
    c.require_consent = False          # a test client: no consent page (documented field)
    c.reuse_consent = True
    c._redirect_uris = CALLBACK
    c._scope = scope
    c.save()
    c.response_types.set(ResponseType.objects.filter(value="code"))


def run():
    env = os.environ
    u, _ = User.objects.get_or_create(username=env["TOKENCERT_USER"])
    u.set_password(env["TOKENCERT_USER_PASSWORD"])
    u.email = "alice@tokencert.invalid"
    u.save()
    # Introspection answers only clients whose scope lists `token_introspection`, and, with
    # OIDC_INTROSPECTION_VALIDATE_AUDIENCE_SCOPE (default True), only about tokens whose audience
    # (the client_id they were issued to) is also in that scope
    # (oidc_provider/lib/endpoints/introspection.py). The lab's confidential client plays the
    # resource server for every lab client.
    audiences = " ".join(LAB_CLIENTS)
    client("tokencert-conf", "confidential", env["TOKENCERT_CONF_SECRET"], f"{SCOPES} token_introspection {audiences}")
    client("tokencert-conf-2", "confidential", env["TOKENCERT_CONF2_SECRET"])
    client("tokencert-post", "confidential", env["TOKENCERT_POST_SECRET"])
    client("tokencert-special", "confidential", env["TOKENCERT_SPECIAL_SECRET"])  # has + % : in its secret
    client("tokencert-public", "public")
    client("tokencert-public-2", "public")
    if not RSAKey.objects.exists():
        from django.core.management import call_command

        call_command("creatersakey")
