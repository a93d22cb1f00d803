// The reference figure for `inkan bench --scenario di-eddsa`: digitalbazaar's libraries
// issuing the same credential with `eddsa-rdfc-2022`, in-process (no HTTP, no log, the key in
// memory), as fast as they can.
//
//   node bench-digitalbazaar.mjs [--credential FILE] [--seconds N] [--concurrency C]
//
// FILE is the credential `inkan bench --scenario di-eddsa --credential-out FILE` issued; its
// `issuer` is replaced with the did:key of the Ed25519 key generated here (a string of the same
// length), everything else is signed as it is. JSON-LD contexts are the files the Rust crate
// bundles, read once and served from memory; nothing is fetched. After a one-second warm-up,
// `vc.issue()` runs with C issuances in flight for N seconds, and one JSON object is printed:
// {"issuances_per_s": …, …}.
import {readFileSync} from 'node:fs';
import {randomBytes} from 'node:crypto';
import {dirname, join} from 'node:path';
import {fileURLToPath} from 'node:url';
import * as vc from '@digitalbazaar/vc';
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import * as Ed25519Multikey from '@digitalbazaar/ed25519-multikey';
import {cryptosuite as eddsaRdfc2022} from '@digitalbazaar/eddsa-rdfc-2022-cryptosuite';

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const seconds = Number(option('--seconds', '5'));
const concurrency = Math.max(1, Number(option('--concurrency', '1')));

// The bundled contexts, read once.
const here = dirname(fileURLToPath(import.meta.url));
const contextsDir = join(here, '..', '..', 'crates', 'inkan-formats', 'contexts');
const FILES = {
  'https://www.w3.org/2018/credentials/v1': 'w3c-2018-credentials-v1.jsonld',
  'https://www.w3.org/2018/credentials/examples/v1': 'w3c-2018-credentials-examples-v1.jsonld',
  'https://www.w3.org/ns/credentials/v2': 'w3c-ns-credentials-v2.jsonld',
  'https://www.w3.org/ns/credentials/examples/v2': 'w3c-ns-credentials-examples-v2.jsonld',
  'https://w3id.org/security/data-integrity/v2': 'w3id-data-integrity-v2.jsonld',
  'https://w3id.org/security/multikey/v1': 'w3id-multikey-v1.jsonld',
  'https://www.w3.org/ns/did/v1': 'w3c-did-v1.jsonld',
};
const CONTEXTS = new Map(Object.entries(FILES).map(
  ([url, file]) => [url, JSON.parse(readFileSync(join(contextsDir, file), 'utf8'))]));
async function documentLoader(url) {
  const document = CONTEXTS.get(url);
  if(!document) {
    throw new Error(`document ${url} is not bundled; nothing is fetched`);
  }
  return {contextUrl: null, documentUrl: url, document};
}

// An Ed25519 key in memory whose controller is its own did:key.
const seed = new Uint8Array(randomBytes(32));
const probe = await Ed25519Multikey.generate({seed});
const did = `did:key:${probe.publicKeyMultibase}`;
const key = await Ed25519Multikey.generate({seed, controller: did});
const suite = new DataIntegrityProof({signer: key.signer(), cryptosuite: eddsaRdfc2022});

const file = option('--credential');
const credential = file ? JSON.parse(readFileSync(file, 'utf8')) : {
  '@context': ['https://www.w3.org/ns/credentials/v2', 'https://www.w3.org/ns/credentials/examples/v2'],
  id: 'urn:uuid:58172aac-d8ba-11ed-83dd-0b3aef56cc33',
  type: ['VerifiableCredential', 'ExampleDegreeCredential'],
  validFrom: '2026-01-01T00:00:00Z',
  credentialSubject: {
    id: 'did:example:ebfeb1f712ebc6f1c276e12ec21',
    degree: {type: 'ExampleBachelorDegree', name: 'Bachelor of Science and Arts'},
  },
};
delete credential.proof;
credential.issuer = did;

const issueOne = () => vc.issue({credential: {...credential}, suite, documentLoader});
// One first: a broken setup fails here, not in the loop.
const sample = await issueOne();

// The loop checks the clock itself: issuance may settle in microtasks only, which would
// starve a timer.
const now = () => Number(process.hrtime.bigint()) / 1e9;
const warmUpEnd = now() + 1;
const end = warmUpEnd + seconds;
let count = 0;
async function worker() {
  for(let t = now(); t < end; t = now()) {
    await issueOne();
    const done = now();
    if(t >= warmUpEnd && done < end) {
      count++;
    }
  }
}
await Promise.all(Array.from({length: concurrency}, worker));
const elapsed = seconds;
console.log(JSON.stringify({
  scenario: 'eddsa-rdfc-2022 issuance in-process with @digitalbazaar/vc issue() (no HTTP, no log, key in memory)',
  node: process.version,
  concurrency,
  seconds: elapsed,
  issuances: count,
  issuances_per_s: count / elapsed,
  cryptosuite: sample.proof.cryptosuite,
}));
