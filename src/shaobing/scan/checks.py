"""Network check plugins (A3, B3, B4): what a check is, what it sees, what it reports.

A check is a class with an ``id``, the kind of target it runs on, a safety class and the
services it applies to. The engine decides which checks run (scan policy, safety classes
allowed), schedules them, and hands each one a :class:`CheckContext`, the only way a check
reaches the network: every connection goes through ``ctx.connect`` (or ``ctx.permit`` for
client libraries that open their own sockets), which applies the engagement's scope guard
and the rate limit first. Checks never touch the database; they yield
:class:`Observation` objects and the engine persists them in batches.

Modules in :mod:`shaobing.scan.plugins` are imported by :func:`load_checks`; decorating a
class with :func:`register_check` makes it known.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import socket
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, Protocol, TypeVar

from shaobing.core.errors import ValidationError
from shaobing.core.i18n import t
from shaobing.findings.severity import Severity


class Safety(StrEnum):
    """How much a check may disturb the target; policies allow classes, not single checks.

    passive   reads what the service volunteers (banners, unauthenticated metadata)
    active    sends ordinary requests that change nothing (logins with guessed passwords)
    intrusive may change state on the target (writes a file, creates a key)
    dos       may degrade or stop the service; never in a default policy
    """

    PASSIVE = "passive"
    ACTIVE = "active"
    INTRUSIVE = "intrusive"
    DOS = "dos"

    @property
    def rank(self) -> int:
        """0 for passive up to 3 for dos."""
        return list(Safety).index(self)


class TargetKind(StrEnum):
    """What a check runs on: a host (address) or one service (address, port, protocol)."""

    HOST = "host"
    SERVICE = "service"


@dataclass(frozen=True)
class ServiceTarget:
    """One open port and what identification learned about it.

    ``service`` is the lower-case service name (``ssh``, ``ftp``, ``mysql``, ``http``, ...);
    ``zone`` the network zone of the host (``internet``, ``dmz``, ``intranet``, ...) as the
    policy or the asset ledger says, None when unknown.
    """

    address: str
    port: int
    protocol: str = "tcp"
    service: str | None = None
    product: str | None = None
    version: str | None = None
    tls: bool = False
    banner: str | None = None
    hostnames: tuple[str, ...] = ()
    zone: str | None = None
    flags: tuple[str, ...] = ()
    """Exposure markers identification found (e.g. ``dns_recursion`` on a UDP service)."""

    @property
    def key(self) -> str:
        """``address:port/protocol`` (IPv6 in brackets), for logs and evidence."""
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"{host}:{self.port}/{self.protocol}"


@dataclass
class Observation:
    """Something a check found; becomes a finding through the ingest path.

    ``title``, ``description`` and ``remediation`` are Simplified Chinese from the check's
    data files. ``secret`` carries a recovered credential: it is stored encrypted and
    shown masked everywhere. ``identity`` distinguishes several findings of one check on one
    service (e.g. the account name) and takes part in de-duplication.
    """

    check_id: str
    title: str
    severity: Severity
    address: str
    port: int | None = None
    protocol: str | None = None
    description: str | None = None
    remediation: str | None = None
    evidence: str | None = None
    cvss_v3_vector: str | None = None
    cwe_ids: list[int] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    cve_ids: list[str] = field(default_factory=list)
    identity: str | None = None
    secret: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    url: str | None = None
    """The web page or endpoint the observation is about (web checks)."""


class CheckContext(Protocol):
    """What the engine offers a running check."""

    timeout: float
    """Seconds for one network operation (connect, one read)."""

    options: Mapping[str, Any]
    """The policy's options for this check (``{}`` when none)."""

    def connect(
        self, address: str, port: int, *, timeout: float | None = None, udp: bool = False
    ) -> socket.socket:
        """A connected blocking socket with ``timeout`` set, after the scope guard and rate
        limit passed; raises ScopeRefused when out of scope, OSError when unreachable."""
        ...

    def permit(self, address: str, port: int) -> None:
        """Scope guard and rate limit for a connection that a client library opens itself
        (psycopg, an SSH library); raises ScopeRefused when out of scope."""
        ...

    def should_stop(self) -> bool:
        """True once the scan is paused, cancelled or out of its time window: return soon."""
        ...


class Check(ABC):
    """A network check plugin; subclasses set the class attributes and implement run()."""

    id: ClassVar[str]
    safety: ClassVar[Safety]
    target_kind: ClassVar[TargetKind] = TargetKind.SERVICE
    services: ClassVar[frozenset[str]] = frozenset()
    """Service names this check applies to; empty means every service."""
    default_ports: ClassVar[frozenset[int]] = frozenset()
    """Ports tried when identification did not name the service."""

    def applies(self, target: ServiceTarget) -> bool:
        """Whether to run on ``target`` (by service name, else by default port)."""
        if not self.services:
            return True
        if target.service is not None:
            return target.service in self.services
        return target.port in self.default_ports

    @abstractmethod
    def run(self, target: ServiceTarget, ctx: CheckContext) -> Iterator[Observation]:
        """Examine ``target`` and yield what was found (nothing when all is well)."""


_C = TypeVar("_C", bound=type[Check])
_REGISTRY: dict[str, type[Check]] = {}


def register_check(cls: _C) -> _C:
    """Class decorator: make a check known to the engine (ids must be unique)."""
    known = _REGISTRY.get(cls.id)
    if known is not None and known is not cls:
        raise ValueError(f"duplicate check id {cls.id}: {known.__qualname__}, {cls.__qualname__}")
    _REGISTRY[cls.id] = cls
    return cls


def load_checks() -> dict[str, type[Check]]:
    """Import every module of :mod:`shaobing.scan.plugins` (and the site's own plugin
    modules named in ``SHAOBING_PLUGINS``, comma-separated) and return the checks by id."""
    package = importlib.import_module("shaobing.scan.plugins")
    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{module.name}")
    for name in os.environ.get("SHAOBING_PLUGINS", "").split(","):
        if name.strip():
            try:
                importlib.import_module(name.strip())
            except ImportError as exc:
                detail = str(exc)
                raise ValidationError(
                    t("scan.plugin_import", module=name.strip(), detail=detail)
                ) from None
    return dict(sorted(_REGISTRY.items()))
