"""Target specs → addresses (requirement B1): syntax, exclusions, order, limits, fuzzing.

No test resolves a real name: every host name goes through an injected resolver.
"""

from __future__ import annotations

import ipaddress
import itertools
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shaobing.core.errors import ValidationError
from shaobing.scan.targets import (
    DEFAULT_MAX_ADDRESSES,
    HARD_MAX_ADDRESSES,
    Target,
    expand_targets,
)


def no_dns(name: str) -> list[str]:
    raise AssertionError(f"unexpected DNS lookup of {name}")


def addresses(*specs: str, **kwargs: object) -> list[str]:
    kwargs.setdefault("resolver", no_dns)
    return list(expand_targets(list(specs), **kwargs).addresses)  # type: ignore[arg-type]


def test_literals_networks_and_ranges() -> None:
    assert addresses("10.0.0.5") == ["10.0.0.5"]
    assert addresses("[2001:db8::1]") == ["2001:db8::1"]
    assert addresses("10.0.0.0/30") == ["10.0.0.0", "10.0.0.1", "10.0.0.2", "10.0.0.3"]
    assert addresses("10.0.0.254-10.0.1.1") == ["10.0.0.254", "10.0.0.255", "10.0.1.0", "10.0.1.1"]
    assert addresses("10.0.0.1-3") == ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
    assert addresses("2001:db8::fe-2001:db8::101") == [
        "2001:db8::fe",
        "2001:db8::ff",
        "2001:db8::100",
        "2001:db8::101",
    ]
    assert addresses("2001:db8::/126")[-1] == "2001:db8::3"
    assert addresses(" 10.0.0.7 ") == ["10.0.0.7"]


def test_order_is_spec_order_and_duplicates_keep_first_spec() -> None:
    targets = expand_targets(
        ["10.0.0.9", "10.0.0.0/29", "10.0.0.3-12", "::1", "10.0.0.9"], resolver=no_dns
    )
    got = list(targets)
    assert [t.address for t in got] == [
        "10.0.0.9",
        *(f"10.0.0.{i}" for i in range(8)),
        "10.0.0.8",
        "10.0.0.10",
        "10.0.0.11",
        "10.0.0.12",
        "::1",
    ]
    assert got[0] == Target("10.0.0.9", "10.0.0.9")
    assert targets.spec_for("10.0.0.4") == "10.0.0.0/29"
    assert targets.spec_for("10.0.0.11") == "10.0.0.3-12"
    assert targets.spec_for("10.0.0.13") is None
    assert len(targets) == len(got) == 14
    assert "10.0.0.12" in targets and "10.0.0.13" not in targets and "bogus" not in targets


def test_exclusions_win_in_every_syntax() -> None:
    got = addresses(
        "10.0.0.0/28",
        exclude=["10.0.0.0", "10.0.0.4/30", "10.0.0.10-11", "10.0.0.15-10.0.0.20"],
    )
    kept = [1, 2, 3, 8, 9, 12, 13, 14]
    assert got == [f"10.0.0.{i}" for i in kept]


def test_ipv4_mapped_addresses_are_ipv4() -> None:
    targets = expand_targets(["::ffff:10.0.0.1", "10.0.0.1"], resolver=no_dns)
    assert list(targets.addresses) == ["10.0.0.1"]
    assert addresses("10.0.0.1-2", exclude=["::ffff:10.0.0.2"]) == ["10.0.0.1"]


def test_names_go_through_the_resolver_and_are_sorted() -> None:
    asked: list[str] = []

    def resolver(name: str) -> list[str]:
        asked.append(name)
        return ["10.0.0.9", "2001:db8::5", "10.0.0.2", "10.0.0.9"]

    targets = expand_targets(["WWW.Example.gov.cn."], resolver=resolver)
    assert asked == ["www.example.gov.cn"]
    assert list(targets) == [
        Target("10.0.0.2", "WWW.Example.gov.cn."),
        Target("10.0.0.9", "WWW.Example.gov.cn."),
        Target("2001:db8::5", "WWW.Example.gov.cn."),
    ]
    # An excluded name removes its addresses.
    assert addresses("10.0.0.0/30", exclude=["db.test"], resolver=lambda _n: ["10.0.0.1"]) == [
        "10.0.0.0",
        "10.0.0.2",
        "10.0.0.3",
    ]


@pytest.mark.parametrize(
    ("resolver", "needle"),
    [
        (lambda _n: (_ for _ in ()).throw(OSError("no such host")), "no such host"),
        (lambda _n: [], "没有解析出任何地址"),
        (lambda _n: ["not-an-ip"], "not-an-ip"),
    ],
)
def test_resolver_failures_are_one_clear_line(resolver: object, needle: str) -> None:
    with pytest.raises(ValidationError) as caught:
        expand_targets(["host.test"], resolver=resolver)  # type: ignore[arg-type]
    message = str(caught.value)
    assert "host.test" in message and needle in message and "\n" not in message


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ("10.0.0.5/24", "10.0.0.0/24"),
        ("10.0.0.0/33", "网段"),
        ("10.0.0.9-3", "起止颠倒"),
        ("10.0.0.1-256", "地址范围"),
        ("10.0.0.1-::1", "协议族"),
        ("10.0.0.256", "不是有效地址"),
        ("1.2.3", "不是有效地址"),
        ("2130706433", "不是有效地址"),
        ("0.0.0.0", "未指定地址"),
        ("::", "未指定地址"),
        ("fe80::1%eth0", "区域标识"),
        ("bad host!", "无法识别"),
        ("", "空条目"),
        ("x" * 5000, "无法识别"),
    ],
)
def test_bad_specs_name_the_item(spec: str, needle: str) -> None:
    with pytest.raises(ValidationError) as caught:
        expand_targets([spec], resolver=no_dns)
    message = str(caught.value)
    assert needle in message
    assert "\n" not in message and len(message) < 400
    if spec.strip() and len(spec) < 100:
        assert spec in message


def test_exclusion_errors_say_exclusion() -> None:
    with pytest.raises(ValidationError, match=r"排除项 10\.0\.0\.0/33"):
        expand_targets(["10.0.0.1"], exclude=["10.0.0.0/33"], resolver=no_dns)


def test_size_limit_and_explicit_allowance() -> None:
    with pytest.raises(ValidationError, match=r"10\.0\.0\.0/8.*2\^24.*2\^20"):
        expand_targets(["10.0.0.0/8"], resolver=no_dns)
    with pytest.raises(ValidationError, match=r"2001:db8::/64.*2\^64"):
        expand_targets(["2001:db8::/64"], resolver=no_dns, max_addresses=HARD_MAX_ADDRESSES)
    # The limit counts what is left after exclusions and duplicates.
    targets = expand_targets(
        ["10.0.0.0/11", "10.0.0.0/12"], exclude=["10.16.0.0/12"], resolver=no_dns
    )
    assert len(targets) == DEFAULT_MAX_ADDRESSES
    big = expand_targets(["10.0.0.0/8"], resolver=no_dns, max_addresses=HARD_MAX_ADDRESSES)
    assert len(big) == 2**24
    for bad in (0, HARD_MAX_ADDRESSES + 1, True, 1.5):
        with pytest.raises(ValidationError, match="上限"):
            expand_targets(["10.0.0.1"], resolver=no_dns, max_addresses=bad)  # type: ignore[arg-type]


def test_big_ranges_are_lazy() -> None:
    started = time.perf_counter()
    targets = expand_targets(["10.0.0.0/8"], max_addresses=HARD_MAX_ADDRESSES, resolver=no_dns)
    first = list(itertools.islice(targets.addresses, 3))
    assert time.perf_counter() - started < 1.0
    assert first == ["10.0.0.0", "10.0.0.1", "10.0.0.2"]
    assert targets.spec_for("10.200.3.4") == "10.0.0.0/8"
    chunks = list(itertools.islice(targets.chunks(1000), 2))
    assert [len(c) for c in chunks] == [1000, 1000] and chunks[1][0] == "10.0.3.232"


def test_nothing_left_and_wrong_container() -> None:
    with pytest.raises(ValidationError, match="没有剩下任何扫描目标"):
        expand_targets(["10.0.0.1"], exclude=["10.0.0.0/24"], resolver=no_dns)
    with pytest.raises(ValidationError, match="没有剩下任何扫描目标"):
        expand_targets([], resolver=no_dns)
    with pytest.raises(ValidationError, match="列表"):
        expand_targets("10.0.0.1", resolver=no_dns)
    with pytest.raises(ValidationError, match="不是文本"):
        expand_targets([42], resolver=no_dns)  # type: ignore[list-item]


# --------------------------------------------------------------------------- properties

_v4 = st.integers(0, 2**32 - 1).map(lambda n: str(ipaddress.IPv4Address(n)))
_small_net = st.builds(
    lambda n, prefix: str(ipaddress.IPv4Network((n >> (32 - prefix) << (32 - prefix), prefix))),
    st.integers(1, 2**32 - 1),
    st.integers(24, 32),
)
_short_range = st.builds(
    lambda a, b: f"10.1.2.{min(a, b)}-{max(a, b)}", st.integers(0, 255), st.integers(0, 255)
)
_spec = st.one_of(_v4, _small_net, _short_range)


def _model(specs: list[str], exclude: list[str]) -> list[str]:
    """A slow, obvious reference implementation of the same semantics."""

    def expand(spec: str) -> list[int]:
        if "/" in spec:
            return [int(a) for a in ipaddress.IPv4Network(spec)]
        if "-" in spec:
            first, _, last = spec.partition("-")
            base = int(ipaddress.IPv4Address(first))
            return list(range(base, (base & ~0xFF) + int(last) + 1))
        return [int(ipaddress.IPv4Address(spec))]

    banned = {value for spec in exclude for value in expand(spec)}
    seen: set[int] = set()
    out: list[str] = []
    for spec in specs:
        for value in expand(spec):
            if value not in banned and value not in seen:
                seen.add(value)
                out.append(str(ipaddress.IPv4Address(value)))
    return out


@settings(max_examples=150, deadline=None)
@given(st.lists(_spec, min_size=1, max_size=6), st.lists(_spec, max_size=4))
def test_matches_a_reference_model(specs: list[str], exclude: list[str]) -> None:
    expected = _model(specs, exclude)
    if "0.0.0.0" in specs or not expected:
        # The bare unspecified address is refused as a target; nothing left is an error.
        with pytest.raises(ValidationError):
            expand_targets(specs, exclude=exclude, resolver=no_dns)
        return
    targets = expand_targets(specs, exclude=exclude, resolver=no_dns)
    got = list(targets.addresses)
    assert got == expected
    assert len(targets) == len(got)
    for address in got[:20]:
        assert address in targets


_junk = st.one_of(
    st.text(max_size=60),
    st.text(alphabet="0123456789abcdef.:/-[]% ", max_size=50),
    st.builds(lambda a, b: f"{a}-{b}", _v4, st.text(alphabet="0123456789.:f", max_size=20)),
    st.builds(lambda a, p: f"{a}/{p}", _v4, st.integers(-3, 200)),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(_junk, min_size=1, max_size=4), st.lists(_junk, max_size=2))
def test_never_raises_anything_but_validation_error(specs: list[str], exclude: list[str]) -> None:
    def resolver(name: str) -> list[str]:
        return ["10.9.9.9"] if len(name) % 2 else []

    try:
        targets = expand_targets(specs, exclude=exclude, resolver=resolver)
    except ValidationError as exc:
        message = str(exc)
    else:
        message = ""
    if message:
        assert "\n" not in message
        return
    assert 0 < len(targets) <= DEFAULT_MAX_ADDRESSES
    for address in itertools.islice(targets.addresses, 5):
        ipaddress.ip_address(address)
