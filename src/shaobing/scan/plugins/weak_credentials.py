"""Checks ``weak-credential.*``: weak and default passwords (B3) for SSH, FTP, Telnet, HTTP
Basic, the Tomcat manager and SNMP communities, plus anonymous FTP.

Each check builds its dictionary (:mod:`shaobing.scan.credentials.dictionaries`), runs it with
the lockout-aware runner and reports one finding per valid account. Finding texts, CVSS
vectors, CWE ids and the per-check throttle defaults are data
(``scan/credentials/data/checks.yaml``).

Policy options (``ctx.options``) understood by every check:

    users / passwords            lists replacing the built-in user names / passwords
    extra_users / extra_passwords lists tried before the built-in ones
    user_file / password_file    dictionary files (replace the built-in lists)
    pair_file                    ``user:password`` lines, tried first
    words                        organisation words for the password templates
    accounts                     only these accounts (set by a retest to the finding's)
    default_pairs                false: skip the documented vendor defaults
    max_pairs                    cap on the number of pairs
    parallelism, max_attempts_per_account (null: no limit), window_seconds,
    lockout_backoff, max_duration
    paths                        HTTP paths (weak-credential.http-basic, .tomcat)
    directories                  weak-credential.ftp-anonymous-write: directories to try

Before the dictionary, a random "canary" pair is tried: a service that accepts it accepts
anything (a honeypot, an application that ignores the credentials), and its "valid" pairs
are not reported.
"""

from __future__ import annotations

import hashlib
import secrets
import string
from collections.abc import Iterator, Mapping, Sequence
from functools import cache
from importlib import resources
from typing import Any, ClassVar

import yaml
from cvss import CVSS3
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic import ValidationError as PydanticError

from shaobing.core.errors import ValidationError
from shaobing.core.i18n import t
from shaobing.findings.severity import severity_from_score
from shaobing.scan.checks import (
    Check,
    CheckContext,
    Observation,
    Safety,
    ServiceTarget,
    register_check,
)
from shaobing.scan.credentials import dictionaries
from shaobing.scan.credentials.base import Authenticator
from shaobing.scan.credentials.dictionaries import Pair
from shaobing.scan.credentials.ftp import ANONYMOUS_PASSWORD, WRITE_DIRECTORIES
from shaobing.scan.credentials.ftp import probe_anonymous_write as _probe_write
from shaobing.scan.credentials.http_basic import (
    BasicAuthenticator,
    HttpBasicAuthenticator,
    TomcatManagerAuthenticator,
)
from shaobing.scan.credentials.registry import load_authenticators
from shaobing.scan.credentials.runner import (
    DEFAULT_MAX_ATTEMPTS_PER_ACCOUNT,
    DEFAULT_WINDOW_SECONDS,
    CredentialReport,
    FoundCredential,
    run_credentials,
)
from shaobing.scan.finding_text import FindingText as SharedFindingText
from shaobing.scan.finding_text import short, text_observation

DATA_FILE = "checks.yaml"
_HTTP_SERVICES = frozenset({"http", "https", "http-alt", "http-proxy", "https-alt"})
_DETAIL_CHARS = 120
_ANONYMOUS_USERS = ("anonymous", "ftp")


# --------------------------------------------------------------------------- data


class FindingText(SharedFindingText):
    """One kind of finding in ``checks.yaml`` (evidence may use only the runner's fields)."""

    @field_validator("evidence")
    @classmethod
    def _templates(cls, value: dict[str, str]) -> dict[str, str]:
        allowed = {"user", "detail", "attempts", "elapsed", "directory", "file"}
        for template in value.values():
            names = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
            if names - allowed:
                raise ValueError(f"unknown evidence fields {sorted(names - allowed)}")
        return value


class Throttle(BaseModel):
    """A check's default per-account limit (organisation-defined)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_attempts_per_account: int | None = Field(default=DEFAULT_MAX_ATTEMPTS_PER_ACCOUNT, ge=1)
    window_seconds: float = Field(default=DEFAULT_WINDOW_SECONDS, gt=0)


class ChecksData(BaseModel):
    """The whole data file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    throttle: dict[str, Throttle] = Field(default_factory=dict)
    findings: dict[str, FindingText]


def parse_checks(text: str, source: str = DATA_FILE) -> ChecksData:
    """Validate the data file (severity must match the CVSS base score); one-line errors."""
    try:
        data = ChecksData.model_validate(yaml.safe_load(text))
        for key, finding in data.findings.items():
            score = float(CVSS3(finding.cvss).scores()[0])
            if severity_from_score(score) is not finding.severity:
                raise ValueError(f"{key}: severity {finding.severity} but CVSS {score}")
    except (yaml.YAMLError, PydanticError, ValueError) as exc:
        detail = " ".join(str(exc).split())[:300]
        raise ValidationError(t("scan_cred.checks_invalid", source=source, detail=detail)) from None
    return data


@cache
def load_checks_data() -> ChecksData:
    """The packaged ``checks.yaml`` (cached)."""
    path = resources.files("shaobing.scan.credentials").joinpath("data", DATA_FILE)
    return parse_checks(path.read_text(encoding="utf-8"))


def _text(key: str) -> FindingText:
    found = load_checks_data().findings.get(key)
    if found is None:
        raise ValidationError(t("scan_cred.check_unknown", check_id=key))
    return found


def _short(value: object) -> str:
    return short(value, _DETAIL_CHARS)


def observation(
    check_id: str,
    key: str,
    part: str,
    target: ServiceTarget,
    values: Mapping[str, object],
    *,
    identity: str | None = None,
    secret: str | None = None,
    extra: dict[str, Any] | None = None,
) -> Observation:
    """An observation from the data file's ``key``, evidence template ``part``."""
    return text_observation(
        check_id,
        _text(key),
        target,
        [(part, values)],
        identity=identity,
        secret=secret,
        extra=extra,
        limit=_DETAIL_CHARS,
    )


# --------------------------------------------------------------------------- options


def _bad(name: str, value: object, detail: str) -> ValidationError:
    return ValidationError(
        t("scan_cred.option_invalid", name=name, value=_short(repr(value)), detail=detail)
    )


class Options:
    """Typed access to a check's policy options; bad values are one-line errors."""

    def __init__(self, options: Mapping[str, Any]) -> None:
        self._raw = options

    def given(self, name: str) -> bool:
        """Whether the policy sets ``name`` at all (even to null)."""
        return name in self._raw

    def strings(self, name: str) -> list[str] | None:
        """A list of strings (numbers are accepted: YAML reads 123456 as a number)."""
        value = self._raw.get(name)
        if value is None:
            return None
        if isinstance(value, str) or not isinstance(value, Sequence):
            raise _bad(name, value, t("scan_cred.kind_list"))
        out: list[str] = []
        for item in value:
            if isinstance(item, bool) or not isinstance(item, str | int):
                raise _bad(name, value, t("scan_cred.kind_list"))
            out.append(str(item))
        return out

    def integer(self, name: str, default: int | None, *, low: int = 1) -> int | None:
        """An integer >= ``low`` (None allowed when the default is None)."""
        value = self._raw.get(name, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise _bad(name, value, f">= {low}")
        return value

    def number(self, name: str, default: float | None) -> float | None:
        """A positive number."""
        value = self._raw.get(name, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise _bad(name, value, "> 0")
        return float(value)

    def flag(self, name: str, default: bool) -> bool:
        """A boolean."""
        value = self._raw.get(name, default)
        if not isinstance(value, bool):
            raise _bad(name, value, "true / false")
        return value

    def path(self, name: str) -> str | None:
        """A file path."""
        value = self._raw.get(name)
        if value is None:
            return None
        if not isinstance(value, str) or not value:
            raise _bad(name, value, t("scan_cred.kind_path"))
        return value


# --------------------------------------------------------------------------- checks


class WeakCredentialCheck(Check):
    """Dictionary run for one protocol; subclasses name the protocol and the texts."""

    safety = Safety.ACTIVE
    protocol: ClassVar[str]
    finding_key: ClassVar[str]
    no_auth_key: ClassVar[str | None] = None
    parallelism: ClassVar[int] = 4
    canary: ClassVar[bool] = True
    excluded_users: ClassVar[frozenset[str]] = frozenset()

    def authenticator(self, options: Options) -> Authenticator:
        """The protocol's adapter (from the registry)."""
        adapter = load_authenticators().get(self.protocol)
        if adapter is None:
            raise ValidationError(t("scan_cred.adapter_missing", protocol=self.protocol))
        return adapter()

    def pairs(self, options: Options) -> list[Pair]:
        """The dictionary for this run, from the built-in lists and the policy options."""
        accounts = options.strings("accounts")
        users = accounts if accounts is not None else options.strings("users")
        passwords = options.strings("passwords")
        if (user_file := options.path("user_file")) is not None:
            users = [*(users or []), *dictionaries.load_dictionary(user_file)]
        if (password_file := options.path("password_file")) is not None:
            passwords = [*(passwords or []), *dictionaries.load_dictionary(password_file)]
        extra_pairs: list[tuple[str, str]] = []
        if (pair_file := options.path("pair_file")) is not None:
            extra_pairs = dictionaries.load_pair_file(pair_file)
        pairs = dictionaries.pairs_for(
            self.protocol,
            users=users,
            passwords=passwords,
            extra_users=options.strings("extra_users") or (),
            extra_passwords=options.strings("extra_passwords") or (),
            extra_pairs=extra_pairs,
            words=options.strings("words") or (),
            include_defaults=options.flag("default_pairs", True),
        )
        pairs = [p for p in pairs if p[0] not in self.excluded_users]
        if accounts is not None and not dictionaries.is_password_only(self.protocol):
            # A retest names the account of the finding: nobody else is tried.
            pairs = [p for p in pairs if p[0] in accounts]
        limit = options.integer("max_pairs", None)
        return pairs if limit is None else pairs[:limit]

    def limits(self, options: Options) -> dict[str, Any]:
        """Runner keyword arguments: the data file's throttle, overridden by the policy."""
        throttle = load_checks_data().throttle.get(self.id, Throttle())
        limits: dict[str, Any] = {
            "parallelism": options.integer("parallelism", self.parallelism),
            "window_seconds": options.number("window_seconds", throttle.window_seconds),
            "stop_account_on_success": not dictionaries.is_password_only(self.protocol),
        }
        if options.given("max_attempts_per_account"):  # null: no limit
            limits["max_attempts_per_account"] = options.integer("max_attempts_per_account", None)
        else:
            limits["max_attempts_per_account"] = throttle.max_attempts_per_account
        for name in ("lockout_backoff", "max_duration"):
            value = options.number(name, None)
            if value is not None:
                limits[name] = value
        return limits

    def run(self, target: ServiceTarget, ctx: CheckContext) -> Iterator[Observation]:
        """Run the dictionary and report every valid account."""
        options = Options(ctx.options)
        authenticator = self.authenticator(options)
        pairs = self.pairs(options)
        canary = self._canary() if self.canary else None
        if canary is not None:
            pairs.insert(0, canary)
        report = run_credentials(authenticator, target, ctx, pairs, **self.limits(options))
        found = report.found
        if canary is not None and any((f.username, f.password) == canary for f in found):
            return  # the service accepts anything: its "valid" pairs mean nothing
        if report.no_auth and self.no_auth_key is not None:
            yield self.no_auth_observation(target, report)
        for credential in found:
            yield self.found_observation(target, report, credential)

    def _canary(self) -> Pair:
        password = "Sb-" + secrets.token_urlsafe(12)
        if dictionaries.is_password_only(self.protocol):
            return (None, password)
        return ("sbcanary" + secrets.token_hex(4), password)

    def found_observation(
        self, target: ServiceTarget, report: CredentialReport, credential: FoundCredential
    ) -> Observation:
        """The finding for one valid pair (the password only in ``secret``)."""
        is_default = dictionaries.is_default_pair(
            self.protocol, credential.username, credential.password
        )
        return observation(
            self.id,
            self.finding_key,
            "default" if is_default else "weak",
            target,
            {
                "user": credential.username or "",
                "detail": credential.detail,
                "attempts": report.attempts,
                "elapsed": f"{report.elapsed:.1f}",
            },
            identity=credential.username,
            secret=credential.password,
            extra=self._extra(report, credential, default=is_default),
        )

    def no_auth_observation(self, target: ServiceTarget, report: CredentialReport) -> Observation:
        """The finding for a service that wants no credentials at all."""
        assert self.no_auth_key is not None
        return observation(
            self.id,
            self.no_auth_key,
            "no_auth",
            target,
            {"user": "", "detail": report.detail},
            identity="no-auth",
            extra=self._extra(report, None),
        )

    def _extra(
        self, report: CredentialReport, credential: FoundCredential | None, *, default: bool = False
    ) -> dict[str, Any]:
        extra: dict[str, Any] = {
            "protocol": self.protocol,
            "attempts": report.attempts,
            "errors": report.errors,
            "elapsed_seconds": round(report.elapsed, 3),
            "attempts_per_second": round(report.attempts_per_second, 2),
            "stop_reason": report.stop_reason.value,
        }
        if credential is not None:
            extra["default_credential"] = default
        return extra


@register_check
class SshWeakCredentials(WeakCredentialCheck):
    """SSH password logins."""

    id = "weak-credential.ssh"
    protocol = "ssh"
    services = frozenset({"ssh"})
    default_ports = frozenset({22})
    finding_key = "ssh.weak"
    no_auth_key = "ssh.no_auth"


@register_check
class FtpWeakCredentials(WeakCredentialCheck):
    """FTP logins of named accounts (anonymous access is its own check)."""

    id = "weak-credential.ftp"
    protocol = "ftp"
    services = frozenset({"ftp"})
    default_ports = frozenset({21})
    finding_key = "ftp.weak"
    excluded_users = frozenset(_ANONYMOUS_USERS)


@register_check
class FtpAnonymous(WeakCredentialCheck):
    """Anonymous FTP login (``anonymous`` and ``ftp`` with an e-mail-like password)."""

    id = "weak-credential.ftp-anonymous"
    protocol = "ftp"
    services = frozenset({"ftp"})
    default_ports = frozenset({21})
    finding_key = "ftp.anonymous"
    parallelism = 1
    canary = False

    def pairs(self, options: Options) -> list[Pair]:
        """Just the anonymous accounts."""
        return [(user, ANONYMOUS_PASSWORD) for user in _ANONYMOUS_USERS]

    def run(self, target: ServiceTarget, ctx: CheckContext) -> Iterator[Observation]:
        """One finding when either anonymous account logs in."""
        options = Options(ctx.options)
        report = run_credentials(
            self.authenticator(options), target, ctx, self.pairs(options), **self.limits(options)
        )
        if report.found:
            first = report.found[0]
            yield observation(
                self.id,
                self.finding_key,
                "anonymous",
                target,
                {"user": first.username or "anonymous", "detail": first.detail},
                identity="anonymous",
                extra=self._extra(report, None),
            )


@register_check
class FtpAnonymousWrite(Check):
    """Whether anonymous users may store files (writes a small test file, then deletes it)."""

    id = "weak-credential.ftp-anonymous-write"
    safety = Safety.INTRUSIVE
    services = frozenset({"ftp"})
    default_ports = frozenset({21})

    def run(self, target: ServiceTarget, ctx: CheckContext) -> Iterator[Observation]:
        """Store a uniquely named file in the first writable directory and remove it."""
        options = Options(ctx.options)
        directories = tuple(options.strings("directories") or WRITE_DIRECTORIES)
        try:
            probe = _probe_write(ctx, target, directories)
        except OSError:
            return
        if probe.directory is None:
            return
        yield observation(
            self.id,
            "ftp.anonymous_write",
            "removed" if probe.removed else "left",
            target,
            {"directory": probe.directory, "file": probe.file_name, "detail": probe.detail},
            identity="anonymous-write",
            extra={"file_name": probe.file_name, "removed": probe.removed},
        )


@register_check
class TelnetWeakCredentials(WeakCredentialCheck):
    """Telnet logins at login/password prompts."""

    id = "weak-credential.telnet"
    protocol = "telnet"
    services = frozenset({"telnet"})
    default_ports = frozenset({23})
    finding_key = "telnet.weak"
    no_auth_key = "telnet.no_auth"


class _HttpCheck(WeakCredentialCheck):
    services = _HTTP_SERVICES
    adapter: ClassVar[type[BasicAuthenticator]]

    def authenticator(self, options: Options) -> Authenticator:
        """The adapter for the policy's ``paths`` (else the adapter's own)."""
        return self.adapter(options.strings("paths"))


@register_check
class HttpBasicWeakCredentials(_HttpCheck):
    """HTTP Basic authentication (on ``/`` unless the policy names paths)."""

    id = "weak-credential.http-basic"
    protocol = "http"
    default_ports = frozenset({80, 443, 8000, 8080, 8443, 8888})
    finding_key = "http.weak"
    adapter = HttpBasicAuthenticator


@register_check
class TomcatManagerWeakCredentials(_HttpCheck):
    """The Tomcat manager application's Basic authentication."""

    id = "weak-credential.tomcat"
    protocol = "tomcat"
    default_ports = frozenset({8080, 8443, 80, 443})
    finding_key = "tomcat.weak"
    no_auth_key = "tomcat.no_auth"
    adapter = TomcatManagerAuthenticator


@register_check
class SnmpCommunities(WeakCredentialCheck):
    """SNMP v1/v2c community strings (UDP); every valid community is reported."""

    id = "weak-credential.snmp"
    protocol = "snmp"
    services = frozenset({"snmp"})
    default_ports = frozenset({161})
    finding_key = "snmp.community"
    # UDP guesses cost a wait each, not a connection: more in parallel is cheap.
    parallelism = 16

    def applies(self, target: ServiceTarget) -> bool:
        """UDP only."""
        return target.protocol == "udp" and super().applies(target)

    def found_observation(
        self, target: ServiceTarget, report: CredentialReport, credential: FoundCredential
    ) -> Observation:
        """One finding per community; the identity is a digest, never the community."""
        material = f"{target.key}|{credential.password}".encode()
        digest = hashlib.sha256(material).hexdigest()[:12]
        return observation(
            self.id,
            self.finding_key,
            "community",
            target,
            {"detail": credential.detail},
            identity=f"community-{digest}",
            secret=credential.password,
            extra=self._extra(report, credential),
        )


@register_check
class MysqlWeakCredentials(WeakCredentialCheck):
    """MySQL/MariaDB logins (own client protocol; empty passwords included)."""

    id = "weak-credential.mysql"
    protocol = "mysql"
    services = frozenset({"mysql", "mariadb"})
    default_ports = frozenset({3306})
    finding_key = "mysql.weak"


@register_check
class PostgresWeakCredentials(WeakCredentialCheck):
    """PostgreSQL logins (md5 / SCRAM-SHA-256); trust authentication is its own finding."""

    id = "weak-credential.postgresql"
    protocol = "postgresql"
    services = frozenset({"postgresql"})
    default_ports = frozenset({5432})
    finding_key = "postgresql.weak"
    no_auth_key = "postgresql.no_auth"


@register_check
class RedisWeakCredentials(WeakCredentialCheck):
    """Redis ``AUTH`` passwords; a Redis without any password is reported by
    ``unauth.redis``, so no-auth here yields nothing."""

    id = "weak-credential.redis"
    protocol = "redis"
    services = frozenset({"redis"})
    default_ports = frozenset({6379})
    finding_key = "redis.weak"


@register_check
class MongoWeakCredentials(WeakCredentialCheck):
    """MongoDB SCRAM logins; open (no-auth) servers are reported by ``unauth.mongodb``."""

    id = "weak-credential.mongodb"
    protocol = "mongodb"
    services = frozenset({"mongodb"})
    default_ports = frozenset({27017})
    finding_key = "mongodb.weak"
