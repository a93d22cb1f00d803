#!/usr/bin/env node
// Independent check of an mdoc's status (the MSO's `status`, ISO/IEC 18013-5 second edition)
// against the Status List Token Inkan publishes as `application/statuslist+cwt`
// (draft-ietf-oauth-status-list). The COSE_Sign1 and its x5chain are verified by cose-kit under
// the issuer's IACA root, and its signer must be the mdoc's own document signer; the CBOR is
// read by cbor-x; the list is inflated with node's zlib and
// the entry read as the draft's section 4.1 lays the bits out. Used by
// crates/inkan-server/tests/e2e_mdoc.rs.
//
//   node status-list.js ISSUER_SIGNED_FILE LIST_CWT_FILE IACA_ROOT_PEM NOW
//
// ISSUER_SIGNED_FILE: the IssuerSigned, base64url CBOR, as Inkan answers it.
// LIST_CWT_FILE: the list as served (binary CBOR).
// NOW: the time to check the token's `exp` at (Unix seconds; the tests run on their own clock).
// Prints {"status": N, "idx": I} (the entry's value: 0 valid, 1 invalid, 2 suspended).
'use strict';
const fs = require('fs');
const zlib = require('zlib');
const { Decoder, Tag } = require('cbor-x');
const { Sign1 } = require('cose-kit');

const cbor = new Decoder({ mapsAsObjects: false, useRecords: false, tagUint8Array: false });
const CWT_TYP = 'application/statuslist+cwt';

function fail(message) {
  process.stderr.write(`status-list.js: ${message}\n`);
  process.exit(1);
}

// A tag-24 data item (`#6.24(bstr .cbor X)`) decoded to X, whichever way cbor-x gave it.
function embedded(value) {
  const bytes = value instanceof Tag ? value.value : value;
  return bytes instanceof Uint8Array ? cbor.decode(bytes) : bytes;
}

async function main() {
  const [issuedFile, listFile, rootFile, now] = process.argv.slice(2);
  if (!issuedFile || !listFile || !rootFile || !now) fail('usage: status-list.js ISSUER_SIGNED_FILE LIST_CWT_FILE IACA_ROOT_PEM NOW');
  const root = fs.readFileSync(rootFile, 'utf8');

  // The mdoc: its issuerAuth verified under the IACA, then the MSO's status.
  const issued = cbor.decode(Buffer.from(fs.readFileSync(issuedFile, 'utf8').trim(), 'base64url'));
  const auth = issued.get('issuerAuth');
  const issuerAuth = new Sign1(auth[0], auth[1], auth[2], auth[3]);
  try {
    await issuerAuth.verifyX509([root]);
  } catch (e) {
    fail(`the mdoc's issuerAuth does not verify: ${e.message}`);
  }
  const mso = embedded(cbor.decode(issuerAuth.payload));
  const reference = mso.get('status') && mso.get('status').get('status_list');
  if (!reference) fail('the MSO carries no status.status_list');
  const idx = reference.get('idx');
  const uri = reference.get('uri');

  // The list: a tagged COSE_Sign1 (18) whose x5chain verifies under the same IACA.
  const list = cbor.decode(fs.readFileSync(listFile));
  if (!(list instanceof Sign1)) fail('the list is not a tagged COSE_Sign1');
  try {
    await list.verifyX509([root]);
  } catch (e) {
    fail(`the list's signature does not verify: ${e.message}`);
  }
  // The list's signer is the mdoc's: the same document signer certificate leads each chain.
  if (Buffer.compare(Buffer.from(list.x5chain[0]), Buffer.from(issuerAuth.x5chain[0])) !== 0) {
    fail("the list's signer is not the mdoc's document signer");
  }
  const protectedHeader = cbor.decode(list.encodedProtectedHeaders);
  if (protectedHeader.get(16) !== CWT_TYP) fail(`the list's typ (16) is ${protectedHeader.get(16)}, not ${CWT_TYP}`);
  const claims = cbor.decode(list.payload);
  if (claims.get(2) !== uri) fail(`the list's sub ${claims.get(2)} is not the reference's uri ${uri}`);
  if (typeof claims.get(6) !== 'number') fail('the list has no iat');
  if (typeof claims.get(4) !== 'number') fail('the list has no exp');
  if (claims.get(4) <= Number(now)) fail(`the list expired at ${claims.get(4)}`);
  const statusList = claims.get(65533);
  if (!statusList) fail('the list has no status_list claim (65533)');
  const bits = statusList.get('bits');
  if (![1, 2, 4, 8].includes(bits)) fail(`bits ${bits}`);
  const bytes = zlib.inflateSync(statusList.get('lst'));
  const position = idx * bits;
  if (position >= bytes.length * 8) fail(`index ${idx} is outside the list`);
  const status = (bytes[position >> 3] >> (position & 7)) & ((1 << bits) - 1);
  process.stdout.write(`${JSON.stringify({ status, idx })}\n`);
}

main().catch((e) => fail(e && e.message ? e.message : String(e)));
