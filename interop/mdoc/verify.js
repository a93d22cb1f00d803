#!/usr/bin/env node
// Independent verification of an mdoc DeviceResponse made by Inkan, with @auth0/mdl.
//
// usage: node verify.js DEVICE_RESPONSE.cbor SESSION_TRANSCRIPT.cbor ISSUER_ROOT.pem
//   DEVICE_RESPONSE.cbor     the DeviceResponse, binary CBOR
//   SESSION_TRANSCRIPT.cbor  SessionTranscriptBytes (#6.24 around the SessionTranscript), binary CBOR
//   ISSUER_ROOT.pem          the trusted issuer (IACA) certificate, PEM
// Prints the disclosed elements as JSON; exit status 0 only when every check passed.
'use strict';
const fs = require('fs');
const { Verifier } = require('@auth0/mdl');

async function main() {
  const [responsePath, transcriptPath, rootPath] = process.argv.slice(2);
  if (!responsePath || !transcriptPath || !rootPath) {
    console.error('usage: node verify.js DEVICE_RESPONSE.cbor SESSION_TRANSCRIPT.cbor ISSUER_ROOT.pem');
    return 2;
  }
  const verifier = new Verifier([fs.readFileSync(rootPath, 'utf8')]);
  const failed = [];
  const mdoc = await verifier.verify(fs.readFileSync(responsePath), {
    encodedSessionTranscript: fs.readFileSync(transcriptPath),
    onCheck: (check) => {
      if (check.status !== 'PASSED') failed.push(`${check.category}: ${check.check}${check.reason ? ` (${check.reason})` : ''}`);
    },
  });
  if (failed.length > 0) {
    for (const f of failed) console.error(`FAILED ${f}`);
    return 1;
  }
  const out = mdoc.documents.map((d) => ({
    docType: d.docType,
    elements: Object.fromEntries(
      Object.entries(d.issuerSigned.nameSpaces).map(([ns, items]) => [ns, items.map((i) => i.elementIdentifier)]),
    ),
  }));
  console.log(JSON.stringify(out));
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`FAILED ${err && err.message ? err.message : err}`);
    process.exit(1);
  },
);
