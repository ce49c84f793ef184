"""Tables of platform users, their password history and their server-side sessions (J2)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from shaobing.core.models import Base, utcnow


class Role(StrEnum):
    """The platform roles of J2; what each may do is data (``permissions.yaml``)."""

    ADMIN = "admin"
    ENGINEER = "engineer"
    CLIENT_VIEWER = "client_viewer"
    CLIENT_OWNER = "client_owner"
    AUDITOR = "auditor"


class User(Base):
    """A person who logs in to the platform: staff (no client) or a client's staff (one client).

    ``client_id`` is not the tenant mixin: staff users belong to no client, so it is nullable;
    the rule "client roles have a client, staff roles none" is enforced by the service.
    """

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32))
    client_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("clients.id", ondelete="CASCADE"), index=True
    )
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    password_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=True)
    # Failures inside the current lockout window, as ISO-8601 UTC strings (at most the
    # threshold): a sliding window, so "5 failures in 15 minutes" holds at every instant.
    recent_failures: Mapped[list[Any]] = mapped_column(JSON, default=list)
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column()
    # Locked by an administrator: stays locked until unlocked by one.
    manually_locked: Mapped[bool] = mapped_column(Boolean, default=False)
    last_login_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PasswordHistory(Base):
    """Hashes of a user's recent passwords (the current one included), for the reuse rule."""

    __tablename__ = "password_history"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class UserSession(Base):
    """A server-side login session; only the SHA-256 of its token is stored."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column()
    last_seen_at: Mapped[datetime] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()
    revoked_reason: Mapped[str | None] = mapped_column(String(32))
