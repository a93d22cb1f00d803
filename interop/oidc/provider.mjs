// An OpenID provider for the browser tests (issue 18 point 5): panva's `oidc-provider`, an
// independent, certified implementation, over HTTPS on a loopback port.
//
// usage: node provider.mjs KEY.pem CERT.pem CLIENT_ID CLIENT_SECRET
//   prints {"issuer": "https://127.0.0.1:<port>"} once listening, then reads one line from
//   stdin, the client's redirect URI (Inkan's callback, known only once Inkan runs), and
//   prints {"ready": true}.
//
// Its sign-in page (`/interaction/<uid>`) is a plain form: a login name, which becomes the
// `sub`, and the authentication level (`acr`) the test chooses. ID tokens are signed with
// ES256 under a key made at start.
import Provider from 'oidc-provider';
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import readline from 'node:readline';

const [keyPath, certPath, clientId, clientSecret] = process.argv.slice(2);
const ACRS = ['urn:inkan:test:low', 'urn:inkan:test:high'];

const server = https.createServer({
  key: fs.readFileSync(keyPath),
  cert: fs.readFileSync(certPath),
  minVersion: 'TLSv1.3',
});

function escape(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

async function readForm(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function start(issuer, redirectUri) {
  const signing = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const jwk = { ...signing.export({ format: 'jwk' }), kid: 'test-es256', alg: 'ES256', use: 'sig' };
  const provider = new Provider(issuer, {
    clients: [{
      client_id: clientId,
      client_secret: clientSecret,
      redirect_uris: [redirectUri],
      response_types: ['code'],
      grant_types: ['authorization_code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'ES256',
    }],
    jwks: { keys: [jwk] },
    acrValues: ACRS,
    claims: { openid: ['sub'] },
    pkce: { required: () => true },
    features: { devInteractions: { enabled: false } },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
    findAccount: (ctx, sub) => ({ accountId: sub, claims: () => ({ sub }) }),
  });
  provider.use(async (ctx, next) => {
    const match = ctx.path.match(/^\/interaction\/([\w-]+)$/);
    if (!match) return next();
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    if (ctx.method === 'GET') {
      ctx.type = 'html';
      ctx.body = `<!DOCTYPE html><html><head><title>Test IdP</title></head><body>
        <h1>Test identity provider</h1>
        <form method="post" action="/interaction/${escape(match[1])}">
          <label for="login">Login</label><input id="login" name="login">
          <label for="acr">Level</label>
          <select id="acr" name="acr">${ACRS.map((a) => `<option value="${a}">${a}</option>`).join('')}</select>
          <button id="go" type="submit">Sign in</button>
        </form></body></html>`;
      return undefined;
    }
    const form = await readForm(ctx.req);
    const accountId = form.get('login');
    const grant = new provider.Grant({ accountId, clientId: details.params.client_id });
    grant.addOIDCScope('openid');
    const grantId = await grant.save();
    const result = {
      login: { accountId, acr: form.get('acr'), amr: ['pwd'] },
      consent: { grantId },
    };
    ctx.redirect(await provider.interactionResult(ctx.req, ctx.res, result, {
      mergeWithLastSubmission: false,
    }));
    return undefined;
  });
  server.on('request', provider.callback());
}

server.listen(0, '127.0.0.1', () => {
  const issuer = `https://127.0.0.1:${server.address().port}`;
  console.log(JSON.stringify({ issuer }));
  const lines = readline.createInterface({ input: process.stdin });
  lines.once('line', (redirectUri) => {
    start(issuer, redirectUri.trim());
    console.log(JSON.stringify({ ready: true }));
  });
  lines.on('close', () => process.exit(0));
});
