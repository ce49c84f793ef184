"""The ``target_credentials`` table: one engagement's stored credential, secret encrypted."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shaobing.core.models import Base, JSONType, TenantScoped, utcnow


class TargetCredential(TenantScoped, Base):
    """A named credential an engagement may use on the targets its patterns allow.

    ``secret_enc`` and ``passphrase_enc`` hold vault values (``v1:...``); everything else is
    shown in listings. Rows die with their engagement (``ON DELETE CASCADE``), so the purge
    removes them.
    """

    __tablename__ = "target_credentials"
    __table_args__ = (UniqueConstraint("engagement_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    engagement_id: Mapped[int] = mapped_column(
        ForeignKey("engagements.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(64))
    #: ssh_password | ssh_key | db_password
    kind: Mapped[str] = mapped_column(String(16))
    username: Mapped[str] = mapped_column(String(128))
    #: host names, addresses, CIDR blocks, or "*" (any target in the engagement's scope)
    targets: Mapped[list[str]] = mapped_column(JSONType, default=list)
    secret_enc: Mapped[str] = mapped_column(Text)
    passphrase_enc: Mapped[str | None] = mapped_column(Text)
    #: SHA-256 fingerprint of an SSH key's public half (not secret; helps tell keys apart)
    fingerprint: Mapped[str | None] = mapped_column(String(100))
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column()
