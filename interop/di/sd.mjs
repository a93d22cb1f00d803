// ecdsa-sd-2023 with digitalbazaar's @digitalbazaar/ecdsa-sd-2023-cryptosuite, the independent
// implementation Inkan's selective disclosure is checked against (JSON-LD contexts from the files
// the Rust crate bundles; nothing is fetched).
//
//   node sd.mjs derive BASE.json SELECTIVE_POINTERS_JSON OUT.json
//       derives a disclosure from a credential with a base proof (Inkan's or the library's)
//   node sd.mjs issue UNSIGNED.json MANDATORY_POINTERS_JSON OUT.json
//       makes a base proof with a fresh P-256 did:key of the library's own (the credential's
//       issuer is set to that did:key)
//   node sd.mjs verify DERIVED.json
//       verifies a derived credential; exit 0 when valid, 1 when not
import {readFileSync, writeFileSync} from 'node:fs';
import * as vc from '@digitalbazaar/vc';
import * as EcdsaMultikey from '@digitalbazaar/ecdsa-multikey';
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import {
  createDiscloseCryptosuite, createSignCryptosuite, createVerifyCryptosuite
} from '@digitalbazaar/ecdsa-sd-2023-cryptosuite';
import {documentLoader} from './loader.mjs';

const [command, ...args] = process.argv.slice(2);
const readJson = file => JSON.parse(readFileSync(file, 'utf8'));
const writeJson = (file, value) => writeFileSync(file, JSON.stringify(value, null, 2) + '\n');
const errors = result => JSON.stringify(result,
  (k, v) => v instanceof Error ? {name: v.name, message: v.message} : v);

if(command === 'derive' && args.length === 3) {
  const [input, pointers, output] = args;
  const suite = new DataIntegrityProof({
    cryptosuite: createDiscloseCryptosuite({selectivePointers: JSON.parse(pointers)}),
  });
  const derived = await vc.derive({verifiableCredential: readJson(input), suite, documentLoader});
  writeJson(output, derived);
  console.log(`derived into ${output}`);
} else if(command === 'issue' && args.length === 3) {
  const [input, pointers, output] = args;
  const probe = await EcdsaMultikey.generate({curve: 'P-256'});
  const {publicKeyMultibase} = await probe.export({publicKey: true});
  const did = `did:key:${publicKeyMultibase}`;
  const exported = await probe.export({publicKey: true, secretKey: true, includeContext: true});
  const key = await EcdsaMultikey.from({...exported, id: `${did}#${publicKeyMultibase}`, controller: did});
  const credential = readJson(input);
  credential.issuer = did;
  const suite = new DataIntegrityProof({
    signer: key.signer(),
    cryptosuite: createSignCryptosuite({mandatoryPointers: JSON.parse(pointers)}),
  });
  writeJson(output, await vc.issue({credential, suite, documentLoader}));
  console.log(`issued into ${output}`);
} else if(command === 'verify' && args.length === 1) {
  const suite = new DataIntegrityProof({cryptosuite: createVerifyCryptosuite()});
  // The proof is what is checked here; a status entry's list is not fetched (nothing is).
  const checkStatus = async () => ({verified: true});
  const result = await vc.verifyCredential({
    credential: readJson(args[0]), suite, documentLoader, checkStatus,
  });
  if(result.verified) {
    console.log('verified');
    process.exit(0);
  }
  console.error(`NOT verified: ${errors(result)}`);
  process.exit(1);
} else {
  console.error('usage: node sd.mjs derive BASE POINTERS OUT | issue UNSIGNED POINTERS OUT | verify DERIVED');
  process.exit(2);
}
