"""SM2 certificate login (J2, Chinese commercial cryptography).

The server hands out a single-use challenge; the user's browser (or script) signs
``challenge_message(challenge, username)`` with the SM2 private key of a certificate issued
by the configured CA (``$SHAOBING_HOME/ca/ca.crt``); the server verifies the certificate
against the CA, the signature with the certificate's key (SM2 with SM3, GB/T 32918), and that
the certificate's common name is the account's user name. The private key never leaves the
user's machine.
"""

from __future__ import annotations

import base64
import binascii
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shaobing.auth.models import User
from shaobing.auth.policy import AuthContext
from shaobing.auth.service import normalise_username
from shaobing.auth.sessions import IssuedSession, create_session
from shaobing.core.audit import record_event
from shaobing.core.errors import ShaobingError, ValidationError
from shaobing.core.i18n import t
from shaobing.gm.certs import default_ca_path, verify_login
from shaobing.gm.challenge import challenge_message, new_challenge

# Organisation-defined: a challenge must be signed within two minutes, and at most this many
# unanswered challenges are kept (oldest dropped first).
CHALLENGE_SECONDS = 120
MAX_OPEN_CHALLENGES = 10_000
# A certificate larger than this is not a user certificate.
MAX_CERT_BYTES = 16_384


@dataclass
class Challenges:
    """Open challenges, each usable once before it expires."""

    _open: dict[str, datetime] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def issue(self, now: datetime) -> tuple[str, datetime]:
        """A new challenge and its expiry."""
        challenge = new_challenge()
        expires = now + timedelta(seconds=CHALLENGE_SECONDS)
        with self._lock:
            self._open = {c: e for c, e in self._open.items() if e > now}
            while len(self._open) >= MAX_OPEN_CHALLENGES:
                self._open.pop(next(iter(self._open)))
            self._open[challenge] = expires
        return challenge, expires

    def redeem(self, challenge: str, now: datetime) -> bool:
        """Use up a challenge; False when unknown, used or expired."""
        with self._lock:
            expires = self._open.pop(challenge, None)
        return expires is not None and now < expires


class CertLoginRefused(ShaobingError):
    """A certificate login that did not succeed (one line, Chinese)."""


@dataclass(frozen=True)
class CertLogin:
    """A successful certificate login."""

    user: User
    session: IssuedSession
    identity: dict[str, Any]


def _signature(text: str) -> bytes:
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValidationError(t("server.cert.bad_signature_encoding")) from exc


def _refuse(db: Session, username: str, reason: str, message: str) -> CertLoginRefused:
    record_event(
        db,
        "auth.login",
        actor=username or "-",
        outcome="failure",
        target=username or "-",
        detail={"method": "sm2_certificate", "reason": reason},
    )
    return CertLoginRefused(message)


def certificate_login(
    db: Session,
    challenges: Challenges,
    *,
    username: str,
    challenge: str,
    certificate_pem: str,
    signature: str,
    auth: AuthContext,
) -> CertLogin:
    """Verify a signed challenge and open a session; refusals are audited and raised.

    The caller must commit even when this raises, so that the audit entry is kept.
    """
    now = auth.now()
    name = normalise_username(username) if username.strip() else ""
    if not challenges.redeem(challenge, now):
        raise _refuse(db, name, "challenge", t("server.cert.challenge_expired"))
    ca_path = default_ca_path()
    if not ca_path.is_file():
        raise _refuse(db, name, "no_ca", t("server.cert.no_ca", path=ca_path))
    if len(certificate_pem) > MAX_CERT_BYTES:
        raise _refuse(db, name, "cert_size", t("server.cert.too_large"))
    try:
        identity = verify_login(
            ca_path.read_bytes(),
            certificate_pem.encode("utf-8"),
            challenge_message(challenge, name),
            _signature(signature),
            now=now,
        )
    except ValidationError as exc:
        raise _refuse(db, name, "verification", exc.message) from exc
    if normalise_username(identity.common_name) != name:
        raise _refuse(
            db, name, "name", t("server.cert.name_mismatch", cn=identity.common_name, user=name)
        )
    user = db.scalar(select(User).where(User.username == name))
    locked = user is not None and (
        user.manually_locked or (user.locked_until is not None and now < user.locked_until)
    )
    if user is None or not user.active or locked:
        raise _refuse(db, name, "account", t("server.cert.account_unusable", user=name))
    user.last_login_at = now
    issued = create_session(db, user, ctx=auth)
    details = {
        "method": "sm2_certificate",
        "serial": identity.serial_hex,
        "fingerprint_sm3": identity.fingerprint_sm3,
    }
    record_event(
        db, "auth.login", actor=user.username, client_id=user.client_id, target=name, detail=details
    )
    return CertLogin(user, issued, details | {"common_name": identity.common_name})
