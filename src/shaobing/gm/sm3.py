"""SM3 hash (GB/T 32905-2016), from the ``cryptography`` package's OpenSSL binding."""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes

DIGEST_SIZE = 32


def sm3(*parts: bytes) -> bytes:
    """SM3 digest of the concatenation of ``parts``."""
    digest = hashes.Hash(hashes.SM3())
    for part in parts:
        digest.update(part)
    return digest.finalize()
