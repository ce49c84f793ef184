"""Correlation ids and the interactions recorded for them.

A template request gets fresh random ids (``new_id``); the callback server records an
interaction under every registered id that appears in what it received (DNS name, HTTP
request, LDAP DN, any TCP bytes). The registry is bounded in ids, interactions and bytes,
forgets ids after a time to live, and lets a scan thread wait until something arrives.
"""

from __future__ import annotations

import re
import secrets
import string
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

# Like interactsh's correlation ids: lower-case letters and digits only, so they survive
# DNS case folding and URL encoding and are valid DNS labels. 24 characters give 124 bits
# of randomness: a guessed or stale id from another request never matches by chance.
ID_LENGTH = 24
_ALPHABET = string.ascii_lowercase + string.digits
_CANDIDATE = re.compile(rb"[a-z0-9]{%d,}" % ID_LENGTH)

# Organisation-defined bounds: how long an id waits for callbacks after its request
# (long multi-request templates keep run-wide ids), how many ids and interactions are
# kept in memory, and how much of each request is kept as evidence.
ID_TTL = 1800.0
MAX_IDS = 100_000
MAX_PER_ID = 32
MAX_INTERACTIONS = 5_000
MAX_EVIDENCE = 8192
# Organisation-defined: after the first callback arrives, wait this long for the ones
# that usually follow it (the DNS query comes first, the HTTP or LDAP connection next).
GRACE = 1.0


def new_id() -> str:
    """A fresh random correlation id (``ID_LENGTH`` lower-case letters and digits)."""
    # A letter first, so a host name made of the id never reads as a number.
    first = secrets.choice(string.ascii_lowercase)
    return first + "".join(secrets.choice(_ALPHABET) for _ in range(ID_LENGTH - 1))


@dataclass(frozen=True)
class Interaction:
    """One callback: which protocol, from where, what was received and answered, when."""

    protocol: str
    correlation_id: str
    remote_address: str
    remote_port: int
    request: str
    response: str = ""
    timestamp: datetime = field(default_factory=lambda: datetime.now(UTC))
    local_port: int = 0

    def summary(self) -> str:
        """One line for logs and evidence: time, protocol, peer."""
        when = self.timestamp.isoformat(timespec="seconds")
        return f"{when} {self.protocol} {self.remote_address}:{self.remote_port}"


def clip(text: str, limit: int = MAX_EVIDENCE) -> str:
    """``text`` cut to ``limit`` characters (marked with "...")."""
    return text if len(text) <= limit else text[:limit] + "..."


Observer = Callable[[Interaction], None]


class Registry:
    """Registered ids and their interactions; every method is thread-safe."""

    def __init__(
        self,
        *,
        ttl: float = ID_TTL,
        max_ids: int = MAX_IDS,
        max_per_id: int = MAX_PER_ID,
        max_interactions: int = MAX_INTERACTIONS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl
        self._max_ids = max_ids
        self._max_per_id = max_per_id
        self._max_interactions = max_interactions
        self._clock = clock
        self._cond = threading.Condition()
        # id -> expiry time, oldest registration first (eviction order).
        self._ids: OrderedDict[str, float] = OrderedDict()
        self._found: dict[str, list[Interaction]] = {}
        self._count = 0
        self.observers: list[Observer] = []
        """Called for every interaction received, correlated or not (the check mode)."""

    # ------------------------------------------------------------------ ids

    def register(self, correlation_id: str | None = None) -> str:
        """Register ``correlation_id`` (a fresh one by default) and return it."""
        cid = correlation_id or new_id()
        with self._cond:
            self._expire()
            self._ids[cid] = self._clock() + self._ttl
            self._ids.move_to_end(cid)
            while len(self._ids) > self._max_ids:
                old, _ = self._ids.popitem(last=False)
                self._drop(old)
        return cid

    def registered(self, correlation_id: str) -> bool:
        """Whether ``correlation_id`` is registered and not expired."""
        with self._cond:
            expiry = self._ids.get(correlation_id)
            return expiry is not None and expiry > self._clock()

    def find_ids(self, data: bytes | str) -> list[str]:
        """Registered ids that occur in ``data`` (case-insensitive), in order of first
        occurrence."""
        raw = data.encode("utf-8", "replace") if isinstance(data, str) else data
        lowered = raw.lower()
        found: dict[str, None] = {}
        with self._cond:
            if not self._ids:
                return []
            now = self._clock()
            for run in _CANDIDATE.finditer(lowered):
                text = run.group().decode("ascii")
                # An id can sit inside a longer run of letters and digits ("x<id>y").
                for start in range(len(text) - ID_LENGTH + 1):
                    candidate = text[start : start + ID_LENGTH]
                    expiry = self._ids.get(candidate)
                    if expiry is not None and expiry > now:
                        found[candidate] = None
        return list(found)

    # --------------------------------------------------------------- record

    def record(self, data: bytes | str, make: Callable[[str], Interaction]) -> list[Interaction]:
        """Record ``make(id)`` for each registered id found in ``data``; observers see
        the interaction even when no id matched (with an empty id)."""
        ids = self.find_ids(data)
        made = [make(cid) for cid in ids] if ids else [make("")]
        with self._cond:
            for item in made:
                if not item.correlation_id:
                    continue
                bucket = self._found.setdefault(item.correlation_id, [])
                if len(bucket) >= self._max_per_id:
                    continue
                if self._count >= self._max_interactions:
                    self._evict_interactions()
                bucket.append(item)
                self._count += 1
            self._cond.notify_all()
        for observer in list(self.observers):
            for item in made:
                observer(item)
        return [item for item in made if item.correlation_id]

    def interactions(self, ids: Iterable[str]) -> list[Interaction]:
        """What has been recorded for ``ids`` so far, oldest first."""
        with self._cond:
            return self._collect(ids)

    def wait(
        self, ids: Iterable[str], timeout: float, grace: float | None = None
    ) -> list[Interaction]:
        """Wait up to ``timeout`` seconds for an interaction on any of ``ids``; once one
        is there, wait ``grace`` seconds more for the ones that follow it. Returns all
        interactions of ``ids``, oldest first."""
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return []
        extra = min(GRACE, timeout) if grace is None else grace
        deadline = time.monotonic() + max(0.0, timeout)
        with self._cond:
            while not self._collect(wanted):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return []
                self._cond.wait(remaining)
            settle = time.monotonic() + max(0.0, extra)
            while (remaining := settle - time.monotonic()) > 0:
                self._cond.wait(remaining)
            return self._collect(wanted)

    def release(self, ids: Iterable[str]) -> None:
        """Forget ``ids`` and what was recorded for them."""
        with self._cond:
            for cid in ids:
                self._ids.pop(cid, None)
                self._drop(cid)

    def __len__(self) -> int:
        with self._cond:
            return len(self._ids)

    # -------------------------------------------------------------- private

    def _collect(self, ids: Iterable[str]) -> list[Interaction]:
        out = [item for cid in ids for item in self._found.get(cid, ())]
        out.sort(key=lambda item: item.timestamp)
        return out

    def _drop(self, cid: str) -> None:
        self._count -= len(self._found.pop(cid, ()))

    def _expire(self) -> None:
        now = self._clock()
        while self._ids:
            cid, expiry = next(iter(self._ids.items()))
            if expiry > now:
                break
            self._ids.popitem(last=False)
            self._drop(cid)

    def _evict_interactions(self) -> None:
        # Drop the interactions of the oldest ids first: their requests are long done.
        for cid in list(self._ids):
            if self._count < self._max_interactions:
                return
            self._drop(cid)
        for cid in list(self._found):
            if self._count < self._max_interactions:
                return
            self._drop(cid)
