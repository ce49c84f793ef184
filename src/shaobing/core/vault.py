"""Encryption of secrets the platform must keep (recovered passwords, target credentials).

AES-256-GCM with a random 96-bit nonce per value; the key is a file outside the database
(``Settings.vault_key_path``, created with mode 0600 on first use), so a copy of the
database alone does not reveal the secrets (J2). Stored form: ``v1:<base64(nonce||ct)>``.
"""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shaobing.core.errors import ValidationError
from shaobing.core.i18n import t
from shaobing.core.settings import get_settings

_PREFIX = "v1:"
_KEY_BYTES = 32
_NONCE_BYTES = 12
# Shown instead of a secret everywhere; the length is hidden on purpose.
MASKED = "******"


def _load_key(path: Path) -> bytes:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_bytes(_KEY_BYTES)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it first: read theirs
        else:
            with os.fdopen(fd, "wb") as fh:
                fh.write(key)
            return key
    data = path.read_bytes()
    if len(data) != _KEY_BYTES:
        raise ValidationError(t("common.vault_key_invalid", path=path))
    return data


def encrypt_secret(plain: str, *, key_path: Path | None = None) -> str:
    """Encrypt ``plain`` for storage."""
    key = _load_key(key_path or get_settings().vault_key_path)
    nonce = secrets.token_bytes(_NONCE_BYTES)
    sealed = AESGCM(key).encrypt(nonce, plain.encode("utf-8"), None)
    return _PREFIX + base64.b64encode(nonce + sealed).decode("ascii")


def decrypt_secret(stored: str, *, key_path: Path | None = None) -> str:
    """Decrypt a value made by :func:`encrypt_secret` (clear error for a wrong key)."""
    path = key_path or get_settings().vault_key_path
    if not stored.startswith(_PREFIX):
        raise ValidationError(t("common.vault_value_invalid"))
    try:
        raw = base64.b64decode(stored[len(_PREFIX) :], validate=True)
        plain = AESGCM(_load_key(path)).decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], None)
    except (ValueError, InvalidTag):
        raise ValidationError(t("common.vault_decrypt_failed", path=path)) from None
    return plain.decode("utf-8")


def mask_secret(_plain: str | None) -> str:
    """The masked form shown in every output."""
    return MASKED
