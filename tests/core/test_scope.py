"""Example-based tests of the scope guard (requirement A3)."""

from __future__ import annotations

import ipaddress
import re
import socket
import time as time_module
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from shaobing.core import scope as scope_module
from shaobing.core.errors import ShaobingError, ValidationError
from shaobing.core.i18n import DEFAULT_LANGUAGE, catalogue, set_language
from shaobing.core.scope import (
    REASONS,
    Scope,
    ScopeDecision,
    ScopeEntryError,
    ScopeRefused,
    default_resolver,
    ensure_allowed,
    evaluate,
    parse_scope_entry,
    parse_time_window,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Monday 2025-03-03 10:00 in Shanghai: inside every "working hours" window used below.
NOW = datetime(2025, 3, 3, 10, 0, tzinfo=SHANGHAI)

DNS: dict[str, list[str]] = {
    "www.example.gov.cn": ["93.184.216.34"],
    "a.b.example.gov.cn": ["8.8.8.8", "2400:3200::1"],
    "deep.x.y.example.gov.cn": ["1.1.1.1"],
    "inner.example.gov.cn": ["10.9.0.7"],
    "evil.example.gov.cn": ["93.184.216.34", "127.0.0.1"],
    "v6evil.example.gov.cn": ["fe80::1"],
    "mapped.example.gov.cn": ["::ffff:192.168.1.1"],
    "partly.example.gov.cn": ["93.184.216.34", "10.0.0.3"],
    "app.example.com": ["93.184.216.34"],
    "www.xn--fsqu00a.xn--fiqs8s": ["1.1.1.1"],
    "empty.example.gov.cn": [],
    "garbage.example.gov.cn": ["not-an-ip"],
    "lan.example.net": ["10.0.0.99"],
    "mixed.example.net": ["10.0.0.99", "10.200.0.1"],
    "public.example.net": ["9.9.9.9"],
}


def fake_resolver(host: str) -> list[str]:
    """Dict-based resolver: never touches real DNS."""
    if host not in DNS:
        raise OSError(f"NXDOMAIN {host}")
    return DNS[host]


def forbidden_resolver(host: str) -> Sequence[str]:
    raise AssertionError(f"resolver must not be called for {host}")


def check(
    sc: Scope,
    target: str,
    *,
    port: int | None = None,
    now: datetime = NOW,
) -> ScopeDecision:
    decision = evaluate(sc, target, port=port, now=now, resolver=fake_resolver)
    assert decision.reason in REASONS
    assert decision.allowed == (decision.reason == "ok")
    # Messages are one line, translated, and name the target.
    assert "\n" not in decision.message
    assert "scope." not in decision.message
    assert target.strip() in decision.message or decision.reason == "invalid_target"
    if not decision.allowed:
        assert decision.addresses == ()
    return decision


@pytest.fixture
def english() -> Iterator[None]:
    set_language("en")
    try:
        yield
    finally:
        set_language(DEFAULT_LANGUAGE)


# --------------------------------------------------------------------------- entries


@pytest.mark.parametrize(
    ("raw", "kind", "networks"),
    [
        ("10.0.0.5", "ip", ["10.0.0.5/32"]),
        (" 10.0.0.5 ", "ip", ["10.0.0.5/32"]),
        ("2001:db8::1", "ip", ["2001:db8::1/128"]),
        ("[2001:db8::1]", "ip", ["2001:db8::1/128"]),
        ("::ffff:10.0.0.5", "ip", ["10.0.0.5/32"]),
        ("10.0.0.0/24", "cidr", ["10.0.0.0/24"]),
        ("10.0.0.0/8", "cidr", ["10.0.0.0/8"]),
        ("2001:db8::/48", "cidr", ["2001:db8::/48"]),
        ("2001:db8::/32", "cidr", ["2001:db8::/32"]),
        (
            "10.0.0.1-20",
            "range",
            [
                "10.0.0.1/32",
                "10.0.0.2/31",
                "10.0.0.4/30",
                "10.0.0.8/29",
                "10.0.0.16/30",
                "10.0.0.20/32",
            ],
        ),
        ("10.0.0.0-10.0.1.255", "range", ["10.0.0.0/23"]),
        ("10.0.0.0 - 10.0.0.3", "range", ["10.0.0.0/30"]),
        ("2001:db8::-2001:db8::ff", "range", ["2001:db8::/120"]),
        ("10.0.0.7-7", "range", ["10.0.0.7/32"]),
    ],
)
def test_parse_address_entries(raw: str, kind: str, networks: list[str]) -> None:
    entry = parse_scope_entry(raw)
    assert entry.raw == raw
    assert entry.kind == kind
    assert [str(n) for n in entry.networks] == networks
    assert entry.hostname is None


@pytest.mark.parametrize(
    ("raw", "kind", "hostname"),
    [
        ("www.example.gov.cn", "host", "www.example.gov.cn"),
        ("WWW.Example.GOV.cn.", "host", "www.example.gov.cn"),
        ("www.例子.中国", "host", "www.xn--fsqu00a.xn--fiqs8s"),
        ("www.例子。中国", "host", "www.xn--fsqu00a.xn--fiqs8s"),
        ("db01.corp.local", "host", "db01.corp.local"),
        ("*.example.gov.cn", "wildcard", "example.gov.cn"),
        ("*.EXAMPLE.gov.cn.", "wildcard", "example.gov.cn"),
        ("*.例子.中国", "wildcard", "xn--fsqu00a.xn--fiqs8s"),
        ("*.foo.github.io", "wildcard", "foo.github.io"),
    ],
)
def test_parse_name_entries(raw: str, kind: str, hostname: str) -> None:
    entry = parse_scope_entry(raw)
    assert (entry.kind, entry.hostname, entry.networks) == (kind, hostname, ())


@pytest.mark.parametrize(
    ("raw", "hostname", "network", "port", "scheme", "path"),
    [
        ("https://app.example.com", "app.example.com", None, 443, "https", "/"),
        ("http://app.example.com/", "app.example.com", None, 80, "http", "/"),
        ("HTTPS://App.Example.com:8443/app/", "app.example.com", None, 8443, "https", "/app"),
        ("https://app.example.com/a/./b/../c?q=1#f", "app.example.com", None, 443, "https", "/a/c"),
        ("http://10.0.0.5:8080/x", None, "10.0.0.5/32", 8080, "http", "/x"),
        ("http://[2001:db8::1]/", None, "2001:db8::1/128", 80, "http", "/"),
        ("https://www.例子.中国/", "www.xn--fsqu00a.xn--fiqs8s", None, 443, "https", "/"),
    ],
)
def test_parse_url_entries(
    raw: str, hostname: str | None, network: str | None, port: int, scheme: str, path: str
) -> None:
    entry = parse_scope_entry(raw)
    assert entry.kind == "url"
    assert entry.hostname == hostname
    assert [str(n) for n in entry.networks] == ([network] if network else [])
    assert (entry.port, entry.scheme, entry.path) == (port, scheme, path)


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("", "内容为空"),
        ("   ", "内容为空"),
        ("garbage entry!", "不是有效的域名"),
        ("10.0.0.256", "不是有效的 IP 地址"),
        ("10.0.0", "不是有效的 IP 地址"),
        ("010.0.0.1", "不是有效的 IP 地址"),
        ("10.0.0.0/33", "不是有效的网段"),
        ("10.0.0.5/24", "10.0.0.0/24"),
        ("2001:db8::1/64", "2001:db8::/64"),
        ("10.0.0.1-300", "地址范围"),
        ("10.0.0.1-abc", "地址范围"),
        ("10.0.0.9-1", "大于结束地址"),
        ("10.0.0.9-10.0.0.1", "大于结束地址"),
        ("10.0.0.1-2001:db8::1", "协议族"),
        ("2001:db8::1-20", "地址范围"),
        ("0.0.0.0", "未指定地址"),
        ("::", "未指定地址"),
        ("ftp://files.example.com/", "ftp"),
        ("https://user:pw@app.example.com/", "用户名或密码"),
        ("http://app.example.com:99999/", "端口"),
        ("http://app.example.com:0/", "端口"),
        ("http://app.example.com:abc/", "端口"),
        ("https://", "URL"),
        ("http://[::1/", "URL"),
        ("a..example.com", "不是有效的域名"),
        ("-bad.example.com", "不是有效的域名"),
        ("host.example.com:8080", "不是可识别的"),
        ("a*.example.com", "通配符"),
        ("www.*.example.com", "通配符"),
        ("*.*.example.com", "通配符"),
        ("x" * 64 + ".example.com", "不是有效的域名"),
    ],
)
def test_invalid_entries_name_raw_and_reason(raw: str, fragment: str) -> None:
    with pytest.raises(ScopeEntryError) as info:
        parse_scope_entry(raw)
    message = str(info.value)
    assert fragment in message
    assert info.value.raw == raw
    if raw.strip():
        assert raw in message
    assert "\n" not in message
    assert isinstance(info.value, ValidationError)


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("*.cn", "cn"),
        ("*.gov.cn", "gov.cn"),
        ("*.com.cn", "com.cn"),
        ("com", "com"),
        ("gov.cn", "gov.cn"),
        ("*.中国", "xn--fiqs8s"),
        ("*.github.io", "github.io"),
        ("https://com.cn/", "com.cn"),
        ("*.local", "local"),
    ],
)
def test_public_suffixes_are_refused(raw: str, name: str) -> None:
    with pytest.raises(ScopeEntryError, match="公共后缀") as info:
        parse_scope_entry(raw)
    assert raw in str(info.value)
    assert name in str(info.value)


@pytest.mark.parametrize("raw", ["db01", "localhost", "http://intranet/"])
def test_single_label_names_are_refused(raw: str) -> None:
    with pytest.raises(ScopeEntryError, match="单标签"):
        parse_scope_entry(raw)


def test_star_alone_is_refused() -> None:
    with pytest.raises(ScopeEntryError, match=r"\*"):
        parse_scope_entry("*")


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("0.0.0.0/0", "整个地址空间"),
        ("::/0", "整个地址空间"),
        ("0.0.0.0-255.255.255.255", "整个地址空间"),
        ("::ffff:0:0/96", "整个地址空间"),
        ("10.0.0.0/7", "2^25"),
        ("1.0.0.0-2.0.0.1", "16777218"),
        ("2001:db8::/31", "2^97"),
    ],
)
def test_too_broad_includes_are_refused(raw: str, fragment: str) -> None:
    with pytest.raises(ScopeEntryError) as info:
        parse_scope_entry(raw)
    assert raw in str(info.value)
    assert fragment in str(info.value)


@pytest.mark.parametrize("raw", ["0.0.0.0/0", "::/0", "*.cn", "com", "10.0.0.0/7", "db01"])
def test_broad_excludes_are_accepted(raw: str) -> None:
    entry = parse_scope_entry(raw, exclude=True)
    assert entry.raw == raw
    sc = Scope.from_strings(["10.0.0.0/24"], [raw])
    assert sc.excludes == (entry,)


def test_scope_constructor_revalidates_includes() -> None:
    broad = parse_scope_entry("0.0.0.0/0", exclude=True)
    with pytest.raises(ScopeEntryError, match=re.escape("0.0.0.0/0")):
        Scope(includes=(broad,), excludes=())


def test_from_strings_reports_first_bad_entry() -> None:
    with pytest.raises(ScopeEntryError) as info:
        Scope.from_strings(["10.0.0.0/24", "10.0.0.300", "also bad"])
    assert info.value.raw == "10.0.0.300"


def test_from_strings_accepts_a_single_string() -> None:
    sc = Scope.from_strings("10.0.0.0/24", "10.0.0.1", "mon-fri 08:00-20:00")
    assert [e.raw for e in sc.includes] == ["10.0.0.0/24"]
    assert [e.raw for e in sc.excludes] == ["10.0.0.1"]
    assert [w.raw for w in sc.windows] == ["mon-fri 08:00-20:00"]


def test_entry_error_message_is_one_line_for_hostile_input() -> None:
    with pytest.raises(ScopeEntryError) as info:
        parse_scope_entry("bad\nentry" + "x" * 500)
    message = str(info.value)
    assert "\n" not in message
    assert "bad\\nentry" in message
    assert len(message) < 400


# --------------------------------------------------------------------------- windows


@pytest.mark.parametrize(
    ("raw", "days", "start", "end"),
    [
        ("08:00-20:00", set(range(7)), time(8), time(20)),
        ("8:00 - 20:30", set(range(7)), time(8), time(20, 30)),
        ("mon-fri 08:00-20:00", {0, 1, 2, 3, 4}, time(8), time(20)),
        ("Mon - Fri 08:00~20:00", {0, 1, 2, 3, 4}, time(8), time(20)),
        ("sat,sun 09:00-12:00", {5, 6}, time(9), time(12)),
        ("mon,wed-thu 09:00-12:00", {0, 2, 3}, time(9), time(12)),
        ("fri-mon 09:00-12:00", {4, 5, 6, 0}, time(9), time(12)),
        ("weekdays 09:00-18:00", {0, 1, 2, 3, 4}, time(9), time(18)),
        ("22:00-06:00", set(range(7)), time(22), time(6)),
        ("00:00-24:00", set(range(7)), time(0), time(0)),
        ("20:00-24:00", set(range(7)), time(20), time(0)),
        ("周一-周五 08:00-20:00", {0, 1, 2, 3, 4}, time(8), time(20)),
        ("周一至周五 08:00-20:00", {0, 1, 2, 3, 4}, time(8), time(20)),
        ("周一到周五08:00-20:00", {0, 1, 2, 3, 4}, time(8), time(20)),
        ("星期六、星期日 09:00－12:00", {5, 6}, time(9), time(12)),
        ("工作日 09:00-18:00", {0, 1, 2, 3, 4}, time(9), time(18)),
        ("周末 22:00-06:00", {5, 6}, time(22), time(6)),
        ("每天 08:00-09:00", set(range(7)), time(8), time(9)),
        ("周六，周日 10:00～11:00", {5, 6}, time(10), time(11)),
    ],
)
def test_parse_time_window(raw: str, days: set[int], start: time, end: time) -> None:
    window = parse_time_window(raw)
    assert window.raw == raw
    assert window.days == frozenset(days)
    assert (window.start, window.end) == (start, end)


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("", "格式"),
        ("always", "格式"),
        ("08:00", "格式"),
        ("8-20", "格式"),
        ("25:00-26:00", "25:00"),
        ("08:60-09:00", "08:60"),
        ("24:00-06:00", "24:00"),
        ("08:00-08:00", "00:00-24:00"),
        ("xyz 08:00-09:00", "xyz"),
        ("mon-xyz 08:00-09:00", "xyz"),
        ("周八 08:00-09:00", "周八"),
    ],
)
def test_invalid_time_windows(raw: str, fragment: str) -> None:
    with pytest.raises(ScopeEntryError) as info:
        parse_time_window(raw)
    assert fragment in str(info.value)
    assert "时间窗口" in str(info.value)
    assert info.value.raw == raw


def _at(day: int, hour: int, minute: int = 0) -> datetime:
    """March 2025: the 3rd is a Monday, so day 3 + n is weekday n."""
    return datetime(2025, 3, day, hour, minute, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    ("moment", "inside"),
    [
        (_at(7, 21, 59), False),  # Friday before start
        (_at(7, 22, 0), True),  # Friday start is inclusive
        (_at(7, 23, 30), True),
        (_at(8, 0, 0), True),  # Saturday after midnight, window began Friday
        (_at(8, 5, 59), True),
        (_at(8, 6, 0), False),  # end is exclusive
        (_at(6, 23, 0), False),  # Thursday is not a start day
        (_at(7, 5, 0), False),  # Friday early morning belongs to a Thursday window
    ],
)
def test_window_crossing_midnight(moment: datetime, inside: bool) -> None:
    assert parse_time_window("fri 22:00-06:00").contains(moment) is inside


def test_window_end_is_exclusive_and_whole_day() -> None:
    window = parse_time_window("mon-fri 08:00-20:00")
    assert window.contains(_at(3, 8))
    assert window.contains(_at(3, 19, 59))
    assert not window.contains(_at(3, 20))
    assert not window.contains(_at(8, 10))  # Saturday
    whole = parse_time_window("sat 00:00-24:00")
    assert whole.contains(_at(8, 0))
    assert whole.contains(_at(8, 23, 59))
    assert not whole.contains(_at(9, 0))
    to_midnight = parse_time_window("20:00-24:00")
    assert to_midnight.contains(_at(3, 23, 59))
    assert not to_midnight.contains(_at(4, 0))


def test_evaluate_outside_window() -> None:
    sc = Scope.from_strings(["10.0.0.0/24"], windows=["工作日 09:00-18:00", "sat 22:00-06:00"])
    assert check(sc, "10.0.0.1", now=_at(3, 9)).allowed
    late = check(sc, "10.0.0.1", now=_at(3, 18))
    assert late.reason == "outside_window"
    assert "工作日 09:00-18:00" in late.message
    assert "2025-03-03 18:00" in late.message
    assert check(sc, "10.0.0.1", now=_at(9, 5, 59)).allowed  # Sunday morning, Saturday window
    assert check(sc, "10.0.0.1", now=_at(9, 22)).reason == "outside_window"


def test_window_uses_scope_timezone() -> None:
    sc = Scope.from_strings(["10.0.0.0/24"], windows=["mon-fri 08:00-20:00"])
    # 01:00 UTC on Monday is 09:00 in Shanghai.
    assert check(sc, "10.0.0.1", now=datetime(2025, 3, 3, 1, 0, tzinfo=UTC)).allowed
    # 13:00 UTC on Monday is 21:00 in Shanghai.
    assert check(sc, "10.0.0.1", now=datetime(2025, 3, 3, 13, 0, tzinfo=UTC)).reason == (
        "outside_window"
    )
    utc_scope = Scope.from_strings(["10.0.0.0/24"], windows=["mon-fri 08:00-20:00"], timezone="UTC")
    assert check(utc_scope, "10.0.0.1", now=datetime(2025, 3, 3, 13, 0, tzinfo=UTC)).allowed
    # A naive `now` is wall-clock time in the scope's zone.
    assert check(sc, "10.0.0.1", now=datetime(2025, 3, 3, 9, 0)).allowed


# --------------------------------------------------------------------------- period


@pytest.mark.parametrize(
    ("moment", "reason"),
    [
        (datetime(2025, 2, 28, 23, 59, tzinfo=SHANGHAI), "outside_period"),
        (datetime(2025, 3, 1, 0, 0, tzinfo=SHANGHAI), "ok"),
        (datetime(2025, 3, 31, 23, 59, tzinfo=SHANGHAI), "ok"),
        (datetime(2025, 4, 1, 0, 0, tzinfo=SHANGHAI), "outside_period"),
        # 17:00 UTC on Feb 28 is already March 1 in Shanghai.
        (datetime(2025, 2, 28, 17, 0, tzinfo=UTC), "ok"),
        (datetime(2025, 2, 28, 15, 59, tzinfo=UTC), "outside_period"),
    ],
)
def test_period_boundaries_are_inclusive(moment: datetime, reason: str) -> None:
    sc = Scope.from_strings(["10.0.0.0/24"], start=date(2025, 3, 1), end="2025-03-31")
    decision = check(sc, "10.0.0.1", now=moment)
    assert decision.reason == reason
    if reason == "outside_period":
        assert "2025-03-01" in decision.message
        assert "2025-03-31" in decision.message


def test_open_ended_period() -> None:
    sc = Scope.from_strings(["10.0.0.0/24"], start="2025-03-01")
    assert check(sc, "10.0.0.1", now=datetime(2030, 1, 1, tzinfo=SHANGHAI)).allowed
    early = check(sc, "10.0.0.1", now=datetime(2025, 1, 1, tzinfo=SHANGHAI))
    assert early.reason == "outside_period"
    assert "不限" in early.message


def test_period_checked_before_window() -> None:
    sc = Scope.from_strings(["10.0.0.0/24"], windows=["08:00-09:00"], end=date(2025, 3, 1))
    assert check(sc, "10.0.0.1", now=_at(3, 12)).reason == "outside_period"


def test_now_defaults_to_current_time() -> None:
    sc = Scope.from_strings(["10.0.0.0/24"])
    assert evaluate(sc, "10.0.0.1").allowed
    past = Scope.from_strings(["10.0.0.0/24"], end=date(2000, 1, 1))
    assert evaluate(past, "10.0.0.1").reason == "outside_period"


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"start": "2025-04-01", "end": "2025-03-01"}, "晚于"),
        ({"start": "yesterday"}, "yesterday"),
        ({"timezone": "Mars/Olympus"}, "Mars/Olympus"),
    ],
)
def test_invalid_period_and_timezone(kwargs: dict[str, str], fragment: str) -> None:
    with pytest.raises(ScopeEntryError, match=re.escape(fragment)):
        Scope.from_strings(["10.0.0.0/24"], **kwargs)


# --------------------------------------------------------------------------- IP targets


@pytest.fixture
def ip_scope() -> Scope:
    return Scope.from_strings(
        ["10.0.0.0/24", "10.1.0.1-20", "192.168.5.5", "2001:db8::/48", "172.16.0.0-172.16.1.255"],
        ["10.0.0.0/28", "2001:db8::dead", "10.1.0.10-12"],
    )


@pytest.mark.parametrize(
    ("target", "reason", "matched"),
    [
        ("10.0.0.50", "ok", "10.0.0.0/24"),
        ("10.0.0.255", "ok", "10.0.0.0/24"),
        ("10.0.0.5", "excluded", "10.0.0.0/28"),
        ("10.0.0.15", "excluded", "10.0.0.0/28"),
        ("10.0.0.16", "ok", "10.0.0.0/24"),
        ("10.0.1.0", "not_included", None),
        ("10.1.0.1", "ok", "10.1.0.1-20"),
        ("10.1.0.20", "ok", "10.1.0.1-20"),
        ("10.1.0.21", "not_included", None),
        ("10.1.0.0", "not_included", None),
        ("10.1.0.11", "excluded", "10.1.0.10-12"),
        ("172.16.1.7", "ok", "172.16.0.0-172.16.1.255"),
        ("192.168.5.5", "ok", "192.168.5.5"),
        ("192.168.5.6", "not_included", None),
        ("2001:db8::1", "ok", "2001:db8::/48"),
        ("[2001:db8:0:ffff::1]", "ok", "2001:db8::/48"),
        ("2001:db8::dead", "excluded", "2001:db8::dead"),
        ("2001:DB8::DEAD", "excluded", "2001:db8::dead"),
        ("2001:db9::1", "not_included", None),
        ("::ffff:10.0.0.50", "ok", "10.0.0.0/24"),
        ("::ffff:10.0.0.5", "excluded", "10.0.0.0/28"),
        ("10.0.0.50:8080", "ok", "10.0.0.0/24"),
        ("[2001:db8::1]:443", "ok", "2001:db8::/48"),
        ("http://10.0.0.50/login", "ok", "10.0.0.0/24"),
        ("https://[2001:db8::dead]/", "excluded", "2001:db8::dead"),
    ],
)
def test_ip_targets(ip_scope: Scope, target: str, reason: str, matched: str | None) -> None:
    decision = check(ip_scope, target)
    assert decision.reason == reason
    assert decision.matched == matched
    if decision.allowed:
        assert len(decision.addresses) == 1
        assert ipaddress.ip_address(decision.addresses[0])
    if matched is not None:
        assert matched in decision.message


def test_exclusion_wins_even_when_listed_first_as_include() -> None:
    sc = Scope.from_strings(["10.0.0.5", "10.0.0.0/24"], ["10.0.0.5"])
    decision = check(sc, "10.0.0.5")
    assert decision.reason == "excluded"
    assert "排除项 10.0.0.5" in decision.message


def test_matched_is_first_listed_overlapping_include() -> None:
    sc = Scope.from_strings(["10.0.0.0/24", "10.0.0.0/16", "10.0.0.7"], [])
    assert check(sc, "10.0.0.7").matched == "10.0.0.0/24"
    assert check(sc, "10.0.5.7").matched == "10.0.0.0/16"


def test_wide_ipv6_exclusion_covers_mapped_ipv4() -> None:
    sc = Scope.from_strings(["10.0.0.0/24"], ["::/64"])
    assert check(sc, "10.0.0.1").reason == "excluded"
    assert check(sc, "::ffff:10.0.0.1").reason == "excluded"


def test_empty_scope_admits_nothing() -> None:
    sc = Scope.from_strings([])
    assert check(sc, "10.0.0.1").reason == "not_included"
    assert evaluate(sc, "www.example.gov.cn", now=NOW, resolver=forbidden_resolver).reason == (
        "not_included"
    )


# --------------------------------------------------------------------------- host names


@pytest.fixture
def name_scope() -> Scope:
    return Scope.from_strings(
        ["www.example.gov.cn", "*.example.gov.cn", "www.例子.中国", "10.9.0.0/24"],
        ["secret.example.gov.cn", "*.internal.example.gov.cn", "2400:3200::1/128"],
    )


def test_included_name_returns_pinned_addresses() -> None:
    sc = Scope.from_strings(["www.example.gov.cn"], [])
    decision = check(sc, "www.example.gov.cn")
    assert decision.allowed
    assert decision.addresses == ("93.184.216.34",)
    assert decision.matched == "www.example.gov.cn"
    assert decision.host == "www.example.gov.cn"


@pytest.mark.parametrize(
    "target", ["WWW.EXAMPLE.GOV.CN", "www.example.gov.cn.", "https://WWW.example.gov.cn./x"]
)
def test_names_are_case_insensitive_and_trailing_dot_is_ignored(target: str) -> None:
    sc = Scope.from_strings(["www.example.gov.cn"], [])
    assert check(sc, target).allowed


def test_idn_targets_and_entries() -> None:
    sc = Scope.from_strings(["www.例子.中国"], [])
    for target in ("www.例子.中国", "www.xn--fsqu00a.xn--fiqs8s", "WWW.例子。中国"):
        decision = check(sc, target)
        assert decision.allowed, decision.message
        assert decision.host == "www.xn--fsqu00a.xn--fiqs8s"


def test_wildcard_matches_any_depth_but_not_apex() -> None:
    sc = Scope.from_strings(["*.example.gov.cn"], [])
    assert check(sc, "a.b.example.gov.cn").addresses == ("8.8.8.8", "2400:3200::1")
    assert check(sc, "deep.x.y.example.gov.cn").matched == "*.example.gov.cn"
    apex = evaluate(sc, "example.gov.cn", now=NOW, resolver=forbidden_resolver)
    assert apex.reason == "not_included"
    other = evaluate(sc, "www.example2.gov.cn", now=NOW, resolver=forbidden_resolver)
    assert other.reason == "not_included"
    suffix_trick = evaluate(sc, "badexample.gov.cn", now=NOW, resolver=forbidden_resolver)
    assert suffix_trick.reason == "not_included"


@pytest.mark.parametrize(
    ("target", "matched"),
    [
        ("secret.example.gov.cn", "secret.example.gov.cn"),
        ("a.internal.example.gov.cn", "*.internal.example.gov.cn"),
        ("x.y.internal.example.gov.cn", "*.internal.example.gov.cn"),
    ],
)
def test_excluded_names_are_refused_without_dns(
    name_scope: Scope, target: str, matched: str
) -> None:
    decision = evaluate(name_scope, target, now=NOW, resolver=forbidden_resolver)
    assert decision.reason == "excluded"
    assert decision.matched == matched
    assert matched in decision.message
    assert target in decision.message


def test_excluded_resolved_address_refuses_name(name_scope: Scope) -> None:
    decision = check(name_scope, "a.b.example.gov.cn")
    assert decision.reason == "excluded"
    assert decision.matched == "2400:3200::1/128"
    assert "2400:3200::1" in decision.message


def test_excluded_address_wins_over_included_name() -> None:
    sc = Scope.from_strings(["www.example.gov.cn"], ["93.184.216.0/24"])
    assert check(sc, "www.example.gov.cn").reason == "excluded"


@pytest.mark.parametrize(
    ("target", "address"),
    [
        ("evil.example.gov.cn", "127.0.0.1"),
        ("v6evil.example.gov.cn", "fe80::1"),
        ("mapped.example.gov.cn", "::ffff:192.168.1.1"),
        ("partly.example.gov.cn", "10.0.0.3"),
    ],
)
def test_rebinding_to_non_public_address_is_refused(
    name_scope: Scope, target: str, address: str
) -> None:
    decision = check(name_scope, target)
    assert decision.reason == "rebinding"
    assert address in decision.message
    assert decision.addresses == ()


def test_explicitly_included_private_address_is_not_rebinding(name_scope: Scope) -> None:
    decision = check(name_scope, "inner.example.gov.cn")
    assert decision.allowed
    assert decision.addresses == ("10.9.0.7",)
    assert decision.matched == "10.9.0.0/24"


def test_name_admitted_through_ip_entries_only() -> None:
    sc = Scope.from_strings(["10.0.0.0/24"], [])
    lan = check(sc, "lan.example.net")
    assert lan.allowed
    assert lan.addresses == ("10.0.0.99",)
    assert lan.matched == "10.0.0.0/24"
    mixed = check(sc, "mixed.example.net")
    assert mixed.reason == "not_included"
    assert "10.200.0.1" in mixed.message
    # A public address of a name that no entry names is not admitted either.
    assert check(sc, "public.example.net").reason == "not_included"


@pytest.mark.parametrize(
    ("target", "fragment"),
    [
        ("nx.example.gov.cn", "NXDOMAIN"),
        ("empty.example.gov.cn", "解析结果为空"),
        ("garbage.example.gov.cn", "not-an-ip"),
    ],
)
def test_unresolvable(name_scope: Scope, target: str, fragment: str) -> None:
    decision = check(name_scope, target)
    assert decision.reason == "unresolvable"
    assert fragment in decision.message


def test_resolver_timeout_is_unresolvable(name_scope: Scope) -> None:
    def slow(host: str) -> list[str]:
        raise TimeoutError(f"resolving {host} timed out")

    decision = evaluate(name_scope, "www.example.gov.cn", now=NOW, resolver=slow)
    assert decision.reason == "unresolvable"
    assert "TimeoutError" in decision.message


def test_time_is_checked_before_dns() -> None:
    sc = Scope.from_strings(["*.example.gov.cn"], windows=["08:00-09:00"])
    decision = evaluate(sc, "www.example.gov.cn", now=NOW, resolver=forbidden_resolver)
    assert decision.reason == "outside_window"


# --------------------------------------------------------------------------- URL entries


@pytest.fixture
def url_scope() -> Scope:
    return Scope.from_strings(
        ["https://app.example.com/app", "http://10.0.0.5:8080/", "https://[2001:db8::1]/api/"],
        ["https://app.example.com/app/admin", "http://10.0.0.5:8080/private"],
    )


@pytest.mark.parametrize(
    ("target", "port", "reason"),
    [
        ("https://app.example.com/app", None, "ok"),
        ("https://app.example.com/app/", None, "ok"),
        ("https://app.example.com/app/x/y?q=1", None, "ok"),
        ("https://app.example.com/apple", None, "path_not_allowed"),
        ("https://app.example.com/", None, "path_not_allowed"),
        ("https://app.example.com", None, "path_not_allowed"),
        ("https://app.example.com/APP", None, "path_not_allowed"),
        ("https://app.example.com/app/../etc", None, "path_not_allowed"),
        ("https://app.example.com/app/%2e%2e/etc", None, "path_not_allowed"),
        ("https://app.example.com/app/%252e%252e/etc", None, "path_not_allowed"),
        ("https://app.example.com/app/..;/etc", None, "path_not_allowed"),
        ("https://app.example.com/app/..%5cetc", None, "path_not_allowed"),
        ("https://app.example.com:443/app", None, "ok"),
        ("https://app.example.com:8443/app", None, "port_not_allowed"),
        ("http://app.example.com/app", None, "port_not_allowed"),
        ("http://app.example.com:443/app", None, "ok"),
        ("https://app.example.com:8443/app", 443, "ok"),
        # Path-unaware targets on the excluded URL's port (or with no port) could touch
        # /app/admin, so the exclusion refuses them.
        ("app.example.com", None, "excluded"),
        ("app.example.com", 443, "excluded"),
        ("app.example.com:443", None, "excluded"),
        ("app.example.com:80", None, "port_not_allowed"),
        ("https://app.example.com/app/admin", None, "excluded"),
        ("https://app.example.com/app/ADMIN/x", None, "excluded"),
        ("https://app.example.com/app/x/../admin", None, "excluded"),
        ("https://app.example.com/app/administrator", None, "ok"),
        ("10.0.0.5", None, "excluded"),  # path-unaware, no port: could touch /private
        ("10.0.0.5:8080", None, "excluded"),
        ("10.0.0.5", 22, "port_not_allowed"),
        ("http://10.0.0.5:8080/", None, "ok"),
        ("http://10.0.0.5:8080/anything", None, "ok"),
        ("http://10.0.0.5:8080/private/x", None, "excluded"),
        ("http://10.0.0.5/", None, "port_not_allowed"),
        ("https://[2001:db8::1]/api", None, "ok"),
        ("https://[2001:db8::1]/api/v1", None, "ok"),
        ("https://[2001:db8::1]/apix", None, "path_not_allowed"),
        ("[2001:db8::1]:443", None, "ok"),
        ("2001:db8::1", None, "port_not_allowed"),
    ],
)
def test_url_entries_restrict_port_and_path(
    url_scope: Scope, target: str, port: int | None, reason: str
) -> None:
    decision = check(url_scope, target, port=port)
    assert decision.reason == reason, decision.message
    if reason == "path_not_allowed":
        assert "https://" in decision.message


def test_url_entry_needs_a_port_for_path_unaware_targets() -> None:
    sc = Scope.from_strings(["https://app.example.com/app"], [])
    missing = check(sc, "app.example.com")
    assert missing.reason == "port_not_allowed"
    assert "未指定端口" in missing.message
    assert "https://app.example.com/app" in missing.message
    assert check(sc, "app.example.com", port=443).allowed
    assert check(sc, "app.example.com:443").allowed
    wrong = check(sc, "app.example.com", port=22)
    assert wrong.reason == "port_not_allowed"
    assert "22" in wrong.message


def test_url_decision_reports_effective_port(url_scope: Scope) -> None:
    decision = check(url_scope, "https://app.example.com/app")
    assert decision.port == 443
    assert decision.addresses == ("93.184.216.34",)
    assert decision.matched == "https://app.example.com/app"
    assert check(url_scope, "https://app.example.com:8443/app", port=443).port == 443


def test_host_entry_lifts_url_restrictions() -> None:
    sc = Scope.from_strings(["https://app.example.com/app", "app.example.com"], [])
    decision = check(sc, "http://app.example.com:8080/other")
    assert decision.allowed
    assert decision.matched == "app.example.com"


def test_url_entry_for_name_is_subject_to_rebinding() -> None:
    sc = Scope.from_strings(["https://evil.example.gov.cn/"], [])
    assert check(sc, "https://evil.example.gov.cn/").reason == "rebinding"


def test_several_url_entries_for_one_host() -> None:
    sc = Scope.from_strings(
        ["https://app.example.com/a", "https://app.example.com/b", "http://app.example.com:8080/"],
        [],
    )
    assert check(sc, "https://app.example.com/b/x").matched == "https://app.example.com/b"
    assert check(sc, "http://app.example.com:8080/zzz").allowed
    assert check(sc, "https://app.example.com/c").reason == "path_not_allowed"
    assert check(sc, "app.example.com:9000").reason == "port_not_allowed"


# --------------------------------------------------------------------------- invalid targets


@pytest.mark.parametrize(
    ("target", "port"),
    [
        ("", None),
        ("   ", None),
        ("10.0.0.256", None),
        ("10.0.0", None),
        ("0.0.0.0", None),
        ("::", None),
        ("a b.example.com", None),
        ("bad\nname", None),
        ("host.example.com:99999", None),
        ("host.example.com:abc", None),
        ("host.example.com:0", None),
        ("[10.0.0.1]", None),
        ("[2001:db8::1", None),
        ("http://", None),
        ("http://user@10.0.0.1/", None),
        ("http://10.0.0.9\\@10.0.0.1/", None),
        ("http://10.0.0.1:99999/", None),
        ("http://10.0.0.1:0/", None),
        ("10.0.0.1", 0),
        ("10.0.0.1", 70000),
        ("-bad-.example.com", None),
    ],
)
def test_invalid_targets_are_decisions_not_exceptions(target: str, port: int | None) -> None:
    sc = Scope.from_strings(["10.0.0.0/24"], [])
    decision = evaluate(sc, target, port=port, now=NOW, resolver=forbidden_resolver)
    assert decision.reason == "invalid_target"
    assert not decision.allowed
    assert "\n" not in decision.message
    assert "格式无效" in decision.message
    with pytest.raises(ScopeRefused):
        ensure_allowed(sc, target, port=port, now=NOW, resolver=forbidden_resolver)


def test_invalid_target_is_reported_even_outside_window() -> None:
    sc = Scope.from_strings(["10.0.0.0/24"], windows=["08:00-09:00"])
    assert check(sc, "10.0.0.300").reason == "invalid_target"


# --------------------------------------------------------------------------- ensure_allowed


def test_ensure_allowed_returns_decision_or_raises(ip_scope: Scope) -> None:
    decision = ensure_allowed(ip_scope, "10.0.0.50", now=NOW)
    assert decision.allowed
    assert decision.addresses == ("10.0.0.50",)
    with pytest.raises(ScopeRefused) as info:
        ensure_allowed(ip_scope, "10.0.0.5", now=NOW)
    refused = info.value
    assert isinstance(refused, ShaobingError)
    assert refused.decision.reason == "excluded"
    assert str(refused) == refused.decision.message
    assert "10.0.0.5" in str(refused)
    assert "10.0.0.0/28" in str(refused)


def test_every_reason_code_is_reachable(
    ip_scope: Scope, name_scope: Scope, url_scope: Scope
) -> None:
    windowed = Scope.from_strings(["10.0.0.0/24"], windows=["08:00-09:00"])
    dated = Scope.from_strings(["10.0.0.0/24"], end="2000-01-01")
    seen = {
        check(ip_scope, "10.0.0.50").reason,
        check(ip_scope, "10.0.1.1").reason,
        check(ip_scope, "10.0.0.5").reason,
        check(windowed, "10.0.0.1").reason,
        check(dated, "10.0.0.1").reason,
        check(name_scope, "nx.example.gov.cn").reason,
        check(name_scope, "evil.example.gov.cn").reason,
        check(ip_scope, "10.0.0.256").reason,
        check(url_scope, "http://app.example.com/app").reason,
        check(url_scope, "https://app.example.com/apple").reason,
    }
    assert seen == REASONS


def test_english_messages(english: None, ip_scope: Scope) -> None:
    decision = check(ip_scope, "10.0.0.5")
    assert decision.message == "Target 10.0.0.5 matches exclusion 10.0.0.0/28; refused"
    with pytest.raises(ScopeEntryError, match=r"^Scope entry \*\.cn is invalid: cn is a public"):
        parse_scope_entry("*.cn")
    # Chinese day words keep working whatever the UI language.
    assert parse_time_window("工作日 09:00-18:00").days == frozenset(range(5))


# --------------------------------------------------------------------------- resolver


def test_default_resolver_literal_addresses() -> None:
    # Numeric hosts are answered by getaddrinfo itself: no DNS traffic.
    assert default_resolver("127.0.0.1") == ["127.0.0.1"]
    assert default_resolver("::1") == ["::1"]


def test_default_resolver_deduplicates(monkeypatch: pytest.MonkeyPatch) -> None:
    def fake_getaddrinfo(host: str, port: object, *args: object, **kwargs: object) -> list[object]:
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", 0)),
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("2606:2800::1", 0, 0, 0)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", 0)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    assert default_resolver("www.example.com") == ["93.184.216.34", "2606:2800::1"]


def test_default_resolver_errors_and_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    def failing(*args: object, **kwargs: object) -> list[object]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", failing)
    with pytest.raises(socket.gaierror):
        default_resolver("nx.example.com")

    def hanging(*args: object, **kwargs: object) -> list[object]:
        time_module.sleep(2)
        return []

    monkeypatch.setattr(socket, "getaddrinfo", hanging)
    started = time_module.monotonic()
    with pytest.raises(TimeoutError, match=r"nx\.example\.com"):
        default_resolver("nx.example.com", timeout=0.05)
    assert time_module.monotonic() - started < 1

    sc = Scope.from_strings(["*.example.com"], [])
    monkeypatch.setattr(socket, "getaddrinfo", failing)
    assert evaluate(sc, "nx.example.com", now=NOW).reason == "unresolvable"


# --------------------------------------------------------------------------- catalogue hygiene


def test_catalogues_are_twins_and_cover_the_module() -> None:
    zh = {k for k in catalogue("zh-CN") if k.startswith("scope.")}
    en = {k for k in catalogue("en") if k.startswith("scope.")}
    assert zh == en
    source = Path(scope_module.__file__).read_text(encoding="utf-8")
    used = set(re.findall(r'"(scope\.[a-z_.]+[a-z_])"', source))
    used |= {
        f"scope.reason.{r}"
        for r in re.findall(r'_(?:entry|window)_error\(\s*[\w.]+,\s*"(\w+)"', source)
    }
    assert used, "expected message keys in the module"
    assert used <= zh, used - zh
    syntax = {k: v for k, v in catalogue("zh-CN").items() if k.startswith("scope.syntax.")}
    assert syntax == {k: catalogue("en")[k] for k in syntax}


def test_module_source_has_no_chinese_text() -> None:
    source = Path(scope_module.__file__).read_text(encoding="utf-8")
    assert not re.search(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]", source)
