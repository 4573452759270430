'use strict';
// An Express app around @node-oauth/oauth2-server 5.x, written the way the library's
// documentation integrates it: `server.token()` and `server.authorize()` behind Express
// routes, an in-memory model (docs "Model Overview"), a login page whose session the
// `authenticateHandler` reads. The library ships neither a revocation nor an introspection
// endpoint, nor metadata, so neither does this app.
//
// Configuration comes from the environment (start.sh writes it):
//   PORT, ROTATE ("1": alwaysIssueNewRefreshToken true, the library default; "0": false),
//   CLIENTS_FILE (JSON list of clients, with secrets), USER_NAME, USER_PASSWORD.
const crypto = require('crypto');
const fs = require('fs');
const express = require('express');
const OAuth2Server = require('@node-oauth/oauth2-server');
const { Request, Response } = OAuth2Server;

const PORT = Number(process.env.PORT || 18401);
const ROTATE = process.env.ROTATE !== '0';
const clients = JSON.parse(fs.readFileSync(process.env.CLIENTS_FILE, 'utf8'));
const users = [{ id: 'u1', username: process.env.USER_NAME, password: process.env.USER_PASSWORD }];
// `admin` is valid for every client, but the lab's bootstrap asks for `read write` only: a
// refresh asking for it asks for more than the grant (the profiles' `scopes.outside`).
const VALID_SCOPES = ['read', 'write', 'admin'];

// ---- in-memory model (docs: "Model Overview") ----
const tokens = [];          // saved token objects
const codes = [];           // saved authorization codes

function sameSecret(a, b) {
  const x = Buffer.from(String(a)); const y = Buffer.from(String(b));
  return x.length === y.length && crypto.timingSafeEqual(x, y);
}

const model = {
  // The library calls getClient(id, null) from the authorization endpoint, and
  // getClient(id, undefined) from the token endpoint when the request carried no secret
  // (only reachable for grants listed in requireClientAuthentication as false). A
  // confidential client must never be authenticated without its secret.
  async getClient(clientId, clientSecret) {
    const c = clients.find((x) => x.id === clientId);
    if (!c) return false;
    if (clientSecret === null) return c;                       // authorize: lookup only
    if (clientSecret === undefined) return c.secret ? false : c; // token: public clients only
    if (!c.secret || !sameSecret(c.secret, clientSecret)) return false;
    return c;
  },
  async saveToken(token, client, user) {
    const saved = { ...token, client: { id: client.id }, user: { id: user.id } };
    tokens.push(saved);
    return { ...saved, client, user };
  },
  async getAccessToken(accessToken) {
    const t = tokens.find((x) => x.accessToken === accessToken);
    return t ? { ...t } : false;
  },
  async getRefreshToken(refreshToken) {
    const t = tokens.find((x) => x.refreshToken === refreshToken);
    return t ? { ...t } : false;
  },
  // Revokes the refresh token (the docs: "Invoked to revoke a refresh token").
  async revokeToken(token) {
    const t = tokens.find((x) => x.refreshToken === token.refreshToken);
    if (!t) return false;
    delete t.refreshToken;
    delete t.refreshTokenExpiresAt;
    return true;
  },
  async saveAuthorizationCode(code, client, user) {
    const saved = { ...code, client: { id: client.id }, user: { id: user.id } };
    codes.push(saved);
    return saved;
  },
  async getAuthorizationCode(authorizationCode) {
    const c = codes.find((x) => x.authorizationCode === authorizationCode);
    return c ? { ...c } : false;
  },
  async revokeAuthorizationCode(code) {
    const i = codes.findIndex((x) => x.authorizationCode === code.authorizationCode);
    if (i < 0) return false;
    codes.splice(i, 1);
    return true;
  },
  async getUser(username, password) {
    const u = users.find((x) => x.username === username && sameSecret(x.password, password));
    return u ? { id: u.id } : false;
  },
  // Scopes: every requested value must be known and allowed to the client; no scope asked
  // for means the client's default scope.
  // client_credentials: the client acts on its own behalf.
  async getUserFromClient(client) {
    return { id: `client:${client.id}` };
  },
  async validateScope(user, client, scope) {
    const allowed = client.scopes || VALID_SCOPES;
    if (!scope || scope.length === 0) return allowed;
    return scope.every((s) => allowed.includes(s)) ? scope : false;
  },
  async verifyScope(token, scope) {
    return scope.every((s) => (token.scope || []).includes(s));
  },
};

const oauth = new OAuth2Server({
  model,
  accessTokenLifetime: 3600,             // library defaults, stated explicitly
  refreshTokenLifetime: 1209600,
  // 30 s instead of the default 300: a code is exchanged within a second here, and an expired
  // code (grants.code-expired-invalid-grant) can then be waited for in real time, inside
  // tokencert's --max-wait (120 s)
  authorizationCodeLifetime: 30,
  alwaysIssueNewRefreshToken: ROTATE,
  allowEmptyState: false,
  // Public clients refresh without a secret (RFC 6749 §6: the client authenticates only "if
  // the client type is confidential"); getClient() above refuses confidential ones.
  requireClientAuthentication: { refresh_token: false },
});

// ---- sessions for the login page (a cookie naming an in-memory session) ----
const sessions = new Map();
function sessionUser(req) {
  const m = /(?:^|;\s*)sid=([A-Za-z0-9_-]+)/.exec(req.headers.cookie || '');
  return m ? sessions.get(m[1]) : undefined;
}
function esc(s) {
  return String(s).replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

const app = express();
app.disable('x-powered-by');
app.use(express.urlencoded({ extended: false }));

function sendOAuth(res, response) {
  res.set(response.headers);
  res.status(response.status || 200);
  if (response.status === 302 && response.headers.location) return res.end();
  return res.json(response.body);
}

// The token endpoint, as the library's documentation wires it: on success the library has put
// the token response into `response`; on an error, `err` is an OAuthError whose `code` is the
// HTTP status and `name` the RFC 6749 error code. (Errors the library raises before its own
// try block, e.g. a body that is not form-encoded, leave `response` untouched.)
app.post('/token', async (req, res) => {
  const request = new Request(req);
  const response = new Response(res);
  try {
    await oauth.token(request, response);
    sendOAuth(res, response);
  } catch (err) {
    res.set(response.headers);
    if (!(err instanceof OAuth2Server.OAuthError)) {
      return res.status(500).json({ error: 'server_error' });
    }
    res.status(err.code).json({ error: err.name, error_description: err.message });
  }
});

app.get('/login', (req, res) => {
  res.type('html').send(`<!doctype html><title>Sign in</title>
<form method="post" action="/login">
<input type="hidden" name="next" value="${esc(req.query.next || '/')}">
<label>Username <input name="username"></label>
<label>Password <input type="password" name="password"></label>
<button type="submit">Sign in</button></form>`);
});

app.post('/login', async (req, res) => {
  const user = await model.getUser(req.body.username || '', req.body.password || '');
  if (!user) return res.status(401).type('html').send('<p>Wrong username or password</p>');
  const sid = crypto.randomBytes(24).toString('base64url');
  sessions.set(sid, user);
  const next = typeof req.body.next === 'string' && req.body.next.startsWith('/authorize') ? req.body.next : '/';
  res.set('Set-Cookie', `sid=${sid}; HttpOnly; SameSite=Lax; Path=/`);
  res.redirect(302, next);
});

// The authorization endpoint: a signed-in user consents implicitly (test deployment).
app.get('/authorize', async (req, res) => {
  const user = sessionUser(req);
  if (!user) return res.redirect(302, `/login?next=${encodeURIComponent(req.originalUrl)}`);
  const request = new Request(req);
  const response = new Response(res);
  try {
    await oauth.authorize(request, response, { authenticateHandler: { handle: () => user } });
  } catch (e) {
    if (!response.headers.location) {
      return res.status(e.code || 500).json({ error: e.name, error_description: e.message });
    }
  }
  sendOAuth(res, response);
});

app.listen(PORT, '127.0.0.1', () => {
  console.log(`node-oauth2-server app on http://127.0.0.1:${PORT} (alwaysIssueNewRefreshToken=${ROTATE})`);
});
