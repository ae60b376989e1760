// Independent judge of the emulator's OIDC implementation, driven by the Rust test
// `oidc_judge`: discovery -> authorize (code + PKCE S256, state, nonce) -> hosted login form ->
// code -> token -> ID token verified by openid-client against the JWKS -> userinfo.
// Usage: node judge.js <issuer> <client_id> <client_secret> <redirect_uri> <login> <password>
'use strict';

const { Issuer, generators } = require('openid-client');

function field(html, name) {
  const re = new RegExp(`name="${name}" value="([^"]*)"`);
  const m = html.match(re);
  if (!m) throw new Error(`login form has no field ${name}`);
  return m[1].replace(/&amp;/g, '&').replace(/&quot;/g, '"');
}

async function main() {
  const [issuerUrl, clientId, clientSecret, redirectUri, login, password] = process.argv.slice(2);
  const issuer = await Issuer.discover(issuerUrl);
  if (issuer.issuer !== issuerUrl) throw new Error(`issuer mismatch: ${issuer.issuer}`);
  const client = new issuer.Client({
    client_id: clientId,
    client_secret: clientSecret,
    redirect_uris: [redirectUri],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  });
  const codeVerifier = generators.codeVerifier();
  const state = generators.state();
  const nonce = generators.nonce();
  const authUrl = client.authorizationUrl({
    scope: 'openid profile email',
    code_challenge: generators.codeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    redirect_uri: redirectUri,
  });

  let res = await fetch(authUrl, { redirect: 'manual' });
  if (res.status !== 302) throw new Error(`authorize answered ${res.status}`);
  const loginUrl = new URL(res.headers.get('location'), authUrl);
  res = await fetch(loginUrl);
  if (res.status !== 200) throw new Error(`login page answered ${res.status}`);
  const html = await res.text();
  const actionMatch = html.match(/<form method="post" action="([^"]+)"/);
  if (!actionMatch) throw new Error('login page has no form');
  const action = new URL(actionMatch[1].replace(/&amp;/g, '&'), loginUrl);
  const form = new URLSearchParams({
    authRequestID: field(html, 'authRequestID'),
    csrf: field(html, 'csrf'),
    loginName: login,
    password,
  });
  res = await fetch(action, {
    method: 'POST',
    body: form,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    redirect: 'manual',
  });
  if (res.status < 300 || res.status > 399) throw new Error(`login answered ${res.status}`);
  const callback = res.headers.get('location');

  const params = client.callbackParams(callback);
  const tokenSet = await client.callback(redirectUri, params, { code_verifier: codeVerifier, state, nonce });
  const claims = tokenSet.claims(); // signature, iss, aud, exp, nonce and at_hash checked by openid-client
  const userinfo = await client.userinfo(tokenSet);
  process.stdout.write(JSON.stringify({ claims, userinfo, hasRefresh: Boolean(tokenSet.refresh_token) }));
}

main().catch((err) => {
  process.stderr.write(`judge failed: ${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
