"""Runs a dictionary of username/password pairs against one service (B3).

``parallelism`` worker threads each own one :class:`LoginSession` and take pairs from a
shared scheduler. The scheduler is lockout-aware:

* at most ``max_attempts_per_account`` attempts start per account within any
  ``window_seconds`` (a sliding window); other accounts proceed meanwhile;
* an account that answers LOCKED is left alone for ``lockout_backoff`` seconds (doubling
  each time) and abandoned after ``max_lockouts`` such answers;
* an account is dropped at its first success (``stop_account_on_success``);
* everything stops on NO_AUTH (the service wants no credentials at all), on a scope refusal,
  when ``ctx.should_stop()`` turns true, after ``max_consecutive_errors`` errors in a row, or
  when the ``deadline`` passes.

The default limits are this project's own organisation policy, not a standard: 10 attempts
per account per minute keeps a default scan from hammering one account, and scan policies
tighten them where the client's lockout policy is known (e.g. 4 per 900 s against a
"5 failures in 15 minutes" rule) or lift them for benchmarks. Password-only services (SNMP
communities, Redis AUTH) have no accounts to lock, so the per-account window does not apply
to them.

Workers prefer the account they used last: an SSH connection is bound to one user name, so
staying on it lets the session try several passwords per connection.

Passwords never appear in logs or reprs; found pairs are returned for the engine, which
stores the secret encrypted and masks it everywhere.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from shaobing.core.errors import ValidationError
from shaobing.core.i18n import t
from shaobing.core.scope import ScopeRefused
from shaobing.scan.checks import CheckContext, ServiceTarget
from shaobing.scan.credentials.base import Attempt, Authenticator, LoginSession, Outcome

log = logging.getLogger(__name__)

DEFAULT_PARALLELISM = 4
DEFAULT_MAX_ATTEMPTS_PER_ACCOUNT = 10
DEFAULT_WINDOW_SECONDS = 60.0
DEFAULT_LOCKOUT_BACKOFF = 30.0
DEFAULT_MAX_LOCKOUTS = 3
DEFAULT_MAX_RETRIES = 2
DEFAULT_MAX_CONSECUTIVE_ERRORS = 8
MAX_PARALLELISM = 256
# A worker that failed to connect this many times in a row leaves the run.
_MAX_OPEN_FAILURES = 3
# Longest single wait inside the scheduler, so should_stop() is polled often enough.
_POLL = 0.1
# A session idle this long (every account throttled) is closed rather than left to time out.
_IDLE_CLOSE = 2.0


class LoginUnavailable(OSError):
    """Raised by an adapter's ``open`` or ``login`` when the service does not offer the
    login it tries at all (no password method, no Basic challenge, no manager path).

    The runner stops at once instead of retrying; the message goes into the report.
    """


class StopReason(StrEnum):
    """Why a run ended."""

    FINISHED = "finished"
    """Every pair was answered (or its account was settled)."""
    NO_AUTH = "no_auth"
    STOPPED = "stopped"
    """``ctx.should_stop()`` turned true."""
    DEADLINE = "deadline"
    SCOPE = "scope"
    ERRORS = "errors"
    """Too many errors in a row: the service is not answering usefully."""
    UNREACHABLE = "unreachable"
    """No worker could (re)connect."""
    UNAVAILABLE = "unavailable"
    """The adapter raised LoginUnavailable."""


@dataclass(frozen=True)
class FoundCredential:
    """A valid pair; the password is left out of repr() so it cannot leak into logs."""

    username: str | None
    password: str = field(repr=False)
    detail: str = ""


@dataclass
class CredentialReport:
    """What a run found and what it cost."""

    protocol: str
    target: str
    found: list[FoundCredential] = field(default_factory=list)
    stop_reason: StopReason = StopReason.FINISHED
    detail: str = ""
    """The NO_AUTH, LoginUnavailable or last error detail."""
    attempts: int = 0
    """``login()`` calls, whatever their outcome."""
    failures: int = 0
    errors: int = 0
    """ERROR outcomes plus failed connection attempts."""
    lockouts: int = 0
    """LOCKED outcomes."""
    connections: int = 0
    """Sessions opened."""
    untried: int = 0
    """Pairs never answered (run stopped, retries exhausted, account abandoned)."""
    skipped: int = 0
    """Pairs not tried because their account was already found."""
    locked_accounts: list[str] = field(default_factory=list)
    pairs: int = 0
    elapsed: float = 0.0

    @property
    def no_auth(self) -> bool:
        """Whether the service granted access without credentials."""
        return self.stop_reason is StopReason.NO_AUTH

    @property
    def attempts_per_second(self) -> float:
        """Login attempts per second of wall time."""
        return self.attempts / self.elapsed if self.elapsed > 0 else 0.0


@dataclass
class _Job:
    account: str | None
    password: str
    retries: int = 0


@dataclass
class _Account:
    pending: deque[_Job] = field(default_factory=deque)
    started: deque[float] = field(default_factory=deque)
    backoff_until: float = 0.0
    lockouts: int = 0
    settled: bool = False
    workers: int = 0


_IDLE = object()


class _Scheduler:
    """Hands out pairs under the throttle and records every outcome (one lock for all)."""

    def __init__(
        self,
        pairs: Iterable[tuple[str | None, str]],
        ctx: CheckContext,
        report: CredentialReport,
        *,
        max_attempts: int | None,
        window: float,
        backoff: float,
        max_lockouts: int,
        max_retries: int,
        max_errors: int,
        stop_account_on_success: bool,
        deadline: float | None,
    ) -> None:
        self._cond = threading.Condition()
        self._ctx = ctx
        self._report = report
        self._max_attempts = max_attempts
        self._window = window
        self._backoff = backoff
        self._max_lockouts = max_lockouts
        self._max_retries = max_retries
        self._max_errors = max_errors
        self._stop_on_success = stop_account_on_success
        self._deadline = deadline
        self._accounts: dict[str | None, _Account] = {}
        for username, password in dict.fromkeys(pairs):
            self._accounts.setdefault(username, _Account()).pending.append(_Job(username, password))
        report.pairs = sum(len(a.pending) for a in self._accounts.values())
        self._order = list(self._accounts)
        self._rotate = 0
        self._in_flight = 0
        self._consecutive_errors = 0
        self._unanswered = 0
        self._worker_account: dict[int, str | None] = {}
        self.failure: BaseException | None = None
        self.stopped = False

    # -- taking work -----------------------------------------------------------------

    def _usable(self, account: _Account, now: float, name: str | None) -> bool:
        if account.settled or not account.pending or account.backoff_until > now:
            return False
        if self._max_attempts is None or name is None:
            return True
        while account.started and account.started[0] <= now - self._window:
            account.started.popleft()
        return len(account.started) < self._max_attempts

    def _available_at(self, account: _Account, name: str | None, now: float) -> float:
        at = account.backoff_until
        limited = self._max_attempts is not None and name is not None
        if limited and len(account.started) >= (self._max_attempts or 0) and account.started:
            at = max(at, account.started[0] + self._window)
        return max(at, now)

    def _pick(self, worker: int, now: float) -> tuple[bool, str | None]:
        """(True, account) this worker should use next, or (False, None) when none is usable."""
        if worker in self._worker_account:
            last = self._worker_account[worker]
            if self._usable(self._accounts[last], now, last):
                return True, last
        best: tuple[bool, str | None] = (False, None)
        best_load = 0
        count = len(self._order)
        for offset in range(count):
            index = (self._rotate + offset) % count
            name = self._order[index]
            account = self._accounts[name]
            if not self._usable(account, now, name):
                continue
            if not best[0] or account.workers < best_load:
                best, best_load = (True, name), account.workers
                self._rotate = (index + 1) % count
        return best

    def _halt(self, reason: StopReason, detail: str = "") -> None:
        if not self.stopped:
            self.stopped = True
            self._report.stop_reason = reason
            if detail:
                self._report.detail = detail
        self._cond.notify_all()

    def _external_stop(self) -> StopReason | None:
        if self._ctx.should_stop():
            return StopReason.STOPPED
        if self._deadline is not None and time.monotonic() >= self._deadline:
            return StopReason.DEADLINE
        return None

    def take(self, worker: int) -> _Job | object | None:
        """The next job, ``_IDLE`` after a long wait (close the session), or None: done."""
        idle_since = time.monotonic()
        while True:
            external = self._external_stop()
            with self._cond:
                if external is not None:
                    self._halt(external)
                if self.stopped:
                    return None
                now = time.monotonic()
                found, name = self._pick(worker, now)
                if found:
                    return self._start(worker, name, now)
                live = [(n, a) for n, a in self._accounts.items() if not a.settled and a.pending]
                if not live:
                    if self._in_flight == 0:
                        self._cond.notify_all()
                        return None
                    pause = _POLL
                else:
                    soonest = min(self._available_at(a, n, now) for n, a in live)
                    pause = min(max(soonest - now, 0.001), _POLL)
                self._cond.wait(pause)
                if time.monotonic() - idle_since >= _IDLE_CLOSE:
                    return _IDLE

    def _start(self, worker: int, name: str | None, now: float) -> _Job:
        account = self._accounts[name]
        job = account.pending.popleft()
        if self._max_attempts is not None and name is not None:
            account.started.append(now)
        if worker not in self._worker_account or self._worker_account[worker] != name:
            if worker in self._worker_account:
                self._accounts[self._worker_account[worker]].workers -= 1
            account.workers += 1
            self._worker_account[worker] = name
        self._in_flight += 1
        return job

    # -- recording outcomes ----------------------------------------------------------

    def record(self, job: _Job, attempt: Attempt) -> None:
        """Account for one login() result."""
        with self._cond:
            self._in_flight -= 1
            report = self._report
            report.attempts += 1
            account = self._accounts[job.account]
            outcome = attempt.outcome
            if outcome is not Outcome.ERROR:
                self._consecutive_errors = 0
            if outcome is Outcome.SUCCESS:
                report.found.append(FoundCredential(job.account, job.password, attempt.detail))
                log.info("valid credentials for account %r on %s", job.account, report.target)
                if self._stop_on_success:
                    report.skipped += len(account.pending)
                    self._settle(account)
            elif outcome is Outcome.FAILURE:
                report.failures += 1
            elif outcome is Outcome.NO_AUTH:
                self._halt(StopReason.NO_AUTH, attempt.detail)
            elif outcome is Outcome.LOCKED:
                self._locked(job, account)
            else:
                self._error(job, attempt.detail)
            self._cond.notify_all()

    def _locked(self, job: _Job, account: _Account) -> None:
        self._report.lockouts += 1
        if account.settled:
            self._unanswered += 1
            return
        account.pending.appendleft(job)
        if account.backoff_until > time.monotonic():
            # Attempts in flight when the lock began: one lockout, not several.
            return
        account.lockouts += 1
        if account.lockouts > self._max_lockouts:
            log.info("account %r abandoned after repeated lockouts", job.account)
            self._report.locked_accounts.append(str(job.account))
            self._unanswered += len(account.pending)
            self._settle(account)
        else:
            delay = self._backoff * 2 ** (account.lockouts - 1)
            account.backoff_until = time.monotonic() + delay

    @staticmethod
    def _settle(account: _Account) -> None:
        account.pending.clear()
        account.settled = True

    def _error(self, job: _Job, detail: str) -> None:
        report = self._report
        report.errors += 1
        report.detail = detail or report.detail
        self._consecutive_errors += 1
        job.retries += 1
        account = self._accounts[job.account]
        if job.retries <= self._max_retries and not account.settled:
            account.pending.appendleft(job)
        else:
            self._unanswered += 1
        if self._consecutive_errors >= self._max_errors:
            self._halt(StopReason.ERRORS, detail)

    def give_back(self, job: _Job, detail: str) -> None:
        """A job that never reached login() (the connection failed): requeue it as is.

        Failed connections do not count as consecutive errors: each worker gives up on its
        own after a few, and a run whose workers all gave up ends as UNREACHABLE.
        """
        with self._cond:
            self._in_flight -= 1
            self._report.errors += 1
            self._report.detail = detail or self._report.detail
            account = self._accounts[job.account]
            if not account.settled:
                account.pending.appendleft(job)
            self._cond.notify_all()

    def abort(self, reason: StopReason, detail: str, job: _Job | None = None) -> None:
        """Stop everything (scope refusal, login unavailable, adapter bug)."""
        with self._cond:
            if job is not None:
                self._in_flight -= 1
                self._accounts[job.account].pending.appendleft(job)
            self._halt(reason, detail)

    def opened(self) -> None:
        """Count a session opened."""
        with self._cond:
            self._report.connections += 1

    def remaining(self) -> int:
        """Pairs still pending."""
        with self._cond:
            return sum(len(a.pending) for a in self._accounts.values())

    def unanswered(self) -> int:
        """Pairs given up without an answer (retries exhausted, account abandoned)."""
        with self._cond:
            return self._unanswered


class _Worker:
    """One thread, one session at a time; never lets an exception escape unrecorded."""

    def __init__(
        self,
        index: int,
        authenticator: Authenticator,
        target: ServiceTarget,
        ctx: CheckContext,
        scheduler: _Scheduler,
    ) -> None:
        self.index = index
        self._auth = authenticator
        self._target = target
        self._ctx = ctx
        self._sched = scheduler
        self._session: LoginSession | None = None

    def _close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    def run(self) -> None:
        """Take jobs until the scheduler says done."""
        try:
            self._loop()
        except BaseException as exc:  # noqa: BLE001 - re-raised by run_credentials
            self._sched.failure = exc
            self._sched.abort(StopReason.ERRORS, type(exc).__name__)
        finally:
            self._close()

    def _loop(self) -> None:
        open_failures = 0
        while True:
            job = self._sched.take(self.index)
            if job is None:
                return
            if not isinstance(job, _Job):
                self._close()
                continue
            if self._session is None:
                try:
                    self._session = self._auth.open(self._ctx, self._target)
                except ScopeRefused as exc:
                    self._sched.abort(StopReason.SCOPE, exc.message, job)
                    return
                except LoginUnavailable as exc:
                    self._sched.abort(StopReason.UNAVAILABLE, str(exc), job)
                    return
                except OSError as exc:
                    open_failures += 1
                    log.debug("connection to %s failed: %s", self._target.key, exc)
                    self._sched.give_back(job, f"{type(exc).__name__}: {exc}")
                    if open_failures >= _MAX_OPEN_FAILURES:
                        return
                    time.sleep(min(0.05 * 2**open_failures, 1.0))
                    continue
                open_failures = 0
                self._sched.opened()
            try:
                attempt = self._session.login(job.account, job.password)
            except ScopeRefused as exc:
                self._sched.abort(StopReason.SCOPE, exc.message, job)
                return
            except LoginUnavailable as exc:
                self._sched.abort(StopReason.UNAVAILABLE, str(exc), job)
                return
            log.debug(
                "%s account %r: %s (%s)",
                self._target.key,
                job.account,
                attempt.outcome.value,
                attempt.detail,
            )
            self._sched.record(job, attempt)
            if not attempt.reusable or attempt.outcome is Outcome.ERROR:
                self._close()


def _positive(name: str, value: float | None, *, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if value is None or isinstance(value, bool) or not value > 0:
        raise ValidationError(t("scan_cred.option_invalid", name=name, value=value, detail="> 0"))


def run_credentials(
    authenticator: Authenticator,
    target: ServiceTarget,
    ctx: CheckContext,
    pairs: Iterable[tuple[str | None, str]],
    *,
    parallelism: int = DEFAULT_PARALLELISM,
    max_attempts_per_account: int | None = DEFAULT_MAX_ATTEMPTS_PER_ACCOUNT,
    window_seconds: float = DEFAULT_WINDOW_SECONDS,
    lockout_backoff: float = DEFAULT_LOCKOUT_BACKOFF,
    max_lockouts: int = DEFAULT_MAX_LOCKOUTS,
    max_retries: int = DEFAULT_MAX_RETRIES,
    max_consecutive_errors: int = DEFAULT_MAX_CONSECUTIVE_ERRORS,
    stop_account_on_success: bool = True,
    max_duration: float | None = None,
) -> CredentialReport:
    """Try ``pairs`` against ``target`` and report the valid ones (see the module doc).

    ``max_attempts_per_account=None`` lifts the throttle (benchmarks, lab targets).
    Raises ValidationError for a bad limit; an exception raised inside an adapter is
    re-raised here after every worker has stopped.
    """
    if isinstance(parallelism, bool) or not isinstance(parallelism, int):
        raise ValidationError(
            t("scan_cred.option_invalid", name="parallelism", value=parallelism, detail="1-256")
        )
    if not 1 <= parallelism <= MAX_PARALLELISM:
        raise ValidationError(
            t("scan_cred.option_invalid", name="parallelism", value=parallelism, detail="1-256")
        )
    _positive("max_attempts_per_account", max_attempts_per_account, allow_none=True)
    _positive("window_seconds", window_seconds)
    _positive("lockout_backoff", lockout_backoff)
    _positive("max_consecutive_errors", max_consecutive_errors)
    _positive("max_duration", max_duration, allow_none=True)
    for name, value in (("max_lockouts", max_lockouts), ("max_retries", max_retries)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValidationError(
                t("scan_cred.option_invalid", name=name, value=value, detail=">= 0")
            )
    report = CredentialReport(authenticator.protocol, target.key)
    started = time.monotonic()
    scheduler = _Scheduler(
        pairs,
        ctx,
        report,
        max_attempts=max_attempts_per_account,
        window=window_seconds,
        backoff=lockout_backoff,
        max_lockouts=max_lockouts,
        max_retries=max_retries,
        max_errors=max_consecutive_errors,
        stop_account_on_success=stop_account_on_success,
        deadline=None if max_duration is None else started + max_duration,
    )
    workers = [
        _Worker(i, authenticator, target, ctx, scheduler)
        for i in range(min(parallelism, max(report.pairs, 1)))
    ]
    threads = [
        threading.Thread(target=w.run, name=f"cred-{target.key}-{w.index}", daemon=True)
        for w in workers
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    report.elapsed = time.monotonic() - started
    remaining = scheduler.remaining()
    report.untried = remaining + scheduler.unanswered()
    if not scheduler.stopped and remaining:
        # Every worker gave up connecting while pairs remained.
        report.stop_reason = StopReason.UNREACHABLE
    if scheduler.failure is not None:
        raise scheduler.failure
    log.info(
        "%s %s: %d attempts, %d errors, %d found, %.1f/s, %s",
        report.protocol,
        report.target,
        report.attempts,
        report.errors,
        len(report.found),
        report.attempts_per_second,
        report.stop_reason.value,
    )
    return report
