"""Using a stored credential for a baseline check: match, audit, decrypt, hand over.

The target (``ssh://[user@]host[:port]`` or a DSN without a password) must match the
credential's kind, user and target patterns; a refusal is one line naming both and is
audited. A use is audited and stamped (``last_used_at``) before any connection. An SSH key
is handed to the SSH client through an anonymous in-memory file (``memfd``), so the
decrypted key never lands on disk; it is closed as soon as the check ends.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from shaobing.baseline.collectors.database import is_dsn
from shaobing.baseline.service import Access
from shaobing.core.audit import record_event
from shaobing.core.db import session_scope
from shaobing.core.errors import ValidationError
from shaobing.core.i18n import t
from shaobing.credentials.models import TargetCredential
from shaobing.credentials.patterns import matches
from shaobing.credentials.service import DB_PASSWORD, SSH_KEY, SSH_PASSWORD, Secret, reveal

T = TypeVar("T")


@dataclass(frozen=True)
class CredentialRef:
    """What a use needs of a stored credential, detached from any session."""

    id: int
    client_id: int
    engagement_id: int
    name: str
    kind: str
    username: str
    targets: tuple[str, ...]
    secret_enc: str = dataclasses.field(repr=False)
    passphrase_enc: str | None = dataclasses.field(repr=False)

    @classmethod
    def of(cls, cred: TargetCredential) -> CredentialRef:
        """Copy the fields of a loaded row."""
        return cls(
            cred.id,
            cred.client_id,
            cred.engagement_id,
            cred.name,
            cred.kind,
            cred.username,
            tuple(cred.targets or []),
            cred.secret_enc,
            cred.passphrase_enc,
        )


@dataclass(frozen=True)
class Planned:
    """The target to hand to the check, with the credential's user filled in."""

    target: str  # still without the secret
    label: str  # what audit entries and messages show
    host: str


def safe_label(text: str) -> str:
    """A target as shown anywhere: a password inside the URL is dropped."""
    parts = urlsplit(text)
    if parts.password is None:
        return text
    host = parts.netloc.rsplit("@", 1)[-1]
    user = f"{parts.username}@" if parts.username else ""
    return urlunsplit((parts.scheme, f"{user}{host}", parts.path, parts.query, ""))


def _with_user(text: str, user: str, password: str | None = None) -> str:
    parts = urlsplit(text)
    host = parts.netloc.rsplit("@", 1)[-1]
    login = quote(user, safe="")
    if password is not None:
        login = f"{login}:{quote(password, safe='')}"
    netloc = f"{login}@{host}" if login else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def plan_use(cred: CredentialRef, target: str) -> Planned:
    """Check that ``cred`` may be used on ``target``; raises ValidationError (one line)."""
    text = target.strip()
    label = safe_label(text)
    ssh = text.startswith("ssh://")
    if not ssh and not is_dsn(text):
        raise ValidationError(t("credentials.use.bad_target", name=cred.name, target=label))
    if ssh != (cred.kind in (SSH_PASSWORD, SSH_KEY)):
        kind = t(f"credentials.kind.{cred.kind}")
        raise ValidationError(
            t("credentials.use.wrong_kind", name=cred.name, kind=kind, target=label)
        )
    try:
        parts = urlsplit(text)
        host = parts.hostname
        _ = parts.port
    except ValueError:
        host = None
    if not host:
        raise ValidationError(t("credentials.use.bad_target", name=cred.name, target=label))
    if parts.password is not None:
        raise ValidationError(t("credentials.use.password_in_target", target=label))
    user = unquote(parts.username) if parts.username else None
    if user is not None and user != cred.username:
        raise ValidationError(
            t("credentials.use.wrong_user", name=cred.name, user=cred.username, target=label)
        )
    if not matches(list(cred.targets), host):
        raise ValidationError(
            t(
                "credentials.use.refused",
                name=cred.name,
                target=label,
                patterns="、".join(cred.targets),
            )
        )
    filled = _with_user(text, cred.username) if user is None and cred.username else text
    return Planned(filled, safe_label(filled), host)


def _record_use(
    session: Session,
    cred: CredentialRef,
    target: str,
    operation: str,
    actor: str,
    *,
    outcome: str = "success",
    reason: str | None = None,
) -> None:
    detail = {"name": cred.name, "kind": cred.kind, "target": target, "operation": operation}
    if reason is not None:
        detail["reason"] = reason
    record_event(
        session,
        "credential.use",
        actor=actor,
        outcome=outcome,
        client_id=cred.client_id,
        engagement_id=cred.engagement_id,
        target=cred.name,
        detail=detail,
    )


def authorise_use(
    engine: Engine | None,
    cred: CredentialRef,
    target: str,
    *,
    actor: str,
    operation: str = "baseline.check",
    key_path: Path | None = None,
) -> tuple[Planned, Secret]:
    """Plan the use, decrypt the secret and audit (refusals too) in transactions of their own.

    Call it without holding a write transaction: on SQLite the audit entry would wait on it.
    """
    try:
        planned = plan_use(cred, target)
        secret = reveal_ref(cred, key_path=key_path)
    except ValidationError as exc:
        with session_scope(engine) as session:
            label = safe_label(target)
            _record_use(
                session, cred, label, operation, actor, outcome="refused", reason=exc.message
            )
        raise
    with session_scope(engine) as session:
        row = session.get(TargetCredential, cred.id)
        if row is not None:
            row.last_used_at = datetime.now(UTC)
        _record_use(session, cred, planned.label, operation, actor)
    return planned, secret


def reveal_ref(cred: CredentialRef, *, key_path: Path | None = None) -> Secret:
    """Decrypt a detached credential's secret."""
    row = TargetCredential(secret_enc=cred.secret_enc, passphrase_enc=cred.passphrase_enc)
    return reveal(row, key_path=key_path)


@contextmanager
def _key_file(pem: str, passphrase: str | None) -> Iterator[str]:
    """A path the SSH client can read the (decrypted) private key from, gone afterwards."""
    import asyncssh  # noqa: PLC0415 - only SSH keys need it

    data = asyncssh.import_private_key(pem, passphrase or None).export_private_key("openssh")
    memfd = getattr(os, "memfd_create", None)
    if memfd is not None:
        fd = memfd("shaobing-credential", 0)
        try:
            os.write(fd, data)
            yield f"/proc/self/fd/{fd}"
        finally:
            os.close(fd)
        return
    folder = tempfile.mkdtemp(prefix="shaobing-key-")  # mode 0700
    try:
        path = Path(folder) / "key"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        yield str(path)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def baseline_access(
    kind: str, secret: Secret, planned: Planned, base: Access
) -> Iterator[tuple[str, Access]]:
    """The target text and the :class:`Access` a baseline check runs with."""
    if kind == DB_PASSWORD:
        parts = urlsplit(planned.target)
        user = unquote(parts.username) if parts.username else ""
        yield _with_user(planned.target, user, secret.value), base
        return
    if kind == SSH_PASSWORD:
        yield planned.target, dataclasses.replace(base, password=secret.value, key_files=[])
        return
    with _key_file(secret.value, secret.passphrase) as path:
        yield planned.target, dataclasses.replace(base, password=None, key_files=[path])


def run_with_credential(
    engine: Engine | None,
    cred: CredentialRef,
    target: str,
    access: Access,
    run: Callable[[str, Access], T],
    *,
    actor: str,
    key_path: Path | None = None,
) -> T:
    """Authorise and audit the use, then call ``run(target, access)`` with the secret in place."""
    planned, secret = authorise_use(engine, cred, target, actor=actor, key_path=key_path)
    with baseline_access(cred.kind, secret, planned, access) as (text, chosen):
        return run(text, chosen)
