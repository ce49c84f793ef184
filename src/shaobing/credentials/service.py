"""Store, list, rotate and remove target credentials; every change is audited (names only).

Secrets come in as :class:`Secret` (from a hidden prompt, standard input or a POST body),
are checked (an SSH key must load with its passphrase), encrypted with the vault and never
returned: :func:`credential_as_dict` is the only outward form and carries no secret.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shaobing.core.audit import record_event
from shaobing.core.errors import ConflictError, NotFoundError, ValidationError
from shaobing.core.i18n import t
from shaobing.core.vault import decrypt_secret, encrypt_secret
from shaobing.credentials.models import TargetCredential
from shaobing.credentials.patterns import normalise_patterns
from shaobing.engagements.models import Engagement

SSH_PASSWORD = "ssh_password"  # noqa: S105 - the name of a kind, not a password
SSH_KEY = "ssh_key"
DB_PASSWORD = "db_password"  # noqa: S105 - the name of a kind, not a password
KINDS = (SSH_PASSWORD, SSH_KEY, DB_PASSWORD)
MAX_PASSWORD = 1024
MAX_KEY = 16 * 1024
_NAME = re.compile(r"^[\w.\-]{1,64}$")
_USER = re.compile(r"^[^\s@:/\x00-\x1f\x7f]{1,128}$")


@dataclass(frozen=True)
class Secret:
    """A plaintext secret on its way into or out of the vault (repr never shows it)."""

    value: str = field(repr=False)
    passphrase: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class CredentialInput:
    """What describes a credential besides its secret."""

    name: str
    kind: str
    username: str
    targets: list[str]


def _now() -> datetime:
    return datetime.now(UTC)


def check_name(name: str) -> str:
    """A credential name: letters (including Chinese), digits, ``_ . -``; 1–64 characters."""
    value = name.strip()
    if not _NAME.match(value):
        raise ValidationError(t("credentials.bad_name", name=name[:80]))
    return value


def check_kind(kind: str) -> str:
    """One of :data:`KINDS`."""
    if kind not in KINDS:
        raise ValidationError(t("credentials.bad_kind", kind=kind[:40], known=", ".join(KINDS)))
    return kind


def check_username(kind: str, username: str) -> str:
    """The login name (may be empty only for a database password, e.g. Redis requirepass)."""
    value = username.strip()
    if not value and kind == DB_PASSWORD:
        return ""
    if not _USER.match(value):
        raise ValidationError(t("credentials.bad_username", username=username[:80]))
    return value


def check_secret(kind: str, secret: Secret) -> str | None:
    """Refuse an empty, oversized or unusable secret; returns an SSH key's fingerprint."""
    if not secret.value:
        raise ValidationError(t("credentials.secret_empty"))
    if kind != SSH_KEY:
        if len(secret.value) > MAX_PASSWORD:
            raise ValidationError(t("credentials.secret_too_long", limit=MAX_PASSWORD))
        if secret.passphrase:
            raise ValidationError(t("credentials.passphrase_not_for_password"))
        return None
    if len(secret.value) > MAX_KEY:
        raise ValidationError(t("credentials.key_too_long", limit=MAX_KEY))
    import asyncssh  # noqa: PLC0415 - only SSH keys need it

    try:
        key = asyncssh.import_private_key(secret.value, secret.passphrase or None)
    except asyncssh.KeyEncryptionError as exc:
        # asyncssh needs the optional bcrypt module for passphrase-protected OpenSSH keys
        # and says so only in its message.
        if "bcrypt" in str(exc):
            raise ValidationError(t("credentials.key_needs_bcrypt")) from None
        raise ValidationError(t("credentials.key_passphrase")) from None
    except (asyncssh.KeyImportError, ValueError, TypeError):
        if not secret.passphrase and _encrypted_key(secret.value):
            raise ValidationError(t("credentials.key_passphrase")) from None
        raise ValidationError(t("credentials.key_invalid")) from None
    return str(key.get_fingerprint("sha256"))


def _encrypted_key(pem: str) -> bool:
    """Whether a key that failed to load without a passphrase would want one."""
    import asyncssh  # noqa: PLC0415 - only SSH keys need it

    try:
        asyncssh.import_private_key(pem, "-")
    except asyncssh.KeyEncryptionError:
        return True
    except (asyncssh.KeyImportError, ValueError, TypeError):
        return False
    return False


def credential_as_dict(cred: TargetCredential) -> dict[str, Any]:
    """The outward form of a credential: everything but the secret."""
    return {
        "id": cred.id,
        "engagement_id": cred.engagement_id,
        "name": cred.name,
        "kind": cred.kind,
        "kind_label": t(f"credentials.kind.{cred.kind}"),
        "username": cred.username,
        "targets": list(cred.targets or []),
        "fingerprint": cred.fingerprint,
        "has_passphrase": cred.passphrase_enc is not None,
        "created_by": cred.created_by,
        "created_at": cred.created_at.isoformat(timespec="seconds"),
        "updated_by": cred.updated_by,
        "updated_at": cred.updated_at.isoformat(timespec="seconds"),
        "last_used_at": cred.last_used_at.isoformat(timespec="seconds")
        if cred.last_used_at
        else None,
    }


def _audit_detail(cred: TargetCredential) -> dict[str, Any]:
    return {
        "name": cred.name,
        "kind": cred.kind,
        "username": cred.username,
        "targets": list(cred.targets or []),
        "fingerprint": cred.fingerprint,
    }


def _audit(session: Session, action: str, cred: TargetCredential, actor: str) -> None:
    record_event(
        session,
        action,
        actor=actor,
        client_id=cred.client_id,
        engagement_id=cred.engagement_id,
        target=cred.name,
        detail=_audit_detail(cred),
    )


def list_credentials(session: Session, engagement: Engagement) -> list[TargetCredential]:
    """The engagement's credentials by name."""
    query = (
        select(TargetCredential)
        .where(TargetCredential.engagement_id == engagement.id)
        .order_by(TargetCredential.name)
    )
    return list(session.scalars(query))


def get_credential(session: Session, engagement: Engagement, name: str) -> TargetCredential:
    """The engagement's credential called ``name`` (NotFoundError naming both)."""
    found = session.scalar(
        select(TargetCredential).where(
            TargetCredential.engagement_id == engagement.id,
            TargetCredential.name == name.strip(),
        )
    )
    if found is None:
        raise NotFoundError(
            t(
                "credentials.not_found",
                name=name[:80],
                engagement=engagement.code or engagement.name,
            )
        )
    return found


def ensure_new_name(session: Session, engagement: Engagement, name: str) -> None:
    """Refuse a name the engagement already uses (ConflictError naming both)."""
    exists = session.scalar(
        select(TargetCredential.id).where(
            TargetCredential.engagement_id == engagement.id,
            TargetCredential.name == name.strip(),
        )
    )
    if exists is not None:
        raise ConflictError(
            t("credentials.exists", name=name, engagement=engagement.code or engagement.name)
        )


def add_credential(
    session: Session,
    engagement: Engagement,
    data: CredentialInput,
    secret: Secret,
    *,
    actor: str,
    key_path: Path | None = None,
) -> TargetCredential:
    """Check, encrypt and store a new credential of ``engagement``."""
    name = check_name(data.name)
    kind = check_kind(data.kind)
    username = check_username(kind, data.username)
    targets = normalise_patterns(data.targets)
    fingerprint = check_secret(kind, secret)
    ensure_new_name(session, engagement, name)
    now = _now()
    cred = TargetCredential(
        client_id=engagement.client_id,
        engagement_id=engagement.id,
        name=name,
        kind=kind,
        username=username,
        targets=targets,
        secret_enc=encrypt_secret(secret.value, key_path=key_path),
        passphrase_enc=encrypt_secret(secret.passphrase, key_path=key_path)
        if secret.passphrase
        else None,
        fingerprint=fingerprint,
        created_by=actor,
        created_at=now,
        updated_by=actor,
        updated_at=now,
    )
    session.add(cred)
    session.flush()
    _audit(session, "credential.add", cred, actor)
    return cred


def rotate_credential(
    session: Session,
    cred: TargetCredential,
    secret: Secret,
    *,
    actor: str,
    key_path: Path | None = None,
) -> TargetCredential:
    """Replace the secret (same kind, user and targets)."""
    fingerprint = check_secret(cred.kind, secret)
    cred.secret_enc = encrypt_secret(secret.value, key_path=key_path)
    cred.passphrase_enc = (
        encrypt_secret(secret.passphrase, key_path=key_path) if secret.passphrase else None
    )
    cred.fingerprint = fingerprint
    cred.updated_by = actor
    cred.updated_at = _now()
    session.flush()
    _audit(session, "credential.rotate", cred, actor)
    return cred


def remove_credential(session: Session, cred: TargetCredential, *, actor: str) -> None:
    """Delete the credential (the ciphertext goes with the row)."""
    _audit(session, "credential.remove", cred, actor)
    session.delete(cred)
    session.flush()


def reveal(cred: TargetCredential, *, key_path: Path | None = None) -> Secret:
    """Decrypt the secret for one use (a wrong vault key gives one clear line)."""
    passphrase = (
        decrypt_secret(cred.passphrase_enc, key_path=key_path) if cred.passphrase_enc else None
    )
    return Secret(decrypt_secret(cred.secret_enc, key_path=key_path), passphrase)
