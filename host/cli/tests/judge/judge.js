// Independent judge of Gatehouse's OIDC login, driven by the Rust test `oidc_judge` against the
// real `gatehouse serve` binary (embedded ZITADEL emulator, as `make run` starts it):
// discovery -> authorize (code + PKCE S256, state, nonce, org scopes) -> hosted login form ->
// code -> token -> ID token verified by openid-client against the JWKS -> userinfo.
// The package (openid-client, pinned) comes from host/zitadel-emulator/tests/judge/.
// Usage: node judge.js <issuer> <client_id> <client_secret> <redirect_uri> <login> <password> <org_id>
'use strict';

const { Issuer, generators } = require('openid-client');

function field(html, name) {
  const m = html.match(new RegExp(`name="${name}" value="([^"]*)"`));
  if (!m) throw new Error(`login form has no field ${name}`);
  return m[1].replace(/&amp;/g, '&').replace(/&quot;/g, '"');
}

async function main() {
  const [issuerUrl, clientId, clientSecret, redirectUri, login, password, orgId] = process.argv.slice(2);
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
    scope: `openid profile email urn:zitadel:iam:user:resourceowner urn:zitadel:iam:org:id:${orgId}`,
    code_challenge: generators.codeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    redirect_uri: redirectUri,
  });

  // The browser's part: authorize -> hosted login page -> form post -> redirect with the code.
  let res = await fetch(authUrl, { redirect: 'manual' });
  if (res.status !== 302) throw new Error(`authorize answered ${res.status}`);
  const loginUrl = new URL(res.headers.get('location'), authUrl);
  res = await fetch(loginUrl);
  if (res.status !== 200) throw new Error(`login page answered ${res.status}`);
  const html = await res.text();
  const action = html.match(/<form method="post" action="([^"]+)"/);
  if (!action) throw new Error('login page has no form');
  res = await fetch(new URL(action[1].replace(/&amp;/g, '&'), loginUrl), {
    method: 'POST',
    body: new URLSearchParams({
      authRequestID: field(html, 'authRequestID'),
      csrf: field(html, 'csrf'),
      loginName: login,
      password,
    }),
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    redirect: 'manual',
  });
  if (res.status < 300 || res.status > 399) throw new Error(`login answered ${res.status}`);
  const callback = res.headers.get('location');

  const params = client.callbackParams(callback);
  // openid-client checks state, exchanges the code with the verifier, and verifies the ID
  // token: signature against the JWKS, iss, aud, azp, exp, iat, nonce, at_hash.
  const tokenSet = await client.callback(redirectUri, params, { code_verifier: codeVerifier, state, nonce });
  const claims = tokenSet.claims();
  const userinfo = await client.userinfo(tokenSet);
  process.stdout.write(JSON.stringify({ claims, userinfo }));
}

main().catch((err) => {
  process.stderr.write(`judge failed: ${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
