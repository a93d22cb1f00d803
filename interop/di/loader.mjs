// The document loader both scripts share: JSON-LD contexts from the files the Rust crate
// bundles (nothing is fetched), did:key verification methods resolved from the DID itself.
import {readFileSync} from 'node:fs';
import {dirname, join} from 'node:path';
import {fileURLToPath} from 'node:url';

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

export async function documentLoader(url) {
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

