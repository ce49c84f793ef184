"""The rule format (C1): YAML validated by these models when a profile is loaded.

The format is documented for rule authors in ``docs/baseline-rules.md``. A rule has an id,
Chinese texts, a severity, applicability, a check built from typed probes combined with
``all``/``any``/``none``/``not``, a remediation (config edits and commands), a rollback and
references (GB/T 22239-2019 Level 3 clause, CIS id).
"""

from __future__ import annotations

import re
from typing import Annotated, Literal
from xml.etree.ElementTree import Element

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Op = Literal["==", "!=", "<", "<=", ">", ">=", "in", "not_in", "matches", "not_matches"]
Missing = Literal["pass", "fail", "na"]
Syntax = Literal["space", "equals", "colon", "ini", "nginx", "apache"]
RULE_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]{2,80}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _regex(value: str | None) -> str | None:
    if value is not None:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"正则表达式无效 {value!r}: {exc}") from exc
    return value


class Compare(_Strict):
    """A comparison of a found value: numbers compare numerically, versions as versions."""

    op: Op
    value: str | int | float | list[str | int | float]
    #: compare as: number (default when both sides are numeric), text, version
    as_: Literal["auto", "number", "text", "version", "octal"] = Field("auto", alias="as")
    ignore_case: bool = True

    @model_validator(mode="after")
    def _list_ops(self) -> Compare:
        if self.op in {"in", "not_in"} and not isinstance(self.value, list):
            raise ValueError("in/not_in 需要列表值")
        if self.op in {"matches", "not_matches"}:
            _regex(str(self.value))
        return self


class _Probe(_Strict):
    #: what the probe expects, in the rule author's words (shown as "expected" when given)
    describe: str | None = None


class FileProbe(_Probe):
    """Lines of files matching a regex; optionally a captured value compared."""

    type: Literal["file"]
    path: str | list[str]
    match: str
    expect: Literal["present", "absent"] = "present"
    group: int | str | None = None
    compare: Compare | None = None
    #: every file must satisfy (all) or one is enough (any)
    files: Literal["any", "all"] = "any"
    missing: Missing = "fail"
    comments: str = "#"
    ignore_case: bool = False

    _v = field_validator("match")(_regex)


class SettingProbe(_Probe):
    """A key in a configuration file (with includes), its effective value compared."""

    type: Literal["setting"]
    path: str | list[str]
    syntax: Syntax = "space"
    key: str
    section: str | None = None
    #: directive whose arguments name more files to read (sshd "Include", my.cnf "!includedir")
    include: str | None = None
    pick: Literal["first", "last", "all", "any"] = "first"
    ignore_case_key: bool = True
    expect: Literal["present", "absent"] = "present"
    compare: Compare | None = None
    #: value assumed when the key is not set (the program's built-in default)
    default: str | None = None
    missing: Missing = "fail"


class ModeProbe(_Probe):
    """Permission bits and ownership of paths."""

    type: Literal["mode"]
    path: str | list[str]
    max: str | None = None
    #: bits that must be set (e.g. "1000": the sticky bit of /tmp)
    min: str | None = None
    owner: str | list[str] | None = None
    group: str | list[str] | None = None
    missing: Missing = "na"

    @field_validator("max", "min")
    @classmethod
    def _octal(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"0?[0-7]{3,4}", value):
            raise ValueError(f"权限须为八进制，如 0644：{value}")
        return value


class CommandProbe(_Probe):
    """Output of a read-only command on a live host."""

    type: Literal["command"]
    run: str
    match: str | None = None
    expect: Literal["present", "absent"] = "present"
    group: int | str | None = None
    compare: Compare | None = None
    rc: int | None = None
    #: status when the target cannot run commands (offline tree) or the command is missing
    offline: Literal["na", "error"] = "na"

    _v = field_validator("match")(_regex)


class SysctlProbe(_Probe):
    """A kernel parameter: runtime value on live hosts, configured value in offline trees."""

    type: Literal["sysctl"]
    key: str
    compare: Compare
    default: str | None = None


class ServiceProbe(_Probe):
    """State of systemd units (or SysV scripts)."""

    type: Literal["service"]
    unit: str | list[str]
    expect: Literal["enabled", "disabled", "active", "inactive", "present", "absent"]


class PortProbe(_Probe):
    """Listening sockets from /proc/net (live hosts only)."""

    type: Literal["port"]
    ports: list[int]
    proto: Literal["tcp", "udp"] = "tcp"
    expect: Literal["closed", "loopback", "open"] = "closed"


class PackageProbe(_Probe):
    """Installed packages (dpkg status database; rpm on RHEL-family live hosts)."""

    type: Literal["package"]
    name: str | list[str]
    expect: Literal["installed", "absent"] = "installed"
    compare: Compare | None = None


class AccountsProbe(_Probe):
    """Properties of local accounts from /etc/passwd, /etc/shadow and /etc/group."""

    type: Literal["accounts"]
    select: Literal[
        "uid0",
        "duplicate_uid",
        "duplicate_gid",
        "duplicate_name",
        "empty_password",
        "named",
        "login_shell",
        "system_login_shell",
        "max_days_over",
        "group_members",
    ]
    names: list[str] = []
    #: accounts that are always allowed (root for uid0, ...)
    allow: list[str] = []
    #: a number for max_days_over (days)
    limit: int | None = None
    expect: Literal["none", "some"] = "none"


class SqlProbe(_Probe):
    """A read-only query through the database connection (Redis: a command line)."""

    type: Literal["sql"]
    engine: Literal["mysql", "postgresql", "redis"]
    query: str
    expect: Literal["rows", "no_rows", "value"] = "value"
    column: str | None = None
    compare: Compare | None = None
    #: every row must satisfy the comparison (all) or one is enough (any)
    rows: Literal["any", "all"] = "all"

    @model_validator(mode="after")
    def _value_needs(self) -> SqlProbe:
        if self.expect == "value" and self.compare is None:
            raise ValueError("expect: value 需要 compare")
        return self


class HttpProbe(_Probe):
    """An HTTP response of the service under test (base URL from the variable ``http_url``)."""

    type: Literal["http"]
    path: str = "/"
    method: Literal["GET", "HEAD", "OPTIONS", "TRACE"] = "GET"
    header: str | None = None
    match: str | None = None
    expect: Literal["present", "absent"] = "present"
    status: Compare | None = None

    _v = field_validator("match")(_regex)


class XmlProbe(_Probe):
    """Elements or attributes of an XML configuration file (Tomcat's server.xml, web.xml)."""

    type: Literal["xml"]
    path: str | list[str]
    #: ElementTree path, e.g. ``.//Connector`` (namespaces ignored)
    find: str
    attribute: str | None = None
    expect: Literal["present", "absent", "value"] = "present"
    compare: Compare | None = None
    rows: Literal["any", "all"] = "all"
    missing: Missing = "na"

    @field_validator("find")
    @classmethod
    def _path(cls, value: str) -> str:
        # ElementTree compiles the path before looking at any element: a broken one is
        # refused at load instead of failing every run (it raises TypeError, not SyntaxError)
        try:
            Element("x").findall(value)
        except (SyntaxError, TypeError, KeyError, ValueError) as exc:
            raise ValueError(f"XML 路径无效 {value!r}: {exc}") from exc
        return value


Probe = Annotated[
    FileProbe
    | SettingProbe
    | ModeProbe
    | CommandProbe
    | SysctlProbe
    | ServiceProbe
    | PortProbe
    | PackageProbe
    | AccountsProbe
    | SqlProbe
    | HttpProbe
    | XmlProbe,
    Field(discriminator="type"),
]


class AllOf(_Strict):
    """Every part must pass."""

    all: list[Check]


class AnyOf(_Strict):
    """At least one part must pass."""

    any: list[Check]


class NoneOf(_Strict):
    """No part may pass."""

    none: list[Check]


class NotOf(_Strict):
    """The part must not pass."""

    not_: Check = Field(alias="not")


Check = AllOf | AnyOf | NoneOf | NotOf | Probe


class Applicability(_Strict):
    """When a rule applies: OS family/id and conditions (unmet → 不适用)."""

    os: list[str] = []
    when: Check | None = None
    #: why it does not apply, shown when ``when`` fails
    reason: str | None = None


class Edit(_Strict):
    """One change to one file; every file touched is backed up first."""

    file: str
    #: set a key to a value in the file's syntax (replacing active or commented lines)
    set: dict[str, str | int | float] | None = None
    syntax: Syntax = "space"
    #: ensure this exact line is present, replacing lines that match ``replace``
    line: str | None = None
    replace: str | None = None
    #: insert new lines before the first line matching this (sshd: before ``Match`` blocks)
    before: str | None = None
    #: comment out lines matching this regex
    comment_out: str | None = None
    mode: str | None = None
    owner: str | None = None
    group: str | None = None
    #: create the file when it does not exist
    create: bool = True

    _v = field_validator("replace", "before", "comment_out")(_regex)


class Remediation(_Strict):
    """How to fix a failing rule: text for people, edits and commands for ``harden``."""

    text: str
    edits: list[Edit] = []
    commands: list[str] = []
    #: guard rails checked before applying (see hardening.GUARDS)
    guards: list[str] = []
    #: whether a service must be reloaded for the change to take effect
    reload: list[str] = []
    #: files the commands may change (globs allowed), backed up before they run; the files
    #: the rule's check read are backed up as well
    backup: list[str] = []


class Rollback(_Strict):
    """How to undo the remediation beyond restoring backed-up files."""

    text: str = ""
    commands: list[str] = []


class References(_Strict):
    """Where the rule comes from: GB/T 22239-2019 Level 3 clauses, CIS ids, others."""

    model_config = ConfigDict(extra="allow", frozen=True)

    gb22239: list[str]
    #: the control point name, e.g. 身份鉴别
    control: str
    cis: list[str] = []


class Rule(_Strict):
    """One baseline rule."""

    id: str
    title: str
    description: str
    rationale: str
    severity: Literal["严重", "高", "中", "低", "信息"]
    applies: Applicability = Applicability()
    check: Check
    expected: str
    remediation: Remediation
    rollback: Rollback = Rollback()
    references: References
    tags: list[str] = []

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not RULE_ID.match(value):
            raise ValueError(f"规则编号只能用小写字母、数字和 ._-：{value}")
        return value


class Profile(_Strict):
    """A named set of rules (one YAML file or several with the same profile id)."""

    id: str
    title: str
    description: str = ""
    #: target kind: host (file/command probes), or a database engine for DSN targets
    target: Literal["host", "mysql", "postgresql", "redis", "web"] = "host"
    applies: Applicability = Applicability()
    variables: dict[str, str | int | list[str]] = {}
    rules: list[Rule]


for _model in (AllOf, AnyOf, NoneOf, NotOf, Applicability):
    _model.model_rebuild()
