#!/usr/bin/env node
// An INDEPENDENT issuer for `inkan verify` (crates/inkan/tests/independent_issuers.rs): the
// npm packages `jose` (panva) and `@sd-jwt/sd-jwt-vc` issue JOSE credentials with fresh keys
// whose controller is the issuer.
//
//   node issue.mjs OUTDIR
//
// Writes to OUTDIR:
//   vc-jwt-v11-did-jwk.jwt       VCDM 1.1 JWT VC (jwt_vc_json), ES256; `iss` is a did:jwk and
//                                the header `kid` its verification method `did:jwk:…#0`
//   vc-jwt-v2-did-key.jwt        VCDM 2.0 `vc+jwt`, EdDSA (Ed25519); `issuer` is a did:key and
//                                `kid` its verification method `did:key:z6Mk…#z6Mk…`
//   vc-jwt-v2-did-key-p256.jwt   the same with a P-256 did:key (`zDn…`), ES256
//   vc-jwt-not-controller.jwt    a `vc+jwt` whose `kid` is a did:key other than its `issuer`
//                                (well signed; a verifier must refuse the issuer binding)
//   sd-jwt-vc.txt                SD-JWT VC (`dc+sd-jwt`), ES256, issuer https://issuer.example,
//                                selectively disclosable claims and a `cnf` holder key
//   sd-jwt-vc-kb.txt             a presentation of it disclosing `given_name` only, with KB-JWT
//   sd-jwt-issuer.jwk            the SD-JWT VC issuer's public key (for `inkan verify --key`)
//   sd-jwt-kb.json               {"aud": ..., "nonce": ...} of the KB-JWT
import { mkdirSync, writeFileSync } from 'node:fs';
import { createHash, generateKeyPairSync, randomBytes, randomUUID, sign } from 'node:crypto';
import { join } from 'node:path';
import * as jose from 'jose';
import { SDJwtVcInstance } from '@sd-jwt/sd-jwt-vc';

const outDir = process.argv[2];
if (!outDir) {
  console.error('usage: node issue.mjs OUTDIR');
  process.exit(2);
}
mkdirSync(outDir, { recursive: true });
const write = (name, text) => writeFileSync(join(outDir, name), text + '\n');
const b64u = (bytes) => Buffer.from(bytes).toString('base64url');

// base58btc (Bitcoin alphabet), for did:key multibase `z…`.
const ALPHABET = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
function base58btc(bytes) {
  let n = BigInt('0x' + (Buffer.from(bytes).toString('hex') || '0'));
  let out = '';
  while (n > 0n) {
    out = ALPHABET[Number(n % 58n)] + out;
    n /= 58n;
  }
  for (const b of bytes) {
    if (b !== 0) break;
    out = '1' + out;
  }
  return out;
}

// did:key of a public JWK: multicodec ed25519-pub 0xed01, p256-pub 0x8024 (compressed point).
function didKey(jwk) {
  let bytes;
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') {
    bytes = Buffer.concat([Buffer.from([0xed, 0x01]), Buffer.from(jwk.x, 'base64url')]);
  } else if (jwk.kty === 'EC' && jwk.crv === 'P-256') {
    const y = Buffer.from(jwk.y, 'base64url');
    const prefix = (y[y.length - 1] & 1) === 1 ? 0x03 : 0x02;
    bytes = Buffer.concat([Buffer.from([0x80, 0x24, prefix]), Buffer.from(jwk.x, 'base64url')]);
  } else {
    throw new Error(`no did:key for ${jwk.kty} ${jwk.crv}`);
  }
  return `did:key:z${base58btc(bytes)}`;
}

function fresh(type, options) {
  const { publicKey, privateKey } = generateKeyPairSync(type, options);
  const jwk = publicKey.export({ format: 'jwk' });
  return { publicKey, privateKey, jwk };
}

const now = Math.floor(Date.now() / 1000);
const YEAR = 365 * 24 * 3600;
const isoAt = (t) => new Date(t * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
const subject = 'did:example:ebfeb1f712ebc6f1c276e12ec21';

// VCDM 1.1 JWT VC, did:jwk issuer.
{
  const key = fresh('ec', { namedCurve: 'P-256' });
  const did = `did:jwk:${b64u(JSON.stringify(key.jwk))}`;
  const jwt = await new jose.SignJWT({
    vc: {
      '@context': ['https://www.w3.org/2018/credentials/v1'],
      type: ['VerifiableCredential', 'UniversityDegreeCredential'],
      credentialSubject: { degree: { type: 'BachelorDegree', name: 'Bachelor of Science and Arts' } },
    },
  })
    .setProtectedHeader({ alg: 'ES256', typ: 'JWT', kid: `${did}#0` })
    .setIssuer(did)
    .setSubject(subject)
    .setJti(`urn:uuid:${randomUUID()}`)
    .setNotBefore(now - 60)
    .setIssuedAt(now - 60)
    .setExpirationTime(now + YEAR)
    .sign(key.privateKey);
  write('vc-jwt-v11-did-jwk.jwt', jwt);
}

// VCDM 2.0 vc+jwt, did:key issuer.
async function vcJwtV2(key, alg, issuer, kidDid) {
  const kid = `${kidDid}#${kidDid.slice('did:key:'.length)}`;
  return new jose.CompactSign(
    new TextEncoder().encode(
      JSON.stringify({
        '@context': ['https://www.w3.org/ns/credentials/v2', 'https://www.w3.org/ns/credentials/examples/v2'],
        id: `urn:uuid:${randomUUID()}`,
        type: ['VerifiableCredential', 'ExampleDegreeCredential'],
        issuer,
        validFrom: isoAt(now - 60),
        validUntil: isoAt(now + YEAR),
        credentialSubject: { id: subject, degree: { type: 'ExampleBachelorDegree', name: 'Bachelor of Science and Arts' } },
      }),
    ),
  )
    .setProtectedHeader({ alg, typ: 'vc+jwt', cty: 'vc', kid })
    .sign(key.privateKey);
}
{
  const ed = fresh('ed25519');
  const edDid = didKey(ed.jwk);
  write('vc-jwt-v2-did-key.jwt', await vcJwtV2(ed, 'EdDSA', edDid, edDid));
  const p256 = fresh('ec', { namedCurve: 'P-256' });
  const p256Did = didKey(p256.jwk);
  write('vc-jwt-v2-did-key-p256.jwt', await vcJwtV2(p256, 'ES256', { id: p256Did, name: 'Example University' }, p256Did));
  const other = didKey(fresh('ed25519').jwk);
  write('vc-jwt-not-controller.jwt', await vcJwtV2(ed, 'EdDSA', other, edDid));
}

// SD-JWT VC with a holder key, and a presentation with KB-JWT.
{
  const issuer = fresh('ec', { namedCurve: 'P-256' });
  const holder = fresh('ec', { namedCurve: 'P-256' });
  const signer = (privateKey) => async (data) =>
    b64u(sign('sha256', Buffer.from(data), { key: privateKey, dsaEncoding: 'ieee-p1363' }));
  const sdjwt = new SDJwtVcInstance({
    hasher: (data, alg) => {
      if (alg !== 'sha-256') throw new Error(`hash ${alg}`);
      return new Uint8Array(createHash('sha256').update(typeof data === 'string' ? data : Buffer.from(data)).digest());
    },
    hashAlg: 'sha-256',
    saltGenerator: (length) => b64u(randomBytes(length)),
    signer: signer(issuer.privateKey),
    signAlg: 'ES256',
    kbSigner: signer(holder.privateKey),
    kbSignAlg: 'ES256',
  });
  const credential = await sdjwt.issue(
    {
      iss: 'https://issuer.example',
      iat: now - 60,
      nbf: now - 60,
      exp: now + YEAR,
      vct: 'https://credentials.example/identity_credential',
      cnf: { jwk: holder.jwk },
      given_name: 'Erika',
      family_name: 'Mustermann',
      birthdate: '1963-08-12',
      address: { street_address: 'Heidestraße 17', locality: 'Köln', country: 'DE' },
      nationalities: ['DE', 'FR'],
    },
    {
      _sd: ['given_name', 'family_name', 'birthdate', 'address', 'nationalities'],
      address: { _sd: ['street_address', 'locality'] },
      nationalities: { _sd: [0, 1] },
    },
  );
  write('sd-jwt-vc.txt', credential);
  const aud = 'https://verifier.example';
  const nonce = randomUUID();
  const presentation = await sdjwt.present(credential, { given_name: true }, {
    kb: { payload: { aud, nonce, iat: Math.floor(Date.now() / 1000) } },
  });
  write('sd-jwt-vc-kb.txt', presentation);
  write('sd-jwt-issuer.jwk', JSON.stringify(issuer.jwk));
  write('sd-jwt-kb.json', JSON.stringify({ aud, nonce }));
}
console.log(`issued into ${outDir}`);
