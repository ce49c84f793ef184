"""The account security policy: password rules, lockout and session limits (J2).

GB/T 22239-2019 8.1.4.1 a) asks that users be identified and authenticated, with passwords
complex enough and changed periodically; 8.1.4.1 b) asks for handling of failed logins
(limited attempts, ending sessions, automatic logout). The standard sets no figures: the
defaults here (in ``defaults.yaml``) are organisation-defined and an organisation can change
them in ``$SHAOBING_HOME/auth.yaml``.
"""

from __future__ import annotations

import string
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticError

from shaobing.auth.passwords import Hasher
from shaobing.core.datafile import NoAliasLoader, read_text
from shaobing.core.errors import ValidationError, error_location
from shaobing.core.i18n import t
from shaobing.core.models import utcnow
from shaobing.core.settings import get_settings

OVERRIDE_FILE = "auth.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PasswordRules(_Strict):
    """Complexity, age and reuse rules of passwords."""

    # Lower bounds keep an override from disabling a rule altogether.
    min_length: int = Field(ge=8, le=64)
    max_length: int = Field(ge=16, le=1024)
    min_classes: int = Field(ge=2, le=4)
    max_age_days: int = Field(ge=1, le=3650)
    history: int = Field(ge=1, le=24)


class LockoutRules(_Strict):
    """How many failures in which window lock an account, and for how long."""

    max_failures: int = Field(ge=1, le=100)
    window_minutes: int = Field(ge=1, le=24 * 60)
    lock_minutes: int = Field(ge=1, le=7 * 24 * 60)


class SessionRules(_Strict):
    """Idle and absolute lifetimes of a login session."""

    idle_minutes: int = Field(ge=1, le=24 * 60)
    absolute_hours: int = Field(ge=1, le=7 * 24)


class AuthConfig(_Strict):
    """The whole account security policy."""

    password: PasswordRules
    lockout: LockoutRules
    session: SessionRules

    @property
    def lock_duration(self) -> timedelta:
        """How long an automatic lock lasts."""
        return timedelta(minutes=self.lockout.lock_minutes)

    @property
    def failure_window(self) -> timedelta:
        """The sliding window in which failures are counted."""
        return timedelta(minutes=self.lockout.window_minutes)

    @property
    def max_password_age(self) -> timedelta:
        """Age after which a password must be changed."""
        return timedelta(days=self.password.max_age_days)


def _defaults() -> dict[str, Any]:
    text = resources.files("shaobing.auth").joinpath("defaults.yaml").read_text(encoding="utf-8")
    data: dict[str, Any] = yaml.load(text, Loader=NoAliasLoader)  # noqa: S506 - a SafeLoader
    return data


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_config(override: Path | None = None) -> AuthConfig:
    """The packaged defaults, with the organisation's override file (if present) applied."""
    data = _defaults()
    label = t("auth.config_label")
    source = "defaults.yaml"
    if override is not None and override.is_file():
        source = str(override)
        text = read_text(override, label=label)
        try:
            extra = yaml.load(text, Loader=NoAliasLoader)  # noqa: S506 - a SafeLoader
        except (yaml.YAMLError, RecursionError) as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ValidationError(
                t("common.datafile.bad_yaml", label=label, source=source, detail=first)
            ) from None
        if extra is not None and not isinstance(extra, dict):
            raise ValidationError(
                t(
                    "common.datafile.bad_field",
                    label=label,
                    source=source,
                    field="-",
                    detail=t("auth.config_not_mapping"),
                )
            )
        data = _merge(data, extra or {})
    try:
        return AuthConfig.model_validate(data)
    except PydanticError as exc:
        error = exc.errors()[0]
        raise ValidationError(
            t(
                "common.datafile.bad_field",
                label=label,
                source=source,
                field=error_location(error.get("loc", ())),
                detail=error.get("msg", ""),
            )
        ) from None


def current_config() -> AuthConfig:
    """The policy in force: defaults plus ``$SHAOBING_HOME/auth.yaml``."""
    return load_config(get_settings().home / OVERRIDE_FILE)


@cache
def common_passwords() -> frozenset[str]:
    """The packaged list of common passwords, lower-cased."""
    text = (
        resources.files("shaobing.auth")
        .joinpath("common_passwords.txt")
        .read_text(encoding="utf-8")
    )
    return frozenset(
        line.strip().lower()
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    )


def character_classes(password: str) -> int:
    """How many of the four classes (upper, lower, digit, other) the password uses.

    Only ASCII letters and digits count as such; anything else (punctuation, spaces,
    Chinese characters) is "other", so the count never depends on the locale.
    """
    upper = any(c in string.ascii_uppercase for c in password)
    lower = any(c in string.ascii_lowercase for c in password)
    digit = any(c in string.digits for c in password)
    other = any(c not in string.ascii_letters + string.digits for c in password)
    return sum((upper, lower, digit, other))


def password_problem(password: str, username: str, rules: PasswordRules) -> str | None:
    """The first rule ``password`` breaks, as a one-line Chinese message; None when it passes.

    Reuse of a recent password is checked by the service (it needs the stored hashes).
    """
    if len(password) < rules.min_length:
        return t("auth.policy.too_short", min=rules.min_length)
    if len(password) > rules.max_length:
        return t("auth.policy.too_long", max=rules.max_length)
    have = character_classes(password)
    if have < rules.min_classes:
        return t("auth.policy.classes", need=rules.min_classes, have=have)
    if username and username.lower() in password.lower():
        return t("auth.policy.contains_username", username=username)
    if password.lower() in common_passwords():
        return t("auth.policy.common")
    return None


def check_password(password: str, username: str, rules: PasswordRules) -> None:
    """Raise a one-line ValidationError when ``password`` breaks a content rule."""
    problem = password_problem(password, username, rules)
    if problem is not None:
        raise ValidationError(problem)


@dataclass(frozen=True)
class PasswordAge:
    """Whether a password must be changed, and why."""

    expired: bool
    changed_at: datetime
    expires_at: datetime


def password_age(changed_at: datetime, now: datetime, rules: PasswordRules) -> PasswordAge:
    """Whether a password changed at ``changed_at`` is past its maximum age at ``now``."""
    expires_at = changed_at + timedelta(days=rules.max_age_days)
    return PasswordAge(now >= expires_at, changed_at, expires_at)


Clock = Callable[[], datetime]


@cache
def default_hasher() -> Hasher:
    """The process-wide hasher with the default Argon2id parameters."""
    return Hasher()


@dataclass(frozen=True)
class AuthContext:
    """What the account services depend on: the policy, the hasher and the clock.

    Injected so that tests can move time (lockout, expiry) and the web layer can share one.
    """

    config: AuthConfig = field(default_factory=current_config)
    hasher: Hasher = field(default_factory=default_hasher)
    clock: Clock = utcnow

    def now(self) -> datetime:
        """The current time (timezone-aware UTC)."""
        return self.clock()
