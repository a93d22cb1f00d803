"""Schemathesis hooks for Inkan (issue 20 point 3): every request carries a person's
DPoP-bound session (RFC 9449), `Authorization: DPoP <access token>` and a fresh `DPoP` proof
of the session's ES256 key for the request's method and URL, so that operations of people are
fuzzed past their authentication. The session is the one of the `inkan client` profile in the
folder INKAN_DPOP_PROFILE (its state.json); INKAN_DPOP_URL is the server's public URL."""

import base64
import hashlib
import json
import os
import time
import uuid

import schemathesis
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


with open(os.path.join(os.environ["INKAN_DPOP_PROFILE"], "state.json"), encoding="utf-8") as f:
    SESSION = json.load(f)["session"]
KEY = serialization.load_der_private_key(
    base64.urlsafe_b64decode(SESSION["dpop_key"] + "=" * (-len(SESSION["dpop_key"]) % 4)),
    password=None,
)
_public = KEY.public_key().public_numbers()
JWK = {
    "kty": "EC",
    "crv": "P-256",
    "x": b64url(_public.x.to_bytes(32, "big")),
    "y": b64url(_public.y.to_bytes(32, "big")),
}
TOKEN = SESSION["access_token"]
BASE = os.environ["INKAN_DPOP_URL"].rstrip("/")


def proof(method: str, url: str) -> str:
    """A DPoP proof (ES256) for `method` and `url`, bound to the access token (`ath`)."""
    header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": JWK}
    claims = {
        "jti": uuid.uuid4().hex,
        "htm": method,
        "htu": url,
        "iat": int(time.time()),
        "ath": b64url(hashlib.sha256(TOKEN.encode()).digest()),
    }
    compact = lambda value: b64url(json.dumps(value, separators=(",", ":")).encode())
    signing_input = f"{compact(header)}.{compact(claims)}"
    r, s = decode_dss_signature(KEY.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    return f"{signing_input}.{b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


@schemathesis.hook
def before_call(context, case, kwargs):
    session = {
        "Authorization": f"DPoP {TOKEN}",
        "DPoP": proof(case.method.upper(), BASE + case.formatted_path),
    }
    case.headers = {**(case.headers or {}), **session}
    if isinstance(kwargs.get("headers"), dict):
        kwargs["headers"].update(session)
