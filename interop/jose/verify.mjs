#!/usr/bin/env node
// Independent verification of what Inkan produces in JOSE formats, with the npm packages
// `jose` (panva) and `@sd-jwt/sd-jwt-vc` (OpenWallet Foundation). Used by the Rust test
// crates/inkan-formats/tests/jose_interop.rs; exit status 0 only when the token verifies.
//
//   node verify.mjs jws|jwt|sd-jwt TOKEN_FILE JWK_FILE|embedded [--typ T] [--aud A] [--nonce N] [--now UNIX]
//
// jws:    compact JWS signature (jose.compactVerify), optional `typ` check;
// jwt:    JWT (jose.jwtVerify: signature, typ, aud, nbf/exp/iat at --now), optional nonce;
//         JWK_FILE `embedded` takes the key from the `jwk` header (OpenID4VCI proofs);
// sd-jwt: SD-JWT VC (SDJwtVcInstance.verify: issuer signature, disclosures, and with --nonce
//         the KB-JWT signed by the `cnf` key with its nonce and sd_hash), then `typ` and `aud`.
// Prints the verified header and claims as JSON on success.
import { readFileSync } from 'node:fs';
import { createHash, createPublicKey } from 'node:crypto';
import * as jose from 'jose';
import { SDJwtVcInstance } from '@sd-jwt/sd-jwt-vc';

function fail(message) {
  process.stderr.write(`verify.mjs: ${message}\n`);
  process.exit(1);
}

const [kind, tokenFile, jwkFile, ...rest] = process.argv.slice(2);
if (!kind || !tokenFile || !jwkFile) fail('usage: verify.mjs jws|jwt|sd-jwt TOKEN_FILE JWK_FILE|embedded [--typ T] [--aud A] [--nonce N] [--now UNIX]');
const opts = {};
for (let i = 0; i < rest.length; i += 2) {
  if (!rest[i].startsWith('--') || rest[i + 1] === undefined) fail(`bad option ${rest[i]}`);
  opts[rest[i].slice(2)] = rest[i + 1];
}
const token = readFileSync(tokenFile, 'utf8').trim();
const now = opts.now ? Number(opts.now) : Math.floor(Date.now() / 1000);
const keyFromJwk = (jwk) => createPublicKey({ key: jwk, format: 'jwk' });
const issuerKey = jwkFile === 'embedded' ? null : keyFromJwk(JSON.parse(readFileSync(jwkFile, 'utf8')));

// A JWS signature check through `jose`, for the @sd-jwt verifier callbacks.
async function signatureValid(data, sig, key) {
  try {
    await jose.compactVerify(`${data}.${sig}`, key);
    return true;
  } catch {
    return false;
  }
}

try {
  let result;
  if (kind === 'jws') {
    const { protectedHeader, payload } = await jose.compactVerify(token, issuerKey);
    if (opts.typ && protectedHeader.typ !== opts.typ) fail(`typ ${protectedHeader.typ} is not ${opts.typ}`);
    result = { header: protectedHeader, payload: JSON.parse(new TextDecoder().decode(payload)) };
  } else if (kind === 'jwt') {
    const { protectedHeader, payload } = await jose.jwtVerify(token, issuerKey ?? jose.EmbeddedJWK, {
      typ: opts.typ,
      audience: opts.aud,
      currentDate: new Date(now * 1000),
    });
    if (opts.nonce !== undefined && payload.nonce !== opts.nonce) fail('nonce does not match');
    result = { header: protectedHeader, payload };
  } else if (kind === 'sd-jwt') {
    const sdjwt = new SDJwtVcInstance({
      hasher: (data, alg) => {
        if (alg !== 'sha-256') throw new Error(`hash ${alg}`);
        return new Uint8Array(createHash('sha256').update(typeof data === 'string' ? data : Buffer.from(data)).digest());
      },
      hashAlg: 'sha-256',
      verifier: (data, sig) => signatureValid(data, sig, issuerKey),
      kbVerifier: (data, sig, payload) => {
        if (!payload?.cnf?.jwk) return false;
        return signatureValid(data, sig, keyFromJwk(payload.cnf.jwk));
      },
    });
    const verified = await sdjwt.verify(token, {
      currentDate: now,
      keyBindingNonce: opts.nonce,
      requiredClaimKeys: ['vct'],
    });
    if (verified.header?.typ !== (opts.typ ?? 'dc+sd-jwt')) fail(`typ ${verified.header?.typ}`);
    if (opts.nonce !== undefined) {
      if (!verified.kb) fail('no key binding');
      if (opts.aud !== undefined && verified.kb.payload.aud !== opts.aud) fail('KB-JWT aud does not match');
    }
    result = { header: verified.header, payload: verified.payload, kb: verified.kb?.payload };
  } else {
    fail(`unknown kind ${kind}`);
  }
  process.stdout.write(JSON.stringify(result) + '\n');
} catch (e) {
  fail(`${e?.code ?? 'error'}: ${e?.message ?? e}`);
}
