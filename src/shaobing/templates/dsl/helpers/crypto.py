"""Cipher and token helpers: AES-GCM/CBC encryption and JWT signing (HMAC and none)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
from typing import Any

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shaobing.templates.dsl.errors import HelperFailure, detail
from shaobing.templates.dsl.helpers.registry import helper
from shaobing.templates.dsl.values import as_bytes, as_int, as_text, short

_HMAC_ALGORITHMS = {"HS256": "sha256", "HS384": "sha384", "HS512": "sha512"}


def _key(value: Any) -> bytes:
    key = as_bytes(value)
    if len(key) not in (16, 24, 32):
        raise HelperFailure(detail("bad_argument", value=f"AES key length {len(key)}"))
    return key


@helper("aes_gcm", 2)
def aes_gcm(args: list[Any]) -> bytes:
    """AES-GCM encrypt (key, plaintext); output is nonce followed by ciphertext and tag."""
    nonce = os.urandom(12)
    return nonce + AESGCM(_key(args[0])).encrypt(nonce, as_bytes(args[1]), None)


@helper("aes_cbc", 3)
def aes_cbc(args: list[Any]) -> bytes:
    """AES-CBC encrypt (plaintext, key, iv) with PKCS#7 padding."""
    iv = as_bytes(args[2])
    if len(iv) != 16:
        raise HelperFailure(detail("bad_argument", value=f"IV length {len(iv)}"))
    padder = padding.PKCS7(128).padder()
    data = padder.update(as_bytes(args[0])) + padder.finalize()
    encryptor = Cipher(algorithms.AES(_key(args[1])), modes.CBC(iv)).encryptor()
    return encryptor.update(data) + encryptor.finalize()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@helper("generate_jwt", 1, 4)
def generate_jwt(args: list[Any]) -> str:
    """Sign JSON claims as a JWT with HS256/384/512 or none (other algorithms refused)."""
    try:
        claims = json.loads(as_text(args[0]))
    except ValueError as error:
        raise HelperFailure(detail("bad_argument", value=short(str(error)))) from None
    if not isinstance(claims, dict):
        raise HelperFailure(detail("bad_argument", value=short(as_text(args[0]))))
    algorithm = as_text(args[1]) if len(args) > 1 else ""
    upper = algorithm.upper()
    if upper not in _HMAC_ALGORITHMS and upper not in ("", "NONE"):
        raise HelperFailure(detail("bad_algorithm", value=short(algorithm)))
    if len(args) > 3:
        now = int(time.time())
        claims["iat"] = now
        claims["exp"] = as_int(args[3])
    header = {"alg": algorithm if upper not in ("", "NONE") else (algorithm or "none"),
              "typ": "JWT"}  # fmt: skip
    if upper in _HMAC_ALGORITHMS:
        header["alg"] = upper
    signing_input = (
        _b64url(json.dumps(header, separators=(",", ":")).encode())
        + "."
        + _b64url(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode())
    )
    if upper not in _HMAC_ALGORITHMS:
        return signing_input + "."
    secret = as_bytes(args[2]) if len(args) > 2 else b""
    digest = hmac.new(secret, signing_input.encode(), getattr(hashlib, _HMAC_ALGORITHMS[upper]))
    return signing_input + "." + _b64url(digest.digest())
