#!/usr/bin/env python3
"""tokencert bootstrap `command` hook for Glewlwyd: signs the test user in and follows the code flow.

Glewlwyd's login page is a JavaScript application; it calls POST /api/auth/ with the user's
name and password, which sets the session cookie. This hook does the same, then GETs
TOKENCERT_AUTHORIZE_URL with that cookie. Glewlwyd always sends a browser to its login page
first (login.html?callback_url=<the authorization URL>); once the user is signed in and has
granted the client's scopes (setup_lab.py did), the page sends the browser back to callback_url
with `g_continue` added, and Glewlwyd redirects to the redirect_uri with the code. The hook
does what the page does and prints that final URL.

Reads what tokencert gives every hook: TOKENCERT_AUTHORIZE_URL and the profile's test user,
TOKENCERT_TEST_USER and TOKENCERT_TEST_USER_PASSWORD. Secrets are never printed.
"""
import http.cookiejar
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def env(name):
    return os.environ.get(name) or sys.exit(f"login.py: {name} is not set (tokencert sets it from the profile)")


def main():
    url = env("TOKENCERT_AUTHORIZE_URL")
    parts = urllib.parse.urlsplit(url)
    api = f"{parts.scheme}://{parts.netloc}/api"
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)
    body = json.dumps({"username": env("TOKENCERT_TEST_USER"), "password": env("TOKENCERT_TEST_USER_PASSWORD")})
    req = urllib.request.Request(api + "/auth/", data=body.encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        opener.open(req, timeout=20).read()
    except urllib.error.HTTPError as e:
        sys.exit(f"login.py: POST /api/auth/ answered {e.code}")
    redirect_uri = urllib.parse.parse_qs(parts.query).get("redirect_uri", [""])[0]
    for _ in range(3):
        try:
            r = opener.open(urllib.request.Request(url), timeout=20)
            status, location = r.status, r.headers.get("Location")
        except urllib.error.HTTPError as e:
            status, location = e.code, e.headers.get("Location")
        if not location:
            sys.exit(f"login.py: the authorization endpoint answered {status} without a redirect")
        location = urllib.parse.urljoin(url, location)
        if redirect_uri and location.startswith(redirect_uri):
            print(location)
            return
        callback = urllib.parse.parse_qs(urllib.parse.urlsplit(location).query).get("callback_url")
        if not callback:
            sys.exit(f"login.py: unexpected redirect to {location.split('?')[0]}")
        url = callback[0] + "&g_continue"
    sys.exit("login.py: no redirect to the redirect_uri")


if __name__ == "__main__":
    main()
