#!/usr/bin/env node
// Independent check of an SD-JWT VC's Token Status List reference against the list Inkan
// publishes (draft-ietf-oauth-status-list), with the OpenWallet Foundation's
// `@sd-jwt/jwt-status-list` (the reference read from the credential, the list decompressed and
// the entry's status read) and `jose` (both signatures with the issuer's JWK, the list's `typ`
// `statuslist+jwt`, and its `sub` the reference's `uri`). Used by
// crates/inkan-server/tests/e2e_vc.rs.
//
//   node status-list.mjs SD_JWT_FILE LIST_JWT_FILE JWK_FILE NOW
//
// NOW: the time to check the list's `iat`/`exp` at (Unix seconds; the tests run on their own
// clock).
// Prints {"status": N} (the entry's value: 0 valid, 1 invalid, 2 suspended) on success.
import { readFileSync } from 'node:fs';
import { createPublicKey } from 'node:crypto';
import * as jose from 'jose';
import { getListFromStatusListJWT, getStatusListFromJWT } from '@sd-jwt/jwt-status-list';

function fail(message) {
  process.stderr.write(`status-list.mjs: ${message}\n`);
  process.exit(1);
}

const [credentialFile, listFile, jwkFile, now] = process.argv.slice(2);
if (!credentialFile || !listFile || !jwkFile || !now) fail('usage: status-list.mjs SD_JWT_FILE LIST_JWT_FILE JWK_FILE NOW');
const key = createPublicKey({ key: JSON.parse(readFileSync(jwkFile, 'utf8')), format: 'jwk' });
const issuerJwt = readFileSync(credentialFile, 'utf8').trim().split('~')[0];
const listJwt = readFileSync(listFile, 'utf8').trim();

try {
  await jose.compactVerify(issuerJwt, key);
  const { protectedHeader } = await jose.jwtVerify(listJwt, key, {
    typ: 'statuslist+jwt',
    currentDate: new Date(Number(now) * 1000),
  });
  if (protectedHeader.alg !== 'ES256') fail(`list alg ${protectedHeader.alg}`);
} catch (e) {
  fail(`a signature does not verify: ${e.message}`);
}
const reference = getStatusListFromJWT(issuerJwt);
const list = jose.decodeJwt(listJwt);
if (list.sub !== reference.uri) fail(`the list's sub ${list.sub} is not the reference's uri ${reference.uri}`);
const status = getListFromStatusListJWT(listJwt).getStatus(reference.idx);
process.stdout.write(`${JSON.stringify({ status })}\n`);
