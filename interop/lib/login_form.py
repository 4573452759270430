#!/usr/bin/env python3
"""tokencert bootstrap `command` hook: logs the test user in through a server's HTML login form.

Reads what tokencert gives every hook: TOKENCERT_AUTHORIZE_URL and the profile's test user,
TOKENCERT_TEST_USER and TOKENCERT_TEST_USER_PASSWORD.
Follows redirects by hand with a cookie jar; on a page with a password field it fills in the
user's credentials and submits that form; on a page with another form (a consent page) it
submits the form with its "allow" button. It stops at the first redirect to the authorization
request's redirect_uri and prints that URL on stdout (tokencert reads the code from it).
Nothing listens on the redirect_uri. Standard library only; secrets are never printed.
"""
import html.parser
import http.cookiejar
import os
import sys
import urllib.error
import urllib.parse
import urllib.request

MAX_STEPS = 20


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Forms(html.parser.HTMLParser):
    """Collects every <form> with its inputs and submit buttons."""

    def __init__(self):
        super().__init__()
        self.forms = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.forms.append({"action": a.get("action") or "", "method": (a.get("method") or "get").lower(),
                               "inputs": [], "buttons": []})
        elif self.forms and tag in ("input", "button", "select", "textarea"):
            kind = (a.get("type") or ("submit" if tag == "button" else "text")).lower()
            entry = (a.get("name"), a.get("value") or "", kind)
            if kind == "submit":
                self.forms[-1]["buttons"].append(entry)
            elif kind in ("checkbox", "radio"):
                if "checked" in a:
                    self.forms[-1]["inputs"].append(entry)
            else:
                self.forms[-1]["inputs"].append(entry)


def fail(msg):
    print(f"login_form.py: {msg}", file=sys.stderr)
    sys.exit(1)


def main():
    url = os.environ.get("TOKENCERT_AUTHORIZE_URL") or fail("TOKENCERT_AUTHORIZE_URL is not set")
    user = os.environ.get("TOKENCERT_TEST_USER") or fail("TOKENCERT_TEST_USER is not set (the profile's test_user)")
    password = os.environ.get("TOKENCERT_TEST_USER_PASSWORD") or fail(
        "TOKENCERT_TEST_USER_PASSWORD is not set (the profile's test_user.password)")
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    redirect_uri = (q.get("redirect_uri") or [""])[0]
    redirect_uri or fail("the authorization URL has no redirect_uri")
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)
    method, data, logged_in = "GET", None, False
    for _ in range(MAX_STEPS):
        if url.startswith(redirect_uri):
            print(url)
            return
        req = urllib.request.Request(url, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/x-www-form-urlencoded")
            req.add_header("Referer", url)
        try:
            resp = opener.open(req, timeout=20)
            status, headers, body = resp.status, resp.headers, resp.read()
        except urllib.error.HTTPError as e:
            status, headers, body = e.code, e.headers, e.read()
        if 300 <= status < 400 and headers.get("Location"):
            url, method, data = urllib.parse.urljoin(url, headers["Location"]), "GET", None
            continue
        if status >= 400:
            fail(f"{method} {url.split('?')[0]} answered {status}")
        parser = Forms()
        parser.feed(body.decode("utf-8", "replace"))
        if not parser.forms:
            fail(f"{url.split('?')[0]} answered {status} with no form and no redirect")
        form = parser.forms[0]
        fields = [(n, v) for n, v, _ in form["inputs"] if n]
        if any(k == "password" for _, _, k in form["inputs"]):
            if logged_in:
                fail("the login form came back: wrong test user or password")
            logged_in = True
            names = [n for n, _, k in form["inputs"] if k in ("text", "email") and n]
            user_field = next((n for n in names if "user" in n.lower() or "login" in n.lower()), names[0] if names else "username")
            pw_field = next(n for n, _, k in form["inputs"] if k == "password")
            fields = [(n, v) for n, v in fields if n not in (user_field, pw_field)]
            fields += [(user_field, user), (pw_field, password)]
        buttons = form["buttons"]
        allow = next((b for b in buttons if b[0] and any(w in (b[0] + b[1]).lower() for w in ("allow", "accept", "authorize", "yes"))), None)
        if allow is None and buttons and buttons[0][0]:
            allow = buttons[0]
        if allow:
            fields.append((allow[0], allow[1]))
        action = urllib.parse.urljoin(url, form["action"] or url)
        encoded = urllib.parse.urlencode(fields)
        if form["method"] == "post":
            url, method, data = action, "POST", encoded.encode()
        else:
            url, method, data = action.split("?")[0] + "?" + encoded, "GET", None
    fail(f"no redirect to the redirect_uri after {MAX_STEPS} steps")


if __name__ == "__main__":
    main()
