#!/usr/bin/env node
// An INDEPENDENT issuer for `inkan verify` (crates/inkan/tests/independent_issuers.rs):
// @auth0/mdl issues an mDL with its own fresh IACA root and document signer certificates
// (made with @peculiar/x509, a dependency of @auth0/mdl), and the holder's device answers with a
// DeviceResponse bound to an OpenID4VP SessionTranscript.
//
// usage: node issue.js OUTDIR
// Writes to OUTDIR:
//   device-response.hex      the DeviceResponse (CBOR, hex), disclosing family_name, given_name
//                            and age_over_21 out of more issued elements
//   session-transcript.cbor  the SessionTranscriptBytes (#6.24 around the SessionTranscript), binary
//   issuer-signed.hex        the document's IssuerSigned alone (CBOR, hex), every element
//   iaca.pem, ds.pem         the IACA root and document signer certificates
'use strict';
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const x509 = require('@peculiar/x509');
const { Document, DeviceResponse, MDoc, DataItem } = require('@auth0/mdl');
const { cborEncode } = require('@auth0/mdl/lib/cbor');

const webcrypto = crypto.webcrypto;
x509.cryptoProvider.set(webcrypto);
const EC = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };

async function main() {
  const outDir = process.argv[2];
  if (!outDir) {
    console.error('usage: node issue.js OUTDIR');
    return 2;
  }
  fs.mkdirSync(outDir, { recursive: true });
  const write = (name, data) => fs.writeFileSync(path.join(outDir, name), data);

  const now = Date.now();
  const day = 24 * 3600 * 1000;
  const serial = () => crypto.randomBytes(8).toString('hex').replace(/^[89a-f]/, '1');

  // The IACA root (self-signed CA) and the document signer it certifies.
  const iacaKeys = await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify']);
  const iaca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: 'C=UT, CN=Independent Test IACA',
    notBefore: new Date(now - day),
    notAfter: new Date(now + 3650 * day),
    signingAlgorithm: EC,
    keys: iacaKeys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(iacaKeys.publicKey),
    ],
  });
  const dsKeys = await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify']);
  const ds = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: 'C=UT, CN=Independent Test Document Signer',
    issuer: iaca.subject,
    notBefore: new Date(now - day),
    notAfter: new Date(now + 365 * day),
    signingAlgorithm: EC,
    publicKey: dsKeys.publicKey,
    signingKey: iacaKeys.privateKey,
    extensions: [
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension(['1.0.18013.5.1.2'], true),
      await x509.AuthorityKeyIdentifierExtension.create(iaca, false),
      await x509.SubjectKeyIdentifierExtension.create(dsKeys.publicKey),
    ],
  });
  const dsJwk = await webcrypto.subtle.exportKey('jwk', dsKeys.privateKey);

  // The holder's device key.
  const deviceKeys = await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify']);
  const devicePrivate = await webcrypto.subtle.exportKey('jwk', deviceKeys.privateKey);
  const { d: _d, ...devicePublic } = devicePrivate;
  // A key id for both COSE_Sign1 headers: without one, @auth0/mdl writes the `kid` label (4)
  // with the CBOR value `undefined` (0xf7), not a bstr as RFC 9052 wants, and Inkan's COSE
  // parser (coset) refuses the header. See the report in independent_issuers.rs.
  devicePrivate.kid = 'device-key-1';

  const signed = await new Document('org.iso.18013.5.1.mDL')
    .addIssuerNameSpace('org.iso.18013.5.1', {
      family_name: 'Jones',
      given_name: 'Ava',
      birth_date: '2007-03-25',
      issue_date: '2023-09-01',
      expiry_date: '2028-09-30',
      issuing_country: 'US',
      issuing_authority: 'NY DMV',
      document_number: '01-856-5050',
      age_over_21: true,
    })
    .useDigestAlgorithm('SHA-256')
    .addValidityInfo({ signed: new Date(now - 60 * 1000), validFrom: new Date(now - 60 * 1000), validUntil: new Date(now + 365 * day) })
    .addDeviceKeyInfo({ deviceKey: devicePublic })
    .sign({ issuerPrivateKey: dsJwk, issuerCertificate: ds.toString('pem'), alg: 'ES256', kid: new Uint8Array(Buffer.from('document-signer-1')) });

  const presentationDefinition = {
    id: 'independent-issuer-test',
    input_descriptors: [
      {
        id: 'org.iso.18013.5.1.mDL',
        format: { mso_mdoc: { alg: ['ES256'] } },
        constraints: {
          limit_disclosure: 'required',
          fields: ['family_name', 'given_name', 'age_over_21'].map((name) => ({
            path: [`$['org.iso.18013.5.1']['${name}']`],
            intent_to_retain: false,
          })),
        },
      },
    ],
  };
  const sessionTranscriptBytes = cborEncode(
    DataItem.fromData([
      null,
      null,
      ['independent-issuer-test', 'https://verifier.example/response', crypto.randomUUID()],
    ]),
  );
  const response = await DeviceResponse.from(new MDoc([signed]))
    .usingPresentationDefinition(presentationDefinition)
    .usingSessionTranscriptBytes(sessionTranscriptBytes)
    .authenticateWithSignature(devicePrivate, 'ES256')
    .sign();

  write('device-response.hex', Buffer.from(response.encode()).toString('hex') + '\n');
  write('session-transcript.cbor', sessionTranscriptBytes);
  write('issuer-signed.hex', Buffer.from(cborEncode(signed.prepare().get('issuerSigned'))).toString('hex') + '\n');
  write('iaca.pem', iaca.toString('pem') + '\n');
  write('ds.pem', ds.toString('pem') + '\n');
  console.log(`issued into ${outDir}`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`FAILED ${err && err.stack ? err.stack : err}`);
    process.exit(1);
  },
);
