"""Probe evaluation: each probe type reads the target and says pass/fail/na/error.

A probe never raises for what it finds on the target: missing files, unreadable output and
unavailable collectors become statuses with an observed text that says what happened.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from xml.etree.ElementTree import Element

from defusedxml import ElementTree as SafeET  # type: ignore[import-untyped, unused-ignore]

from shaobing.baseline.collectors.base import CollectorUnavailable, HostCollector
from shaobing.baseline.collectors.database import DatabaseCollector
from shaobing.baseline.compare import describe, matches
from shaobing.baseline.configparse import (
    Entry,
    parse_apache,
    parse_equals,
    parse_ini,
    parse_nginx,
    parse_space,
)
from shaobing.baseline.model import (
    AccountsProbe,
    CommandProbe,
    FileProbe,
    HttpProbe,
    ModeProbe,
    PackageProbe,
    PortProbe,
    ServiceProbe,
    SettingProbe,
    SqlProbe,
    SysctlProbe,
    XmlProbe,
)
from shaobing.baseline.results import Status
from shaobing.baseline.system import (
    OsInfo,
    accounts_table,
    listening_sockets,
    package_versions,
    service_state,
    sysctl_value,
)
from shaobing.core.i18n import t

# Account selections that need /etc/shadow (password state, expiry)
SHADOW_SELECTS = {"empty_password", "login_shell", "system_login_shell", "max_days_over"}
# Lines quoted in an observed text; more are summarised as a count.
MAX_QUOTED = 5
# Longest observed text kept per probe (organisation-defined default).
MAX_OBSERVED = 2000


@dataclass
class Outcome:
    """What one probe (or combination) concluded."""

    status: Status
    observed: str
    expected: str = ""
    paths: list[str] = field(default_factory=list)


HttpFetch = Callable[[str, str], Awaitable[tuple[int, dict[str, str], str]]]


@dataclass
class Context:
    """Everything probes may read for one target."""

    host: HostCollector | None
    db: DatabaseCollector | None = None
    os: OsInfo | None = None
    http: HttpFetch | None = None
    http_url: str | None = None
    cache: dict[str, Any] = field(default_factory=dict)


def _paths(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _quote(lines: list[str]) -> str:
    shown = lines[:MAX_QUOTED]
    text = "；".join(shown)
    if len(lines) > MAX_QUOTED:
        text += t("baseline.observed.more", count=len(lines) - MAX_QUOTED)
    return text[:MAX_OBSERVED]


def _group(match: re.Match[str], group: int | str | None) -> str:
    if group is None:
        return match.group(0)
    value = match.group(group)
    return "" if value is None else value


def _unreadable(paths: list[str]) -> Outcome:
    """Files that exist but this login cannot read: undecided, not "missing"."""
    return Outcome(
        Status.ERROR, t("baseline.observed.unreadable", path="、".join(paths)), paths=paths
    )


def _no_host() -> Outcome:
    return Outcome(Status.NA, t("baseline.observed.no_host"))


async def file_probe(probe: FileProbe, ctx: Context) -> Outcome:
    """Regex over the lines of files."""
    if ctx.host is None:
        return _no_host()
    files = await ctx.host.expand(_paths(probe.path))
    flags = re.IGNORECASE if probe.ignore_case else 0
    pattern = re.compile(probe.match, flags)
    hits: list[str] = []
    good: list[str] = []
    bad: list[str] = []
    existing: list[str] = []
    per_file_ok: list[bool] = []
    unreadable: list[str] = []
    for path in files:
        text = await ctx.host.text(path)
        if text is None:
            info = await ctx.host.stat(path)
            if info is not None and info.kind == "file":
                unreadable.append(path)
            continue
        existing.append(path)
        file_hit = False
        for number, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if probe.comments and line.startswith(probe.comments):
                continue
            found = pattern.search(raw)
            if not found:
                continue
            quoted = f"{path}:{number}: {line}"
            hits.append(quoted)
            if probe.compare is not None:
                if matches(_group(found, probe.group), probe.compare):
                    good.append(quoted)
                    file_hit = True
                else:
                    bad.append(quoted)
            else:
                file_hit = True
        per_file_ok.append(file_hit)
    if not existing and unreadable:
        return _unreadable(unreadable)
    if not existing:
        return Outcome(
            Status(probe.missing),
            t("baseline.observed.no_file", path="、".join(files) or "、".join(_paths(probe.path))),
            paths=files,
        )
    if probe.expect == "absent":
        if hits:
            return Outcome(Status.FAIL, _quote(hits), paths=existing)
        return Outcome(Status.PASS, t("baseline.observed.no_line"), paths=existing)
    ok = all(per_file_ok) if probe.files == "all" else any(per_file_ok)
    if ok:
        return Outcome(Status.PASS, _quote(good or hits), paths=existing)
    if bad:
        return Outcome(Status.FAIL, _quote(bad), paths=existing)
    return Outcome(
        Status.FAIL, t("baseline.observed.no_line_in", path="、".join(existing)), paths=existing
    )


async def _entries(probe: SettingProbe, ctx: Context) -> tuple[list[Entry], list[str], list[str]]:
    assert ctx.host is not None
    host = ctx.host
    roots = await host.expand(_paths(probe.path))
    readable = [p for p in roots if await host.text(p) is not None]
    blocked = [p for p in roots if p not in readable and await host.stat(p) is not None]
    roots = readable
    read = host.text
    glob = host.glob
    if probe.syntax == "space":
        entries = await parse_space(roots, read, glob, probe.include)
    elif probe.syntax == "colon":
        entries = await parse_space(roots, read, glob, probe.include, sep=":")
    elif probe.syntax == "equals":
        entries = await parse_equals(roots, read, glob, probe.include)
    elif probe.syntax == "ini":
        entries = await parse_ini(roots, read, glob)
    elif probe.syntax == "nginx":
        entries = await parse_nginx(roots, read, glob)
    else:
        entries = await parse_apache(roots, read, glob)
    return entries, roots, blocked


def _key_matches(entry: Entry, probe: SettingProbe) -> bool:
    key = probe.key.replace("-", "_") if probe.syntax == "ini" else probe.key
    same = entry.key.lower() == key.lower() if probe.ignore_case_key else entry.key == key
    if not same:
        return False
    if probe.section is None:
        return True
    if probe.section.startswith("^"):
        # a regular expression over the whole block path ("http", "http > server", ...)
        return re.search(probe.section, entry.section, re.IGNORECASE) is not None
    wanted = [s.strip().lower() for s in probe.section.split("|")]
    if probe.syntax == "ini":
        return entry.section in wanted
    parts = [p.strip().lower() for p in entry.section.split(">") if p.strip()]
    return any(w in parts or any(p.split(" ")[0] == w for p in parts) for w in wanted)


async def setting_probe(probe: SettingProbe, ctx: Context) -> Outcome:
    """A key's effective value in a configuration file."""
    if ctx.host is None:
        return _no_host()
    entries, roots, blocked = await _entries(probe, ctx)
    paths = sorted({e.file for e in entries} | set(roots))
    if not roots and blocked:
        return _unreadable(blocked)
    if not roots:
        return Outcome(
            Status(probe.missing),
            t("baseline.observed.no_file", path="、".join(_paths(probe.path))),
            paths=paths,
        )
    found = [e for e in entries if _key_matches(e, probe)]
    if probe.expect == "absent":
        if found:
            return Outcome(Status.FAIL, _quote([e.where() for e in found]), paths=paths)
        return Outcome(Status.PASS, t("baseline.observed.not_set", key=probe.key), paths=paths)
    if not found:
        if probe.default is None:
            return Outcome(
                Status(probe.missing), t("baseline.observed.not_set", key=probe.key), paths=paths
            )
        note = t("baseline.observed.default", key=probe.key, value=probe.default)
        if probe.compare is None or matches(probe.default, probe.compare):
            return Outcome(Status.PASS, note, paths=paths)
        return Outcome(Status.FAIL, note, paths=paths)
    if probe.compare is None:
        return Outcome(Status.PASS, _quote([e.where() for e in found]), paths=paths)
    chosen = {"first": found[:1], "last": found[-1:]}.get(probe.pick, found)
    verdicts = [(e, matches(e.value, probe.compare)) for e in chosen]
    ok = any(v for _, v in verdicts) if probe.pick == "any" else all(v for _, v in verdicts)
    shown = [e.where() for e, v in verdicts if v == ok] or [e.where() for e, _ in verdicts]
    return Outcome(Status.PASS if ok else Status.FAIL, _quote(shown), paths=paths)


def _allowed(name: str, wanted: str | list[str] | None) -> bool:
    if wanted is None:
        return True
    return name in ([wanted] if isinstance(wanted, str) else wanted)


async def mode_probe(probe: ModeProbe, ctx: Context) -> Outcome:
    """Permission bits and owner of paths."""
    if ctx.host is None:
        return _no_host()
    files = await ctx.host.expand(_paths(probe.path))
    limit = int(probe.max, 8) if probe.max else None
    floor = int(probe.min, 8) if probe.min else 0
    good: list[str] = []
    bad: list[str] = []
    for path in files:
        info = await ctx.host.stat(path)
        if info is None:
            continue
        user, group = await ctx.host.owner_names(info)
        text = f"{path} {info.mode:04o} {user}:{group}"
        ok = (
            (limit is None or info.mode & ~limit & 0o7777 == 0)
            and info.mode & floor == floor
            and (_allowed(user, probe.owner) and _allowed(group, probe.group))
        )
        (good if ok else bad).append(text)
    if not good and not bad:
        missing = "、".join(files) or "、".join(_paths(probe.path))
        return Outcome(Status(probe.missing), t("baseline.observed.no_file", path=missing))
    if bad:
        return Outcome(Status.FAIL, _quote(bad), paths=files)
    return Outcome(Status.PASS, _quote(good), paths=files)


async def command_probe(probe: CommandProbe, ctx: Context) -> Outcome:
    """Output of a command on a live host."""
    if ctx.host is None:
        return _no_host()
    if not ctx.host.live:
        return Outcome(
            Status(probe.offline), t("baseline.observed.offline_command", command=probe.run)
        )
    try:
        result = await ctx.host.run(probe.run)
    except CollectorUnavailable as exc:
        return Outcome(
            Status(probe.offline),
            t("baseline.observed.command_failed", command=probe.run, reason=exc.reason),
        )
    if result.rc == 127:
        return Outcome(
            Status(probe.offline), t("baseline.observed.command_missing", command=probe.run)
        )
    if probe.rc is not None and result.rc != probe.rc and probe.match is None:
        return Outcome(Status.FAIL, t("baseline.observed.rc", command=probe.run, rc=result.rc))
    if probe.match is None:
        ok = probe.rc is None or result.rc == probe.rc
        shown = result.stdout.strip().splitlines()[:MAX_QUOTED] or [
            t("baseline.observed.rc", command=probe.run, rc=result.rc)
        ]
        return Outcome(Status.PASS if ok else Status.FAIL, _quote(shown))
    pattern = re.compile(probe.match)
    hits: list[str] = []
    good: list[str] = []
    for line in result.stdout.splitlines():
        found = pattern.search(line)
        if found:
            hits.append(line.strip())
            if probe.compare is None or matches(_group(found, probe.group), probe.compare):
                good.append(line.strip())
    if probe.expect == "absent":
        if hits:
            return Outcome(Status.FAIL, _quote(hits))
        return Outcome(Status.PASS, t("baseline.observed.no_output_line", command=probe.run))
    if good:
        return Outcome(Status.PASS, _quote(good))
    if hits:
        return Outcome(Status.FAIL, _quote(hits))
    return Outcome(Status.FAIL, t("baseline.observed.no_output_line", command=probe.run))


async def sysctl_probe(probe: SysctlProbe, ctx: Context) -> Outcome:
    """A kernel parameter (runtime when live, configured in offline trees)."""
    if ctx.host is None:
        return _no_host()
    value, where = await sysctl_value(ctx.host, probe.key, ctx.cache)
    if value is None:
        if probe.default is None:
            return Outcome(Status.FAIL, t("baseline.observed.not_set", key=probe.key))
        ok = matches(probe.default, probe.compare)
        note = t("baseline.observed.default", key=probe.key, value=probe.default)
        return Outcome(Status.PASS if ok else Status.FAIL, note)
    ok = matches(value, probe.compare)
    return Outcome(Status.PASS if ok else Status.FAIL, f"{where}: {probe.key} = {value}")


async def service_probe(probe: ServiceProbe, ctx: Context) -> Outcome:
    """systemd unit state."""
    if ctx.host is None:
        return _no_host()
    lines: list[str] = []
    verdicts: list[bool] = []
    for unit in _paths(probe.unit):
        state = await service_state(ctx.host, unit, ctx.cache)
        lines.append(t("baseline.observed.service", unit=state.unit, state=state.describe()))
        verdicts.append(state.satisfies(probe.expect))
    ok = all(verdicts) if probe.expect in {"disabled", "inactive", "absent"} else any(verdicts)
    return Outcome(Status.PASS if ok else Status.FAIL, _quote(lines))


async def port_probe(probe: PortProbe, ctx: Context) -> Outcome:
    """Listening sockets (live hosts)."""
    if ctx.host is None:
        return _no_host()
    if not ctx.host.live:
        return Outcome(Status.NA, t("baseline.observed.offline_ports"))
    sockets = await listening_sockets(ctx.host, probe.proto, ctx.cache)
    wanted = set(probe.ports)
    open_ = [s for s in sockets if s.port in wanted]
    exposed = [s for s in open_ if not s.loopback]
    shown = [f"{probe.proto} {s.address}:{s.port}" for s in open_]
    if probe.expect == "open":
        ok = bool(open_)
    elif probe.expect == "closed":
        ok = not open_
    else:
        ok = not exposed
    observed = (
        _quote(shown)
        if shown
        else t("baseline.observed.no_listener", ports=", ".join(map(str, sorted(wanted))))
    )
    return Outcome(Status.PASS if ok else Status.FAIL, observed)


async def package_probe(probe: PackageProbe, ctx: Context) -> Outcome:
    """Installed packages and versions."""
    if ctx.host is None:
        return _no_host()
    try:
        installed = await package_versions(ctx.host, ctx.os, ctx.cache)
    except CollectorUnavailable as exc:
        return Outcome(Status.NA, t("baseline.observed.no_package_db", reason=exc.reason))
    names = _paths(probe.name)
    present = [(n, installed[n]) for n in names if n in installed]
    shown = [f"{n} {v}" for n, v in present]
    if probe.expect == "absent":
        if present:
            return Outcome(Status.FAIL, t("baseline.observed.installed", packages=_quote(shown)))
        return Outcome(Status.PASS, t("baseline.observed.not_installed", packages="、".join(names)))
    if not present:
        return Outcome(Status.FAIL, t("baseline.observed.not_installed", packages="、".join(names)))
    if probe.compare is not None:
        ok = any(matches(v, probe.compare) for _, v in present)
        return Outcome(
            Status.PASS if ok else Status.FAIL,
            t("baseline.observed.installed", packages=_quote(shown)),
        )
    return Outcome(Status.PASS, t("baseline.observed.installed", packages=_quote(shown)))


async def accounts_probe(probe: AccountsProbe, ctx: Context) -> Outcome:
    """Account properties from passwd/shadow/group."""
    if ctx.host is None:
        return _no_host()
    table = await accounts_table(ctx.host, ctx.cache)
    if table is None:
        return Outcome(Status.NA, t("baseline.observed.no_file", path="/etc/passwd"))
    if not table.shadow_readable and probe.select in SHADOW_SELECTS:
        return _unreadable(["/etc/shadow"])
    hits = table.select(probe.select, names=probe.names, allow=probe.allow, limit=probe.limit)
    if probe.expect == "none":
        if hits:
            return Outcome(Status.FAIL, _quote(hits), paths=table.paths)
        return Outcome(
            Status.PASS, t("baseline.observed.no_account", select=probe.select), paths=table.paths
        )
    if hits:
        return Outcome(Status.PASS, _quote(hits), paths=table.paths)
    return Outcome(
        Status.FAIL, t("baseline.observed.no_account", select=probe.select), paths=table.paths
    )


def _cell(row: dict[str, Any], column: str | None) -> str:
    if column is None:
        value = next(iter(row.values()), "")
    else:
        value = row.get(column)
        if value is None:
            lowered = {k.lower(): v for k, v in row.items()}
            value = lowered.get(column.lower(), "")
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return "" if value is None else str(value)


def _row_text(row: dict[str, Any]) -> str:
    return ", ".join(f"{k}={_cell(row, k)}" for k in row)


async def sql_probe(probe: SqlProbe, ctx: Context) -> Outcome:
    """A read-only query through the database connection."""
    if ctx.db is None or ctx.db.engine != probe.engine:
        return Outcome(Status.NA, t("baseline.observed.no_database", engine=probe.engine))
    try:
        rows = await ctx.db.query(probe.query)
    except CollectorUnavailable as exc:
        return Outcome(
            Status.ERROR, t("baseline.observed.query_failed", query=probe.query, reason=exc.reason)
        )
    if rows and set(rows[0]) == {"error"} and probe.engine == "redis":
        return Outcome(
            Status.ERROR,
            t("baseline.observed.query_failed", query=probe.query, reason=rows[0]["error"]),
        )
    prefix = f"{probe.query} → " if probe.engine == "redis" else ""
    shown = [prefix + _row_text(r) for r in rows]
    if probe.expect == "no_rows":
        if rows:
            return Outcome(Status.FAIL, _quote(shown))
        return Outcome(Status.PASS, t("baseline.observed.no_rows", query=probe.query))
    if probe.expect == "rows":
        if not rows:
            return Outcome(Status.FAIL, t("baseline.observed.no_rows", query=probe.query))
        if probe.compare is None:
            return Outcome(Status.PASS, _quote(shown))
    if not rows:
        return Outcome(Status.FAIL, t("baseline.observed.no_rows", query=probe.query))
    assert probe.compare is not None
    verdicts = [(r, matches(_cell(r, probe.column), probe.compare)) for r in rows]
    ok = any(v for _, v in verdicts) if probe.rows == "any" else all(v for _, v in verdicts)
    chosen = [prefix + _row_text(r) for r, v in verdicts if v == ok] or shown
    return Outcome(Status.PASS if ok else Status.FAIL, _quote(chosen))


async def http_probe(probe: HttpProbe, ctx: Context) -> Outcome:
    """An HTTP response of the service under test."""
    if ctx.http is None or not ctx.http_url:
        return Outcome(Status.NA, t("baseline.observed.no_http"))
    url = ctx.http_url.rstrip("/") + "/" + probe.path.lstrip("/")
    try:
        status, headers, body = await ctx.http(probe.method, url)
    except CollectorUnavailable as exc:
        return Outcome(Status.ERROR, t("baseline.observed.http_failed", url=url, reason=exc.reason))
    if probe.status is not None:
        ok = matches(str(status), probe.status)
        return Outcome(Status.PASS if ok else Status.FAIL, f"{probe.method} {url} → HTTP {status}")
    if probe.header is not None:
        lowered = {k.lower(): v for k, v in headers.items()}
        value = lowered.get(probe.header.lower())
        if value is None:
            observed = t("baseline.observed.no_header", header=probe.header, url=url)
            hit = False
        else:
            observed = f"{url}: {probe.header}: {value}"
            hit = probe.match is None or re.search(probe.match, value) is not None
    else:
        hit = probe.match is not None and re.search(probe.match, body) is not None
        found = re.search(probe.match, body) if probe.match else None
        observed = (
            f"{url}: {found.group(0)[:200]}"
            if found
            else t("baseline.observed.no_body_match", url=url)
        )
    ok = hit if probe.expect == "present" else not hit
    return Outcome(Status.PASS if ok else Status.FAIL, observed)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _strip_namespaces(root: Element) -> None:
    for node in root.iter():
        node.tag = _local(str(node.tag))
        for key in list(node.attrib):
            if key.startswith("{"):
                node.attrib[_local(key)] = node.attrib.pop(key)


async def xml_probe(probe: XmlProbe, ctx: Context) -> Outcome:
    """Elements/attributes of XML configuration files."""
    if ctx.host is None:
        return _no_host()
    files = await ctx.host.expand(_paths(probe.path))
    texts = [(p, await ctx.host.text(p)) for p in files]
    present = [(p, x) for p, x in texts if x is not None]
    if not present:
        shown_paths = "、".join(files) or "、".join(_paths(probe.path))
        return Outcome(Status(probe.missing), t("baseline.observed.no_file", path=shown_paths))
    nodes: list[tuple[str, Element]] = []
    for path, text in present:
        try:
            root = SafeET.fromstring(text.encode("utf-8"))
        except Exception as exc:  # noqa: BLE001 - defusedxml raises several unrelated types
            return Outcome(
                Status.ERROR, t("baseline.observed.bad_xml", path=path, reason=str(exc)[:200])
            )
        _strip_namespaces(root)
        try:
            found = root.findall(probe.find) if probe.find not in {".", root.tag} else [root]
        except (SyntaxError, TypeError, KeyError) as exc:
            # ElementTree reports some broken paths as TypeError/KeyError
            return Outcome(Status.ERROR, t("baseline.observed.bad_xml", path=path, reason=str(exc)))
        nodes.extend((path, n) for n in found)
    paths = [p for p, _ in present]

    def show(path: str, node: Element) -> str:
        attrs = " ".join(f'{k}="{v}"' for k, v in node.attrib.items())
        text = (node.text or "").strip()
        body = f"{text[:200]}</{node.tag}>" if text else ""
        return f"{path}: <{node.tag}{' ' + attrs if attrs else ''}>{body}"

    if probe.attribute is not None:
        nodes = (
            [(p, n) for p, n in nodes if probe.attribute in n.attrib]
            if probe.expect != "value"
            else nodes
        )
    if probe.expect == "absent":
        if nodes:
            return Outcome(Status.FAIL, _quote([show(p, n) for p, n in nodes]), paths=paths)
        return Outcome(Status.PASS, t("baseline.observed.no_element", find=probe.find), paths=paths)
    if not nodes:
        return Outcome(Status.FAIL, t("baseline.observed.no_element", find=probe.find), paths=paths)
    if probe.expect == "present" or probe.compare is None:
        return Outcome(Status.PASS, _quote([show(p, n) for p, n in nodes]), paths=paths)
    verdicts = []
    for path, node in nodes:
        raw = node.attrib.get(probe.attribute, "") if probe.attribute else (node.text or "")
        verdicts.append((path, node, matches(raw, probe.compare)))
    ok = any(v for *_, v in verdicts) if probe.rows == "any" else all(v for *_, v in verdicts)
    chosen = [show(p, n) for p, n, v in verdicts if v == ok]
    return Outcome(Status.PASS if ok else Status.FAIL, _quote(chosen), paths=paths)


PROBES: dict[type[Any], Callable[[Any, Context], Awaitable[Outcome]]] = {
    FileProbe: file_probe,
    SettingProbe: setting_probe,
    ModeProbe: mode_probe,
    CommandProbe: command_probe,
    SysctlProbe: sysctl_probe,
    ServiceProbe: service_probe,
    PortProbe: port_probe,
    PackageProbe: package_probe,
    AccountsProbe: accounts_probe,
    SqlProbe: sql_probe,
    HttpProbe: http_probe,
    XmlProbe: xml_probe,
}


def expected_text(probe: Any) -> str:
    """A short rendering of what a probe expects (when the rule gives none)."""
    if getattr(probe, "describe", None):
        return str(probe.describe)
    cmp = getattr(probe, "compare", None)
    key = (
        getattr(probe, "key", None)
        or getattr(probe, "match", None)
        or getattr(probe, "query", None)
    )
    tail = f" {describe(cmp)}" if cmp is not None else ""
    return f"{probe.type}: {key or ''}{tail}".strip()
