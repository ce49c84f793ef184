"""Failed logins for user names that do not exist, answered like those for real accounts.

The auth layer counts failures per account and warns "再失败 N 次将被锁定"; without this, a
name that gets no warning would reveal that it does not exist. Here unknown names get the
same countdown, the same lock message and the same lock duration, kept in memory (the
policy's window and limits; bounded in size).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from shaobing.auth.policy import AuthContext
from shaobing.core.i18n import t
from shaobing.core.settings import get_settings

# Organisation-defined bound on the names remembered (oldest forgotten first).
MAX_NAMES = 50_000


@dataclass(frozen=True)
class PhantomAnswer:
    """What to tell the caller: the auth layer's reason, message and figures."""

    reason: str
    message: str
    remaining_attempts: int | None
    locked_until: datetime | None


@dataclass
class PhantomFailures:
    """Failure windows and locks of names that are not accounts."""

    _failures: dict[str, list[datetime]] = field(default_factory=dict)
    _locked: dict[str, datetime] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    local: Callable[[datetime], str] = field(
        default=lambda moment: moment.astimezone(get_settings().tz).strftime("%Y-%m-%d %H:%M")
    )

    def fail(self, username: str, auth: AuthContext) -> PhantomAnswer:
        """Count one failure for ``username`` and word the answer as for a real account."""
        name = username.strip().lower()[:64]
        now = auth.now()
        rules = auth.config.lockout
        with self._lock:
            until = self._locked.get(name)
            if until is not None and now < until:
                return PhantomAnswer(
                    "locked", t("auth.login.locked", until=self.local(until)), None, until
                )
            self._locked.pop(name, None)
            start = now - timedelta(minutes=rules.window_minutes)
            recent = [when for when in self._failures.get(name, []) if when > start] + [now]
            self._failures[name] = recent[-rules.max_failures :]
            self._trim()
            remaining = rules.max_failures - len(recent)
            if remaining > 0:
                message = t(
                    "auth.login.failed_remaining", remaining=remaining, minutes=rules.lock_minutes
                )
                return PhantomAnswer("bad_credentials", message, remaining, None)
            until = now + timedelta(minutes=rules.lock_minutes)
            self._locked[name] = until
            self._failures.pop(name, None)
            message = t("auth.login.locked_now", count=len(recent), minutes=rules.lock_minutes)
            return PhantomAnswer("locked_now", message, 0, until)

    def _trim(self) -> None:
        while len(self._failures) > MAX_NAMES:
            self._failures.pop(next(iter(self._failures)))
        while len(self._locked) > MAX_NAMES:
            self._locked.pop(next(iter(self._locked)))
