"""Verifies one delivery Inkan POSTed, as its receiver would, with the PyPI package
`http-message-signatures` (RFC 9421, RFC 9530): not Inkan's code.

Reads JSON on standard input: {"method", "url", "headers": [[name, value], ...],
"body_b64": base64 of the body as received, "jwks": Inkan's GET /v1/delivery/keys,
"now": the receiver's clock in Unix seconds}. Prints {"verified": true, "keyid", "covered"} and
exits 0, or {"verified": false, "error"} and exits 1.

It requires the signature tagged "inkan-delivery", by a key of the JWK Set, covering the
method, the target URI, the content type and the Content-Digest, within its created/expires
window at `now`, and the digest to match the body.
"""

import base64
import datetime
import json
import sys

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from http_message_signatures import HTTPMessageVerifier, HTTPSignatureKeyResolver, algorithms
from http_message_signatures.exceptions import InvalidSignature
from http_message_signatures.structures import CaseInsensitiveDict


def b64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Keys(HTTPSignatureKeyResolver):
    def __init__(self, jwks):
        self.keys = {}
        for jwk in jwks["keys"]:
            if jwk.get("kty") == "OKP" and jwk.get("crv") == "Ed25519":
                self.keys[jwk["kid"]] = Ed25519PublicKey.from_public_bytes(b64url(jwk["x"]))

    def resolve_public_key(self, key_id):
        return self.keys.get(key_id)

    def resolve_private_key(self, key_id):
        raise NotImplementedError


class Verifier(HTTPMessageVerifier):
    """The library's verifier, with the receiver's clock instead of the machine's."""

    def __init__(self, now, **kwargs):
        super().__init__(**kwargs)
        self.now = datetime.datetime.fromtimestamp(now, tz=datetime.timezone.utc)

    def validate_created_and_expires(self, sig_input, max_age=None):
        created = self._parse_integer_timestamp(sig_input.params["created"], "created")
        expires = self._parse_integer_timestamp(sig_input.params["expires"], "expires")
        if created > self.now + self.max_clock_skew:
            raise InvalidSignature('"created" is in the future')
        if expires < self.now - self.max_clock_skew:
            raise InvalidSignature('"expires" has passed')


class Message:
    def __init__(self, method, url, headers):
        self.method = method
        self.url = url
        self.headers = CaseInsensitiveDict(headers)


def main():
    given = json.load(sys.stdin)
    message = Message(given["method"], given["url"], given["headers"])
    body = base64.b64decode(given["body_b64"])
    verifier = Verifier(
        given["now"],
        signature_algorithm=algorithms.ED25519,
        key_resolver=Keys(given["jwks"]),
    )
    try:
        results = verifier.verify(
            message,
            expect_tag="inkan-delivery",
            require_components=("@method", "@target-uri", "content-type", "content-digest"),
            body=body,
            max_age=None,
        )
    except Exception as e:  # noqa: BLE001: any failure is "not verified"; the class says which
        cause = e.__cause__
        print(json.dumps({
            "verified": False,
            "kind": type(e).__name__,
            "error": str(e),
            # What raised it: cryptography's InvalidSignature when the signature itself fails.
            "cause": f"{type(cause).__module__}.{type(cause).__name__}" if cause else None,
        }))
        sys.exit(1)
    result = results[0]
    print(json.dumps({
        "verified": True,
        "keyid": result.parameters.get("keyid"),
        "covered": list(result.covered_components.keys()),
    }))


main()
