// Data Integrity proof sets and proof chains made with digitalbazaar's libraries, for Inkan's
// verifier (crates/inkan-server/tests/e2e_verify.rs; VC Data Integrity 1.0 §4.4-4.5, "Proof
// Sets" and "Proof Chains").
//
//   node proofset.mjs OUTDIR
//
// Writes to OUTDIR:
//   vc-proof-set.json      VCDM 2.0 credential with two proofs made independently over it: the
//                          issuer's (Ed25519 did:key, eddsa-rdfc-2022) and a witness's (P-256
//                          did:key, ecdsa-rdfc-2019), by jsonld-signatures' ProofSet (sign twice)
//   vc-proof-chain.json    the issuer's proof (eddsa-rdfc-2022, with an `id`), then a notary's
//                          (Ed25519 did:key, eddsa-rdfc-2022) whose `previousProof` names it,
//                          made by the library's DataIntegrityProof over the document carrying the
//                          proof it names (`proof: [first]`), as the spec's Add Proof Set/Chain
//                          algorithm says; jsonld-signatures 11.6 has no ProofChain (its
//                          lib/ProofChain.js is a TODO), so its createProof is called directly
//   vc-proof-chain-broken.json  the same chain with the first proof replaced by another valid
//                          proof of the issuer with the same id: the chained proof must fail
// JSON-LD contexts come from the files the Rust crate bundles; nothing is fetched.
import {mkdirSync, writeFileSync} from 'node:fs';
import {randomBytes, randomUUID} from 'node:crypto';
import {join} from 'node:path';
import * as vc from '@digitalbazaar/vc';
import jsigs from 'jsonld-signatures';
import {documentLoader} from './loader.mjs';
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import * as Ed25519Multikey from '@digitalbazaar/ed25519-multikey';
import * as EcdsaMultikey from '@digitalbazaar/ecdsa-multikey';
import {cryptosuite as eddsaRdfc2022} from '@digitalbazaar/eddsa-rdfc-2022-cryptosuite';
import {cryptosuite as ecdsaRdfc2019} from '@digitalbazaar/ecdsa-rdfc-2019-cryptosuite';

const {AssertionProofPurpose} = jsigs.purposes;

async function ed25519DidKey() {
  const seed = new Uint8Array(randomBytes(32));
  const probe = await Ed25519Multikey.generate({seed});
  const did = `did:key:${probe.publicKeyMultibase}`;
  const key = await Ed25519Multikey.generate({seed, controller: did});
  return {did, key};
}

async function p256DidKey() {
  const probe = await EcdsaMultikey.generate({curve: 'P-256'});
  const {publicKeyMultibase} = await probe.export({publicKey: true});
  const did = `did:key:${publicKeyMultibase}`;
  const exported = await probe.export({publicKey: true, secretKey: true, includeContext: true});
  const key = await EcdsaMultikey.from({...exported, id: `${did}#${publicKeyMultibase}`, controller: did});
  return {did, key};
}

const outDir = process.argv[2];
if(!outDir) {
  console.error('usage: node proofset.mjs OUTDIR');
  process.exit(2);
}
mkdirSync(outDir, {recursive: true});
const write = (name, value) => writeFileSync(join(outDir, name), JSON.stringify(value, null, 2) + '\n');
const now = new Date();

function credential(issuer) {
  return {
    '@context': ['https://www.w3.org/ns/credentials/v2', 'https://www.w3.org/ns/credentials/examples/v2'],
    id: `urn:uuid:${randomUUID()}`,
    type: ['VerifiableCredential', 'ExampleDegreeCredential'],
    issuer,
    // Fixed in the past: the tests' servers run on a clock of their own.
    validFrom: '2025-01-01T00:00:00Z',
    credentialSubject: {
      id: 'did:example:ebfeb1f712ebc6f1c276e12ec21',
      degree: {type: 'ExampleBachelorDegree', name: 'Bachelor of Science and Arts'},
    },
  };
}

const issuer = await ed25519DidKey();
const witness = await p256DidKey();
const notary = await ed25519DidKey();

// A proof set: two independent proofs.
const first = await vc.issue({
  credential: credential(issuer.did),
  suite: new DataIntegrityProof({signer: issuer.key.signer(), cryptosuite: eddsaRdfc2022}),
  documentLoader,
});
const set = await jsigs.sign(structuredClone(first), {
  suite: new DataIntegrityProof({signer: witness.key.signer(), cryptosuite: ecdsaRdfc2019}),
  purpose: new AssertionProofPurpose(),
  documentLoader,
});
write('vc-proof-set.json', set);

// A proof chain: the notary's proof covers the issuer's proof it names.
async function issuerProof(unsecured, id, created) {
  const suite = new DataIntegrityProof({signer: issuer.key.signer(), cryptosuite: eddsaRdfc2022, date: created});
  suite.proof = {id};
  return suite.createProof({
    document: structuredClone(unsecured), purpose: new AssertionProofPurpose(), proofSet: [], documentLoader,
  });
}
const unsecured = credential(issuer.did);
const firstId = `urn:uuid:${randomUUID()}`;
const proof1 = await issuerProof(unsecured, firstId, new Date(now.getTime() - 120 * 1000));
const chainSuite = new DataIntegrityProof({signer: notary.key.signer(), cryptosuite: eddsaRdfc2022});
chainSuite.proof = {previousProof: firstId};
const proof2 = await chainSuite.createProof({
  document: {...structuredClone(unsecured), proof: [proof1]},
  purpose: new AssertionProofPurpose(), proofSet: [proof1], documentLoader,
});
write('vc-proof-chain.json', {...unsecured, proof: [proof1, proof2]});
const otherFirst = await issuerProof(unsecured, firstId, new Date(now.getTime() - 60 * 1000));
write('vc-proof-chain-broken.json', {...unsecured, proof: [otherFirst, proof2]});
console.log(`written into ${outDir}`);
