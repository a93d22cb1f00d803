#!/usr/bin/env node
// Independent check of a credential's W3C Bitstring Status List entry against the list Inkan
// publishes, with digitalbazaar's `@digitalbazaar/vc-bitstring-status-list` (`checkStatus`:
// the entry's form, the list's type and purpose, the issuers matching, the list decoded and
// the entry's bit read). Both are VC-JWTs (`application/vc+jwt`); their ES256 signatures are
// checked here with Node's own crypto against the issuer's JWK, so the library is given the
// verified claims and told not to verify the list as a Data Integrity credential.
// The credential may instead be a Data Integrity credential (a JSON file): its proof is not
// checked here (verify.mjs does that), only its entry against the list. The list may be a
// Data Integrity credential too (a JSON file, `signedAs: data-integrity`): then the library
// verifies it itself (`verifyBitstringStatusListCredential`, digitalbazaar's suites, did:key
// resolved locally by loader.mjs).
// Used by crates/inkan-server/tests/e2e_vc.rs and crates/inkan/tests/demo.rs.
//
//   node status-list.mjs CREDENTIAL_FILE LIST_JWT_FILE LIST_URL JWK_FILE
//
// Prints {"status": 0|1} (the entry's value) and exits 0 when every check passes.
import { readFileSync } from 'node:fs';
import { createPublicKey, verify } from 'node:crypto';
import { checkStatus } from '@digitalbazaar/vc-bitstring-status-list';
import { DataIntegrityProof } from '@digitalbazaar/data-integrity';
import { cryptosuite as eddsaRdfc2022 } from '@digitalbazaar/eddsa-rdfc-2022-cryptosuite';
import { cryptosuite as ecdsaRdfc2019 } from '@digitalbazaar/ecdsa-rdfc-2019-cryptosuite';
import { documentLoader as bundled } from './loader.mjs';

function fail(message) {
  process.stderr.write(`status-list.mjs: ${message}\n`);
  process.exit(1);
}

const [credentialFile, listFile, listUrl, jwkFile] = process.argv.slice(2);
if (!credentialFile || !listFile || !listUrl || !jwkFile) {
  fail('usage: status-list.mjs CREDENTIAL_FILE LIST_JWT_FILE LIST_URL JWK_FILE');
}
const key = createPublicKey({ key: JSON.parse(readFileSync(jwkFile, 'utf8')), format: 'jwk' });

// The claims of a compact JWS signed with ES256 by `key`, typed `vc+jwt`.
function verifiedClaims(file) {
  const token = readFileSync(file, 'utf8').trim();
  const parts = token.split('.');
  if (parts.length !== 3) fail(`${file}: not a compact JWS`);
  const header = JSON.parse(Buffer.from(parts[0], 'base64url'));
  if (header.alg !== 'ES256') fail(`${file}: alg ${header.alg}, expected ES256`);
  if (header.typ !== 'vc+jwt') fail(`${file}: typ ${header.typ}, expected vc+jwt`);
  const signed = Buffer.from(`${parts[0]}.${parts[1]}`);
  const signature = Buffer.from(parts[2], 'base64url');
  if (!verify('sha256', signed, { key, dsaEncoding: 'ieee-p1363' }, signature)) {
    fail(`${file}: the signature does not verify with the issuer's key`);
  }
  return JSON.parse(Buffer.from(parts[1], 'base64url'));
}

const credentialText = readFileSync(credentialFile, 'utf8').trim();
const credential = credentialText.startsWith('{') ? JSON.parse(credentialText) : verifiedClaims(credentialFile);
const listText = readFileSync(listFile, 'utf8').trim();
const dataIntegrityList = listText.startsWith('{');
const list = dataIntegrityList ? JSON.parse(listText) : verifiedClaims(listFile);
const documentLoader = async (url) => {
  if (url === listUrl) return { contextUrl: null, documentUrl: url, document: list };
  if (dataIntegrityList) return bundled(url);
  throw new Error(`unexpected URL ${url}`);
};
const result = await checkStatus({
  credential,
  documentLoader,
  suite: [
    new DataIntegrityProof({ cryptosuite: eddsaRdfc2022 }),
    new DataIntegrityProof({ cryptosuite: ecdsaRdfc2019 }),
  ],
  verifyBitstringStatusListCredential: dataIntegrityList,
  verifyMatchingIssuers: true,
});
if (!result.verified) fail(`checkStatus: ${result.error?.message ?? JSON.stringify(result)}`);
const [entry] = result.results;
process.stdout.write(`${JSON.stringify({ status: entry.status ? 1 : 0 })}\n`);
