// An INDEPENDENT issuer for `inkan verify` (crates/inkan/tests/independent_issuers.rs):
// digitalbazaar's libraries issue Data Integrity credentials and a presentation with fresh
// did:key keys, the issuer (holder) being the key's controller.
//
//   node issue.mjs OUTDIR
//
// Writes to OUTDIR:
//   vc-eddsa-rdfc-2022.json      VCDM 2.0, Ed25519 did:key issuer (string)
//   vc-ecdsa-rdfc-2019.json      VCDM 1.1, P-256 did:key issuer (object with id); the v1
//                                examples context imports ODRL, which is not bundled, so the
//                                v2 examples context (@vocab) names the subject's terms
//   vc-eddsa-jcs-2022.json       VCDM 2.0, Ed25519 did:key issuer
//   vc-ecdsa-jcs-2019.json       VCDM 2.0, P-384 did:key issuer
//   vp-eddsa-rdfc-2022.json      VCDM 2.0 presentation by an Ed25519 did:key holder, holding
//                                vc-eddsa-rdfc-2022.json, with challenge and domain
//   vp-options.json              {"challenge": ..., "domain": ...} of the presentation
// and two that a verifier must refuse although every proof in them is well made:
//   vc-issuer-not-controller.json  an Ed25519 did:key signs a credential naming another issuer
//   vc-expired.json              Ed25519 did:key issuer, validUntil a year ago
//   vp-tampered-vc.json          the holder signs (same challenge and domain) a presentation of
//                                vc-eddsa-rdfc-2022.json whose subject was changed after issue
// JSON-LD contexts come from the files the Rust crate bundles; nothing is fetched.
import {mkdirSync, writeFileSync} from 'node:fs';
import {randomBytes, randomUUID} from 'node:crypto';
import {join} from 'node:path';
import * as vc from '@digitalbazaar/vc';
import {documentLoader} from './loader.mjs';
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import * as Ed25519Multikey from '@digitalbazaar/ed25519-multikey';
import * as EcdsaMultikey from '@digitalbazaar/ecdsa-multikey';
import {cryptosuite as eddsaRdfc2022} from '@digitalbazaar/eddsa-rdfc-2022-cryptosuite';
import {cryptosuite as ecdsaRdfc2019} from '@digitalbazaar/ecdsa-rdfc-2019-cryptosuite';
import {createSignCryptosuite as eddsaJcs2022} from '@digitalbazaar/eddsa-jcs-2022-cryptosuite';
import {createSignCryptosuite as ecdsaJcs2019} from '@digitalbazaar/ecdsa-jcs-2019-cryptosuite';

// A fresh Ed25519 key whose controller is its own did:key.
async function ed25519DidKey() {
  const seed = new Uint8Array(randomBytes(32));
  const probe = await Ed25519Multikey.generate({seed});
  const did = `did:key:${probe.publicKeyMultibase}`;
  const key = await Ed25519Multikey.generate({seed, controller: did});
  return {did, key};
}

// A fresh ECDSA key (P-256 or P-384) whose controller is its own did:key.
async function ecdsaDidKey(curve) {
  const probe = await EcdsaMultikey.generate({curve});
  const {publicKeyMultibase} = await probe.export({publicKey: true});
  const did = `did:key:${publicKeyMultibase}`;
  const exported = await probe.export({publicKey: true, secretKey: true, includeContext: true});
  const key = await EcdsaMultikey.from({...exported, id: `${did}#${publicKeyMultibase}`, controller: did});
  return {did, key};
}

const V2 = 'https://www.w3.org/ns/credentials/v2';
const V1 = 'https://www.w3.org/2018/credentials/v1';
const now = new Date();
const iso = d => d.toISOString().replace(/\.\d{3}Z$/, 'Z');
const inAYear = new Date(now.getTime() + 365 * 24 * 3600 * 1000);

function credentialV2(issuer, name) {
  return {
    '@context': [V2, 'https://www.w3.org/ns/credentials/examples/v2'],
    id: `urn:uuid:${randomUUID()}`,
    type: ['VerifiableCredential', 'ExampleDegreeCredential'],
    issuer,
    validFrom: iso(new Date(now.getTime() - 60 * 1000)),
    validUntil: iso(inAYear),
    credentialSubject: {
      id: 'did:example:ebfeb1f712ebc6f1c276e12ec21',
      name,
      degree: {type: 'ExampleBachelorDegree', name: 'Bachelor of Science and Arts'},
    },
  };
}

async function issue(credential, key, cryptosuite) {
  const suite = new DataIntegrityProof({signer: key.signer(), cryptosuite});
  return vc.issue({credential, suite, documentLoader});
}

const outDir = process.argv[2];
if(!outDir) {
  console.error('usage: node issue.mjs OUTDIR');
  process.exit(2);
}
mkdirSync(outDir, {recursive: true});
const write = (name, value) => writeFileSync(join(outDir, name), JSON.stringify(value, null, 2) + '\n');

const ed = await ed25519DidKey();
const vcEddsaRdfc = await issue(credentialV2(ed.did, 'Alice Ed'), ed.key, eddsaRdfc2022);
write('vc-eddsa-rdfc-2022.json', vcEddsaRdfc);

const p256 = await ecdsaDidKey('P-256');
write('vc-ecdsa-rdfc-2019.json', await issue({
  '@context': [V1, 'https://www.w3.org/ns/credentials/examples/v2'],
  id: `urn:uuid:${randomUUID()}`,
  type: ['VerifiableCredential', 'UniversityDegreeCredential'],
  issuer: {id: p256.did, name: 'Example University'},
  issuanceDate: iso(new Date(now.getTime() - 60 * 1000)),
  credentialSubject: {
    id: 'did:example:ebfeb1f712ebc6f1c276e12ec21',
    degree: {type: 'BachelorDegree', name: 'Bachelor of Science and Arts'},
  },
}, p256.key, ecdsaRdfc2019));

const ed2 = await ed25519DidKey();
write('vc-eddsa-jcs-2022.json', await issue(credentialV2(ed2.did, 'Bob Jcs'), ed2.key, eddsaJcs2022()));

const p384 = await ecdsaDidKey('P-384');
write('vc-ecdsa-jcs-2019.json', await issue(credentialV2(p384.did, 'Carol P384'), p384.key, ecdsaJcs2019()));

// A presentation by a holder with its own did:key, bound to a challenge and a domain.
const holder = await ed25519DidKey();
const challenge = randomUUID();
const domain = 'https://verifier.example';
const presentation = vc.createPresentation({verifiableCredential: [vcEddsaRdfc], holder: holder.did, version: 2.0});
const vpSuite = new DataIntegrityProof({signer: holder.key.signer(), cryptosuite: eddsaRdfc2022});
write('vp-eddsa-rdfc-2022.json', await vc.signPresentation({presentation, suite: vpSuite, documentLoader, challenge, domain}));
write('vp-options.json', {challenge, domain});
const other = await ed25519DidKey();
write('vc-issuer-not-controller.json', await issue(credentialV2(other.did, 'Mallory'), ed2.key, eddsaRdfc2022));
const expired = credentialV2(ed2.did, 'Dave Expired');
expired.validFrom = iso(new Date(now.getTime() - 2 * 365 * 24 * 3600 * 1000));
expired.validUntil = iso(new Date(now.getTime() - 365 * 24 * 3600 * 1000));
write('vc-expired.json', await issue(expired, ed2.key, eddsaRdfc2022));
const tampered = structuredClone(vcEddsaRdfc);
tampered.credentialSubject.name = 'Mallory';
const badPresentation = vc.createPresentation({verifiableCredential: [tampered], holder: holder.did, version: 2.0});
write('vp-tampered-vc.json', await vc.signPresentation({presentation: badPresentation, suite: vpSuite, documentLoader, challenge, domain}));
console.log(`issued into ${outDir}`);
