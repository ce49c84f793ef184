"""Password rules: one-line Chinese refusals, the common list, overrides, and a property."""

from __future__ import annotations

import string
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shaobing.auth.policy import (
    PasswordRules,
    character_classes,
    check_password,
    common_passwords,
    load_config,
    password_age,
    password_problem,
)
from shaobing.core.errors import ValidationError

RULES = load_config(None).password


@pytest.mark.parametrize(
    ("password", "fragment"),
    [
        ("Ab1!", "密码过短：至少需要 10 个字符"),
        ("Ab1!" * 40, "密码过长：最多 128 个字符"),
        ("abcdefghijkl", "至少 3 类（当前 1 类）"),
        ("abcdefgh1234", "至少 3 类（当前 2 类）"),
        ("ABCDEFGH!!!!", "至少 3 类（当前 2 类）"),
        ("xAlice-2046x", "密码不得包含用户名 alice"),
        ("P@ssw0rd123", "密码属于常见弱口令"),
        ("p@SSW0RD123", "密码属于常见弱口令"),
    ],
)
def test_refusals_are_one_chinese_line(password: str, fragment: str) -> None:
    with pytest.raises(ValidationError) as info:
        check_password(password, "alice", RULES)
    message = info.value.message
    assert fragment in message
    assert "\n" not in message
    assert password not in message  # the refused password is never echoed


def test_acceptable_password_passes() -> None:
    check_password("Tiger#Lamp2046", "alice", RULES)
    check_password("tiger lamp 2046 窗", "alice", RULES)  # lower, digit, other


def test_defaults_are_the_organisation_defined_figures() -> None:
    config = load_config(None)
    assert (RULES.min_length, RULES.min_classes, RULES.max_age_days, RULES.history) == (
        10,
        3,
        90,
        5,
    )
    assert (config.lockout.max_failures, config.lockout.window_minutes) == (5, 15)
    assert config.lockout.lock_minutes == 30
    assert (config.session.idle_minutes, config.session.absolute_hours) == (30, 12)


def test_every_common_password_would_otherwise_pass() -> None:
    """The list only holds entries the other rules miss; anything else is dead weight."""
    entries = _original_common()
    assert len(entries) >= 30
    for entry in entries:
        assert len(entry) >= RULES.min_length, entry
        assert character_classes(entry) >= RULES.min_classes, entry
        assert password_problem(entry, "nobody", RULES) == "密码属于常见弱口令，请换一个"


def _original_common() -> list[str]:
    from importlib import resources

    text = resources.files("shaobing.auth").joinpath("common_passwords.txt").read_text("utf-8")
    return [x.strip() for x in text.splitlines() if x.strip() and not x.startswith("#")]


def test_password_age_expires_after_max_age() -> None:
    from datetime import UTC, datetime, timedelta

    changed = datetime(2026, 1, 1, tzinfo=UTC)
    assert not password_age(changed, changed + timedelta(days=89, hours=23), RULES).expired
    assert password_age(changed, changed + timedelta(days=90), RULES).expired


def test_override_file_changes_only_what_it_names(tmp_path: Path) -> None:
    path = tmp_path / "auth.yaml"
    path.write_text("password:\n  min_length: 12\nlockout:\n  lock_minutes: 60\n", "utf-8")
    config = load_config(path)
    assert config.password.min_length == 12
    assert config.password.min_classes == 3
    assert config.lockout.lock_minutes == 60
    assert config.lockout.max_failures == 5
    with pytest.raises(ValidationError, match="密码过短：至少需要 12 个字符"):
        check_password("Tiger#Lamp1", "alice", config.password)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("password:\n  min_length: 4\n", "password.min_length"),
        ("password:\n  min_lenght: 12\n", "password.min_lenght"),
        ("lockout: [1, 2]\n", "lockout"),
        ("session: {idle_minutes: &a 5, absolute_hours: *a}\n", "anchors and aliases"),
        ("password: {min_length: 12\n", "账号安全策略文件"),
        ("- a\n- b\n", "账号安全策略文件"),
    ],
)
def test_bad_override_is_one_line_naming_the_field(
    tmp_path: Path, text: str, fragment: str
) -> None:
    path = tmp_path / "auth.yaml"
    path.write_text(text, "utf-8")
    with pytest.raises(ValidationError) as info:
        load_config(path)
    assert fragment in info.value.message
    assert str(path) in info.value.message
    assert "\n" not in info.value.message


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400))
def test_override_loader_never_crashes(tmp_path_factory: pytest.TempPathFactory, text: str) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "auth.yaml"
    path.write_text(text, "utf-8")
    try:
        load_config(path)
    except ValidationError as exc:
        message = exc.message
    else:
        return
    assert "\n" not in message


_UPPER = st.sampled_from(string.ascii_uppercase)
_LOWER = st.sampled_from(string.ascii_lowercase)
_DIGIT = st.sampled_from(string.digits)
_OTHER = st.sampled_from("!@#$%^&*()-_ 中文哨兵")
_CHARS = st.one_of(_UPPER, _LOWER, _DIGIT, _OTHER, st.characters())


@settings(max_examples=500, deadline=None)
@given(
    password=st.lists(_CHARS, min_size=0, max_size=140).map("".join),
    username=st.sampled_from(["alice", "bob", "admin", "ops.zhang", "ops"]),
    min_length=st.integers(8, 20),
    min_classes=st.integers(2, 4),
)
def test_accepted_password_satisfies_every_rule(
    password: str, username: str, min_length: int, min_classes: int
) -> None:
    """Property: whatever the policy accepts meets each rule, checked independently here."""
    rules = PasswordRules(
        min_length=min_length, max_length=128, min_classes=min_classes, max_age_days=90, history=5
    )
    if password_problem(password, username, rules) is not None:
        return
    assert min_length <= len(password) <= 128
    classes = [
        any(c.isascii() and c.isupper() for c in password),
        any(c.isascii() and c.islower() for c in password),
        any(c.isascii() and c.isdigit() for c in password),
        any(not (c.isascii() and c.isalnum()) for c in password),
    ]
    assert sum(classes) >= min_classes
    assert username.lower() not in password.lower()
    assert password.lower() not in {p.lower() for p in _original_common()}


@settings(max_examples=300, deadline=None)
@given(
    core=st.tuples(_UPPER, _LOWER, _DIGIT, _OTHER).map("".join),
    tail=st.lists(st.one_of(_UPPER, _LOWER, _DIGIT, _OTHER), min_size=6, max_size=60).map("".join),
)
def test_strong_enough_passwords_are_accepted(core: str, tail: str) -> None:
    """The converse: a long password with all four classes and no banned content passes."""
    password = core + tail
    if "alice" in password.lower() or password.lower() in common_passwords():
        return
    assert password_problem(password, "alice", RULES) is None
