#!/usr/bin/env node
// Independent compact JWE (RFC 7516) for Inkan's signature activation data, with the npm
// package `jose` (panva): `alg` ECDH-ES on P-256, `enc` A256GCM, nothing else. Used by the
// Rust test crates/inkan-formats/tests/jwe_interop.rs; exit status 0 only on success.
//
//   node jwe.mjs encrypt PUBLIC_JWK_JSON    < plaintext   > compact JWE
//   node jwe.mjs decrypt PRIVATE_JWK_JSON   < compact JWE > plaintext
//
// encrypt: jose.CompactEncrypt with {alg: 'ECDH-ES', enc: 'A256GCM'} (and the JWK's `kid`
//          in the header when it has one); prints the token and a newline.
// decrypt: jose.compactDecrypt restricted to ECDH-ES / A256GCM; writes the plaintext bytes
//          unchanged (no newline added).
import * as jose from 'jose';

function fail(message) {
  process.stderr.write(`jwe.mjs: ${message}\n`);
  process.exit(1);
}

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return Buffer.concat(chunks);
}

const [command, jwkJson, ...rest] = process.argv.slice(2);
if (!['encrypt', 'decrypt'].includes(command) || !jwkJson || rest.length > 0) {
  fail('usage: jwe.mjs encrypt PUBLIC_JWK_JSON | decrypt PRIVATE_JWK_JSON (data on stdin)');
}

try {
  const jwk = JSON.parse(jwkJson);
  const key = await jose.importJWK(jwk, 'ECDH-ES');
  const input = await readStdin();
  if (command === 'encrypt') {
    const header = { alg: 'ECDH-ES', enc: 'A256GCM' };
    if (typeof jwk.kid === 'string') header.kid = jwk.kid;
    const token = await new jose.CompactEncrypt(new Uint8Array(input))
      .setProtectedHeader(header)
      .encrypt(key);
    process.stdout.write(token + '\n');
  } else {
    const { plaintext } = await jose.compactDecrypt(input.toString('utf8').trim(), key, {
      keyManagementAlgorithms: ['ECDH-ES'],
      contentEncryptionAlgorithms: ['A256GCM'],
    });
    process.stdout.write(Buffer.from(plaintext));
  }
} catch (e) {
  fail(`${e?.code ?? 'error'}: ${e?.message ?? e}`);
}
