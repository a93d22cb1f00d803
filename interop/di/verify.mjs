// Independent verification of a Data Integrity credential or presentation with digitalbazaar's
// libraries: node verify.mjs FILE [--challenge C] [--domain D] [--status-elsewhere]. Exit 0
// when valid, 1 when not.
// JSON-LD contexts come from the same bundled files the Rust crate embeds (nothing is fetched);
// did:key verification methods are resolved locally from the DID itself.
import {readFileSync} from 'node:fs';
import * as vc from '@digitalbazaar/vc';
import {documentLoader} from './loader.mjs';
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import {cryptosuite as eddsaRdfc2022} from '@digitalbazaar/eddsa-rdfc-2022-cryptosuite';
import {cryptosuite as ecdsaRdfc2019} from '@digitalbazaar/ecdsa-rdfc-2019-cryptosuite';
import {createVerifyCryptosuite as eddsaJcs2022} from '@digitalbazaar/eddsa-jcs-2022-cryptosuite';
import {createVerifyCryptosuite as ecdsaJcs2019} from '@digitalbazaar/ecdsa-jcs-2019-cryptosuite';
import {createVerifyCryptosuite as ecdsaSd2023} from '@digitalbazaar/ecdsa-sd-2023-cryptosuite';

const args = process.argv.slice(2);
const file = args[0];
const option = name => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
if(!file) {
  console.error('usage: node verify.mjs FILE [--challenge C] [--domain D] [--status-elsewhere]');
  process.exit(2);
}
const doc = JSON.parse(readFileSync(file, 'utf8'));
const suite = [
  new DataIntegrityProof({cryptosuite: eddsaRdfc2022}),
  new DataIntegrityProof({cryptosuite: ecdsaRdfc2019}),
  new DataIntegrityProof({cryptosuite: eddsaJcs2022()}),
  new DataIntegrityProof({cryptosuite: ecdsaJcs2019()}),
  new DataIntegrityProof({cryptosuite: ecdsaSd2023()}),
];
const types = [].concat(doc.type ?? []);
let result;
if(types.includes('VerifiablePresentation')) {
  result = await vc.verify({
    presentation: doc, suite, documentLoader,
    challenge: option('--challenge'), domain: option('--domain'),
  });
} else {
  // --status-elsewhere: the proof only; the credentialStatus entry is read against its list
  // by status-list.mjs (the list is a vc+jwt, which this loader does not fetch).
  const checkStatus = args.includes('--status-elsewhere') ? async () => ({verified: true}) : undefined;
  result = await vc.verifyCredential({credential: doc, suite, documentLoader, checkStatus});
}
const errors = JSON.stringify(result, (k, v) => v instanceof Error ? {name: v.name, message: v.message} : v);
if(result.verified) {
  console.log('verified');
  process.exit(0);
}
console.error(`NOT verified: ${errors}`);
process.exit(1);
