"""The credential runner with a scripted in-memory adapter (no network at all)."""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from shaobing.core.errors import ValidationError
from shaobing.scan.checks import CheckContext, ServiceTarget
from shaobing.scan.credentials.base import Attempt, Authenticator, LoginSession, Outcome
from shaobing.scan.credentials.runner import (
    CredentialReport,
    LoginUnavailable,
    StopReason,
    run_credentials,
)
from tests.scan.credentials.context import RecordingContext

TARGET = ServiceTarget("127.0.0.1", 2222, service="fake")

Script = Callable[[str | None, str, int], Attempt]
"""(username, password, attempt number for this pair) -> the answer."""


@dataclass
class Log:
    """What the fake service saw."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    calls: list[tuple[str | None, str, float, int]] = field(default_factory=list)
    opens: int = 0
    active: int = 0
    peak: int = 0
    per_pair: dict[tuple[str | None, str], int] = field(default_factory=lambda: defaultdict(int))


class FakeSession(LoginSession):
    def __init__(self, auth: FakeAuth, session_id: int) -> None:
        self.auth = auth
        self.id = session_id
        self.closed = False

    def login(self, username: str | None, password: str) -> Attempt:
        log = self.auth.log
        with log.lock:
            log.active += 1
            log.peak = max(log.peak, log.active)
            log.per_pair[(username, password)] += 1
            number = log.per_pair[(username, password)]
            log.calls.append((username, password, time.monotonic(), self.id))
        try:
            time.sleep(self.auth.delay)
            return self.auth.script(username, password, number)
        finally:
            with log.lock:
                log.active -= 1

    def close(self) -> None:
        self.closed = True


class FakeAuth(Authenticator):
    protocol = "fake"

    def __init__(
        self,
        script: Script,
        *,
        delay: float = 0.0,
        open_error: BaseException | None = None,
    ) -> None:
        self.script = script
        self.delay = delay
        self.open_error = open_error
        self.log = Log()

    def open(self, ctx: CheckContext, target: ServiceTarget) -> LoginSession:
        ctx.permit(target.address, target.port)
        with self.log.lock:
            self.log.opens += 1
            session_id = self.log.opens
        if self.open_error is not None:
            raise self.open_error
        return FakeSession(self, session_id)


def valid(pairs: set[tuple[str | None, str]], *, reusable: bool = True) -> Script:
    def script(user: str | None, password: str, _n: int) -> Attempt:
        if (user, password) in pairs:
            return Attempt(Outcome.SUCCESS, detail="welcome")
        return Attempt(Outcome.FAILURE, reusable=reusable)

    return script


def run(auth: FakeAuth, pairs: list[tuple[str | None, str]], **kw: object) -> CredentialReport:
    ctx = kw.pop("ctx", None) or RecordingContext()
    kw.setdefault("max_attempts_per_account", None)
    return run_credentials(auth, TARGET, ctx, pairs, **kw)  # type: ignore[arg-type]


def test_finds_valid_pairs_and_stops_each_account_at_its_first_success() -> None:
    auth = FakeAuth(valid({("root", "toor"), ("admin", "admin"), ("admin", "x")}))
    pairs: list[tuple[str | None, str]] = [
        ("root", "1"),
        ("root", "toor"),
        ("root", "2"),
        ("admin", "admin"),
        ("admin", "x"),
        ("guest", "a"),
        ("guest", "b"),
    ]
    report = run(auth, pairs, parallelism=1)
    found = {(f.username, f.password) for f in report.found}
    assert found == {("root", "toor"), ("admin", "admin")}
    tried = {(u, p) for u, p, _, _ in auth.log.calls}
    assert ("root", "2") not in tried and ("admin", "x") not in tried
    assert report.attempts == len(tried) == 5
    assert report.skipped == 2 and report.untried == 0
    assert report.failures == 3 and report.errors == 0
    assert report.stop_reason is StopReason.FINISHED
    assert report.pairs == 7
    assert report.attempts_per_second > 0


def test_duplicate_pairs_are_tried_once() -> None:
    auth = FakeAuth(valid(set()))
    report = run(auth, [("a", "1"), ("a", "1"), ("a", "2")], parallelism=3)
    assert report.attempts == 2 and report.pairs == 2


def test_password_only_accounts_can_yield_several_findings() -> None:
    auth = FakeAuth(valid({(None, "public"), (None, "private")}))
    pairs: list[tuple[str | None, str]] = [(None, "x"), (None, "public"), (None, "private")]
    report = run(auth, pairs, stop_account_on_success=False)
    assert sorted(f.password for f in report.found) == ["private", "public"]


def test_throttle_limits_attempts_per_account_per_window() -> None:
    auth = FakeAuth(valid(set()))
    pairs: list[tuple[str | None, str]] = [("root", str(i)) for i in range(7)]
    started = time.monotonic()
    report = run(auth, pairs, parallelism=4, max_attempts_per_account=3, window_seconds=0.4)
    elapsed = time.monotonic() - started
    times = sorted(t for _, _, t, _ in auth.log.calls)
    assert report.attempts == 7
    # 7 attempts at 3 per 0.4 s need three windows: at least two full waits.
    assert elapsed >= 0.8 - 0.02
    # Times are taken inside login(), a little after the scheduler admitted each attempt:
    # allow for that lag under load.
    for i, start in enumerate(times):
        in_window = [x for x in times[i:] if x < start + 0.4 - 0.1]
        assert len(in_window) <= 3, times


def test_throttled_account_does_not_hold_up_other_accounts() -> None:
    auth = FakeAuth(valid(set()), delay=0.01)
    pairs: list[tuple[str | None, str]] = [("a", str(i)) for i in range(4)]
    pairs += [("b", str(i)) for i in range(2)]
    run(auth, pairs, parallelism=2, max_attempts_per_account=2, window_seconds=1.0)
    first = auth.log.calls[0][2]
    b_times = [t - first for u, _, t, _ in auth.log.calls if u == "b"]
    a_times = [t - first for u, _, t, _ in auth.log.calls if u == "a"]
    assert max(b_times) < 0.5  # b never waited for a's window
    assert sorted(a_times)[2] >= 0.9  # a's third attempt waited for its window


def test_no_auth_stops_everything() -> None:
    def script(user: str | None, password: str, _n: int) -> Attempt:
        return Attempt(Outcome.NO_AUTH, detail="no password required")

    auth = FakeAuth(script)
    pairs: list[tuple[str | None, str]] = [(f"u{i}", "p") for i in range(50)]
    report = run(auth, pairs, parallelism=4)
    assert report.no_auth and report.stop_reason is StopReason.NO_AUTH
    assert report.detail == "no password required"
    assert report.attempts <= 4  # at most the attempts already in flight
    assert report.untried == 50 - report.attempts


def test_locked_account_backs_off_and_the_pair_is_retried() -> None:
    def script(user: str | None, password: str, n: int) -> Attempt:
        if user == "root" and n == 1:
            return Attempt(Outcome.LOCKED, reusable=True, detail="account locked")
        if (user, password) == ("root", "good"):
            return Attempt(Outcome.SUCCESS)
        return Attempt(Outcome.FAILURE, reusable=True)

    auth = FakeAuth(script, delay=0.01)
    pairs: list[tuple[str | None, str]] = [("root", "good"), ("other", "1"), ("other", "2")]
    report = run(auth, pairs, parallelism=1, lockout_backoff=0.3)
    root_times = [t for u, _, t, _ in auth.log.calls if u == "root"]
    other_times = [t for u, _, t, _ in auth.log.calls if u == "other"]
    assert len(root_times) == 2 and root_times[1] - root_times[0] >= 0.29
    assert max(other_times) < root_times[1]  # other accounts went on meanwhile
    assert [f.username for f in report.found] == ["root"]
    assert report.lockouts == 1


def test_account_locked_again_and_again_is_abandoned() -> None:
    def script(user: str | None, password: str, _n: int) -> Attempt:
        if user == "root":
            return Attempt(Outcome.LOCKED, detail="locked")
        return Attempt(Outcome.FAILURE)

    auth = FakeAuth(script)
    pairs: list[tuple[str | None, str]] = [*[("root", str(i)) for i in range(5)], ("x", "1")]
    report = run(auth, pairs, parallelism=1, lockout_backoff=0.02, max_lockouts=2)
    assert report.locked_accounts == ["root"]
    assert sum(1 for u, *_ in auth.log.calls if u == "root") == 3
    assert report.untried == 5 and report.stop_reason is StopReason.FINISHED


def test_error_reopens_the_session_and_is_retried() -> None:
    def script(user: str | None, password: str, n: int) -> Attempt:
        if password == "flaky" and n <= 2:
            return Attempt(Outcome.ERROR, reusable=True, detail="connection reset")
        if password == "flaky":
            return Attempt(Outcome.SUCCESS)
        return Attempt(Outcome.FAILURE, reusable=True)

    auth = FakeAuth(script)
    report = run(auth, [("u", "flaky"), ("v", "1")], parallelism=1, max_retries=2)
    assert [f.password for f in report.found] == ["flaky"]
    assert report.errors == 2 and report.attempts == 4
    # The session is dropped after each ERROR even though it claimed to be reusable, and
    # after the success (not reusable): 2 errors + success + the next account.
    assert auth.log.opens == 4 == report.connections


def test_retries_are_bounded_and_counted() -> None:
    def script(user: str | None, password: str, _n: int) -> Attempt:
        if password == "bad":
            return Attempt(Outcome.ERROR, detail="garbage")
        return Attempt(Outcome.FAILURE, reusable=True)

    auth = FakeAuth(script)
    report = run(auth, [("u", "bad"), ("u", "ok")], parallelism=1, max_retries=1)
    assert auth.log.per_pair[("u", "bad")] == 2
    assert report.errors == 2 and report.untried == 1 and report.failures == 1


def test_consecutive_errors_stop_the_run() -> None:
    auth = FakeAuth(lambda u, p, n: Attempt(Outcome.ERROR, detail="timed out"))
    pairs: list[tuple[str | None, str]] = [(f"u{i}", "p") for i in range(100)]
    report = run(auth, pairs, parallelism=2, max_consecutive_errors=5)
    assert report.stop_reason is StopReason.ERRORS
    assert 5 <= report.errors <= 6  # the other worker may finish one more
    assert report.detail == "timed out"


def test_reusable_sessions_are_kept_and_others_reopened() -> None:
    pairs: list[tuple[str | None, str]] = [("u", str(i)) for i in range(20)]
    kept = FakeAuth(valid(set(), reusable=True), delay=0.005)
    assert run(kept, pairs, parallelism=2).connections == 2
    dropped = FakeAuth(valid(set(), reusable=False), delay=0.005)
    assert run(dropped, pairs, parallelism=2).connections == 20


def test_parallelism_is_honoured() -> None:
    pairs: list[tuple[str | None, str]] = [(f"u{i % 5}", str(i)) for i in range(24)]
    auth = FakeAuth(valid(set()), delay=0.03)
    report = run(auth, pairs, parallelism=3)
    assert auth.log.peak == 3
    assert report.connections == 3
    one = FakeAuth(valid(set()), delay=0.005)
    run(one, pairs, parallelism=1)
    assert one.log.peak == 1


def test_workers_stay_on_their_account() -> None:
    # An SSH connection is bound to one user: each session should see one account only.
    pairs: list[tuple[str | None, str]] = [(u, str(i)) for i in range(10) for u in ("a", "b")]
    auth = FakeAuth(valid(set()), delay=0.005)
    run(auth, pairs, parallelism=2)
    sequences: dict[int, list[str | None]] = defaultdict(list)
    for user, _, _, session in auth.log.calls:
        sequences[session].append(user)
    # Each worker keeps to its account while that account has pairs left; a worker whose
    # account is exhausted may help with the other one (a slow machine decides whether that
    # happens), so a session changes account at most once and never comes back.
    for sequence in sequences.values():
        runs = [u for i, u in enumerate(sequence) if i == 0 or sequence[i - 1] != u]
        assert len(runs) <= 2, sequence
    # Two workers start on two different accounts.
    firsts = [seq[0] for seq in sequences.values()]
    assert len(set(firsts)) == len(firsts)


def test_should_stop_is_honoured() -> None:
    ctx = RecordingContext()
    auth = FakeAuth(valid(set()), delay=0.01)
    pairs: list[tuple[str | None, str]] = [(f"u{i}", "p") for i in range(1000)]
    threading.Timer(0.2, ctx.stop).start()
    started = time.monotonic()
    report = run(auth, pairs, ctx=ctx, parallelism=4)
    assert time.monotonic() - started < 2.0
    assert report.stop_reason is StopReason.STOPPED
    assert 0 < report.attempts < 1000 and report.untried == 1000 - report.attempts


def test_max_duration_ends_the_run() -> None:
    auth = FakeAuth(valid(set()), delay=0.01)
    pairs: list[tuple[str | None, str]] = [(f"u{i}", "p") for i in range(1000)]
    report = run(auth, pairs, parallelism=2, max_duration=0.2)
    assert report.stop_reason is StopReason.DEADLINE and report.elapsed < 2.0


def test_scope_refusal_stops_before_any_attempt() -> None:
    auth = FakeAuth(valid({("u", "p")}))
    ctx = RecordingContext(allowed=frozenset({"127.0.0.2"}))
    report = run(auth, [("u", "p")], ctx=ctx)
    assert report.stop_reason is StopReason.SCOPE
    assert report.attempts == 0 and auth.log.opens == 0 and report.found == []
    assert ctx.refused == [("127.0.0.1", 2222)]


def test_unreachable_service_ends_without_hanging() -> None:
    auth = FakeAuth(valid(set()), open_error=ConnectionRefusedError("refused"))
    started = time.monotonic()
    report = run(auth, [("u", str(i)) for i in range(10)], parallelism=2)
    assert time.monotonic() - started < 3.0
    assert report.stop_reason is StopReason.UNREACHABLE
    assert report.attempts == 0 and report.errors == 6 and report.untried == 10


def test_login_unavailable_stops_the_run() -> None:
    auth = FakeAuth(valid(set()), open_error=LoginUnavailable("no Basic challenge on /"))
    report = run(auth, [("u", "1"), ("u", "2")])
    assert report.stop_reason is StopReason.UNAVAILABLE
    assert report.detail == "no Basic challenge on /"
    assert auth.log.opens == 1


def test_a_bug_in_an_adapter_is_raised_not_swallowed() -> None:
    def script(user: str | None, password: str, _n: int) -> Attempt:
        raise KeyError("adapter bug")

    with pytest.raises(KeyError, match="adapter bug"):
        run(FakeAuth(script), [("u", "1"), ("u", "2")], parallelism=2)


def test_passwords_never_reach_the_log(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="shaobing")
    auth = FakeAuth(valid({("root", "S3cr3t-pw!")}))
    report = run(auth, [("root", "wrong-pw-77"), ("root", "S3cr3t-pw!")], parallelism=1)
    assert report.found
    assert "root" in caplog.text
    assert "S3cr3t-pw!" not in caplog.text and "wrong-pw-77" not in caplog.text
    assert "S3cr3t-pw!" not in repr(report)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("parallelism", 0),
        ("parallelism", 1000),
        ("parallelism", True),
        ("max_attempts_per_account", 0),
        ("window_seconds", -1.0),
        ("max_retries", -1),
        ("max_duration", 0),
    ],
)
def test_bad_limits_are_one_line_errors(name: str, value: object) -> None:
    with pytest.raises(ValidationError, match=name):
        run(FakeAuth(valid(set())), [("u", "p")], **{name: value})


def test_empty_dictionary_finishes_at_once() -> None:
    report = run(FakeAuth(valid(set())), [])
    assert report.stop_reason is StopReason.FINISHED and report.attempts == 0
