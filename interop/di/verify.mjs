// Independent verification of a Data Integrity credential or presentation with digitalbazaar's
// libraries: node verify.mjs FILE [--challenge C] [--domain D]. Exit 0 when valid, 1 when not.
// JSON-LD contexts come from the same bundled files the Rust crate embeds (nothing is fetched);
// did:key verification methods are resolved locally from the DID itself.
import {readFileSync} from 'node:fs';
import {dirname, join} from 'node:path';
import {fileURLToPath} from 'node:url';
import * as vc from '@digitalbazaar/vc';
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import {cryptosuite as eddsaRdfc2022} from '@digitalbazaar/eddsa-rdfc-2022-cryptosuite';
import {cryptosuite as ecdsaRdfc2019} from '@digitalbazaar/ecdsa-rdfc-2019-cryptosuite';
import {createVerifyCryptosuite as eddsaJcs2022} from '@digitalbazaar/eddsa-jcs-2022-cryptosuite';
import {createVerifyCryptosuite as ecdsaJcs2019} from '@digitalbazaar/ecdsa-jcs-2019-cryptosuite';

const here = dirname(fileURLToPath(import.meta.url));
const contextsDir = join(here, '..', '..', 'crates', 'inkan-formats', 'contexts');
const CONTEXTS = {
  'https://www.w3.org/2018/credentials/v1': 'w3c-2018-credentials-v1.jsonld',
  'https://www.w3.org/2018/credentials/examples/v1': 'w3c-2018-credentials-examples-v1.jsonld',
  'https://www.w3.org/ns/credentials/v2': 'w3c-ns-credentials-v2.jsonld',
  'https://www.w3.org/ns/credentials/examples/v2': 'w3c-ns-credentials-examples-v2.jsonld',
  'https://w3id.org/security/data-integrity/v2': 'w3id-data-integrity-v2.jsonld',
  'https://w3id.org/security/multikey/v1': 'w3id-multikey-v1.jsonld',
  'https://www.w3.org/ns/did/v1': 'w3c-did-v1.jsonld',
};
const MULTIKEY_V1 = 'https://w3id.org/security/multikey/v1';

function didKeyDocument(did) {
  const multibase = did.slice('did:key:'.length);
  const id = `${did}#${multibase}`;
  const method = {'@context': MULTIKEY_V1, id, type: 'Multikey', controller: did, publicKeyMultibase: multibase};
  return {
    method,
    document: {
      '@context': ['https://www.w3.org/ns/did/v1', MULTIKEY_V1],
      id: did,
      verificationMethod: [method],
      assertionMethod: [id],
      authentication: [id],
    },
  };
}

async function documentLoader(url) {
  if(CONTEXTS[url]) {
    const document = JSON.parse(readFileSync(join(contextsDir, CONTEXTS[url]), 'utf8'));
    return {contextUrl: null, documentUrl: url, document};
  }
  if(url.startsWith('did:key:')) {
    const [did, fragment] = url.split('#');
    const {method, document} = didKeyDocument(did);
    return {contextUrl: null, documentUrl: url, document: fragment ? method : document};
  }
  throw new Error(`document ${url} is not bundled; nothing is fetched`);
}

const args = process.argv.slice(2);
const file = args[0];
const option = name => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
if(!file) {
  console.error('usage: node verify.mjs FILE [--challenge C] [--domain D]');
  process.exit(2);
}
const doc = JSON.parse(readFileSync(file, 'utf8'));
const suite = [
  new DataIntegrityProof({cryptosuite: eddsaRdfc2022}),
  new DataIntegrityProof({cryptosuite: ecdsaRdfc2019}),
  new DataIntegrityProof({cryptosuite: eddsaJcs2022()}),
  new DataIntegrityProof({cryptosuite: ecdsaJcs2019()}),
];
const types = [].concat(doc.type ?? []);
let result;
if(types.includes('VerifiablePresentation')) {
  result = await vc.verify({
    presentation: doc, suite, documentLoader,
    challenge: option('--challenge'), domain: option('--domain'),
  });
} else {
  result = await vc.verifyCredential({credential: doc, suite, documentLoader});
}
const errors = JSON.stringify(result, (k, v) => v instanceof Error ? {name: v.name, message: v.message} : v);
if(result.verified) {
  console.log('verified');
  process.exit(0);
}
console.error(`NOT verified: ${errors}`);
process.exit(1);
