// Interoperability check of certificate tokens and trust lists against `jose`, an independent JOSE
// implementation.
//
// Reads one JSON request from standard input:
//   {
//     "jwks":        JWK Set to verify `token` with (optional, with `token`),
//     "token":       compact JWS to verify (optional),
//     "issuer":      expected `iss`,
//     "typ":         `typ` to expect and to sign with (optional; "zp-cert+jwt" otherwise, e.g.
//                    "zp-trust-list+jwt" for a trust list),
//     "now":         current time in seconds since the Unix epoch (optional; the clock otherwise),
//     "private_jwk": Ed25519 private JWK to sign `claims` with, or the string "generate" for a
//                    fresh key made here (optional),
//     "claims":      claims to sign (with `private_jwk`)
//   }
// and writes one JSON object to standard output:
//   {
//     "verified_payload":  claims `jose` accepted,
//     "protected_header":  header `jose` read,
//     "jwks_thumbprints":  RFC 7638 thumbprint of each key of `jwks`, as `jose` computes it,
//     "signed_token":      `claims` signed by `jose`,
//     "signing_jwk":       public JWK of the key `signed_token` was signed with
//   }
// A refused token gives {"error": <jose error code>, "message": ...} in place of the verification
// members, and the exit status stays 0 so the caller can assert on it. A malformed request or a
// failure to sign gives {"error": ..., "stage": ...} and exit status 1.

import {
  SignJWT,
  calculateJwkThumbprint,
  createLocalJWKSet,
  exportJWK,
  generateKeyPair,
  importJWK,
  jwtVerify,
} from 'jose';

const TYP = 'zp-cert+jwt';

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) {
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function describe(err) {
  return {
    error: typeof err?.code === 'string' ? err.code : (err?.name ?? 'Error'),
    message: String(err?.message ?? err),
  };
}

async function verify(request) {
  const jwks = createLocalJWKSet(request.jwks);
  const options = { issuer: request.issuer, typ: request.typ ?? TYP, algorithms: ['EdDSA'] };
  if (typeof request.now === 'number') {
    options.currentDate = new Date(request.now * 1000);
  }
  try {
    const { payload, protectedHeader } = await jwtVerify(request.token, jwks, options);
    return { verified_payload: payload, protected_header: protectedHeader };
  } catch (err) {
    return describe(err);
  }
}

async function signingKey(privateJwk) {
  if (privateJwk === 'generate') {
    const { privateKey, publicKey } = await generateKeyPair('EdDSA', { extractable: true });
    const jwk = await exportJWK(publicKey);
    return { key: privateKey, publicJwk: jwk, kid: await calculateJwkThumbprint(jwk) };
  }
  const { kty, crv, x } = privateJwk;
  const publicJwk = { kty, crv, x };
  return { key: await importJWK(privateJwk, 'EdDSA'), publicJwk, kid: privateJwk.kid };
}

async function sign(request) {
  const { key, publicJwk, kid } = await signingKey(request.private_jwk);
  const token = await new SignJWT(request.claims)
    .setProtectedHeader({ alg: 'EdDSA', typ: request.typ ?? TYP, kid })
    .sign(key);
  return { signed_token: token, signing_jwk: { ...publicJwk, kid } };
}

async function main() {
  let request;
  try {
    request = JSON.parse(await readStdin());
  } catch (err) {
    return { exitCode: 1, out: { stage: 'request', ...describe(err) } };
  }
  const out = {};
  if (request.jwks !== undefined) {
    try {
      out.jwks_thumbprints = await Promise.all(request.jwks.keys.map((jwk) => calculateJwkThumbprint(jwk)));
    } catch (err) {
      return { exitCode: 1, out: { stage: 'thumbprint', ...describe(err) } };
    }
  }
  if (request.token !== undefined) {
    Object.assign(out, await verify(request));
  }
  if (request.private_jwk !== undefined) {
    try {
      Object.assign(out, await sign(request));
    } catch (err) {
      return { exitCode: 1, out: { ...out, stage: 'sign', ...describe(err) } };
    }
  }
  return { exitCode: 0, out };
}

const { exitCode, out } = await main();
process.stdout.write(`${JSON.stringify(out)}\n`);
process.exitCode = exitCode;
