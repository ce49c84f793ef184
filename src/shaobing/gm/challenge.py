"""The login challenge: a random nonce from the server, signed with the user's SM2 key.

The signed bytes bind a fixed domain prefix (so a signature made for another purpose
cannot be replayed as a login), the challenge and the user name. The browser signer
(``server/static/js/sm2-login.js``) builds the same bytes.
"""

from __future__ import annotations

import re
import secrets

from shaobing.auth.service import normalise_username
from shaobing.core.errors import ValidationError
from shaobing.core.i18n import t

DOMAIN_PREFIX = b"shaobing-sm2-login-v1\n"
# 32 random bytes: 256 bits, 43 URL-safe base64 characters.
CHALLENGE_BYTES = 32
_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{22,128}")


def new_challenge() -> str:
    """A fresh random challenge (256 bits, URL-safe base64 without padding)."""
    return secrets.token_urlsafe(CHALLENGE_BYTES)


def challenge_message(challenge: str, username: str) -> bytes:
    """The bytes to sign: prefix, challenge, newline, normalised user name (ASCII)."""
    if not _CHALLENGE.fullmatch(challenge):
        raise ValidationError(t("gm.challenge.bad", size=len(challenge)))
    name = normalise_username(username)
    return DOMAIN_PREFIX + challenge.encode("ascii") + b"\n" + name.encode("ascii")
