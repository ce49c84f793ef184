"""Facts about a Linux host that several probes share: OS, accounts, packages, units, sockets.

Each reader works on live hosts and offline trees alike (from files where possible) and
caches its answer in the check run's cache.
"""

from __future__ import annotations

import asyncio
import fnmatch
import ipaddress
import posixpath
import shlex
from dataclasses import dataclass, field
from typing import Any

from shaobing.baseline.collectors.base import CollectorUnavailable, HostCollector
from shaobing.baseline.configparse import parse_equals
from shaobing.core.i18n import t

# os-release ids that belong to each family (GB/T-independent: the distributions' own ids).
DEBIAN_IDS = {"debian", "ubuntu", "deepin", "uos", "uniontech", "linuxmint", "raspbian"}
RHEL_IDS = {
    "rhel",
    "centos",
    "rocky",
    "almalinux",
    "ol",
    "fedora",
    "openeuler",
    "anolis",
    "opencloudos",
    "tencentos",
    "alinux",
}
# Kylin and UOS ship both dpkg-based (desktop) and rpm-based (server) builds.
DOMESTIC = {"kylin": "kylin", "neokylin": "kylin", "uos": "uos", "uniontech": "uos"}
# Login shells that do not give a session.
NOLOGIN_SHELLS = {"/sbin/nologin", "/usr/sbin/nologin", "/bin/false", "/usr/bin/false", ""}
# Below this uid accounts are system accounts (login.defs SYS_UID_MAX default + 1 on
# Debian and RHEL alike); the host's own UID_MIN wins when set.
DEFAULT_UID_MIN = 1000


@dataclass(frozen=True)
class OsInfo:
    """What /etc/os-release says, and the family rules use."""

    id: str
    family: str
    name: str
    version: str
    #: kylin | uos when the host is one of the domestic distributions
    domestic: str | None = None

    def ids(self) -> set[str]:
        """Every name an ``applies.os`` entry may use for this host."""
        out = {self.id, self.family}
        if self.domestic:
            out.add(self.domestic)
        return out

    @property
    def label(self) -> str:
        """``Kylin Linux Advanced Server V10`` style name."""
        return f"{self.name} {self.version}".strip()


def _os_release(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            out[key.strip()] = value.strip().strip("\"'")
    return out


async def detect_os(host: HostCollector) -> OsInfo | None:
    """The host's distribution from os-release (None when it has none)."""
    text = await host.text("/etc/os-release") or await host.text("/usr/lib/os-release")
    if text is None:
        return None
    info = _os_release(text)
    os_id = info.get("ID", "").lower()
    like = set(info.get("ID_LIKE", "").lower().split())
    domestic = DOMESTIC.get(os_id)
    name = info.get("NAME", os_id)
    if domestic is None and ("kylin" in name.lower() or "uos" in name.lower().split()):
        domestic = "kylin" if "kylin" in name.lower() else "uos"
    if os_id in DEBIAN_IDS or like & DEBIAN_IDS:
        family = "debian"
    elif os_id in RHEL_IDS or like & RHEL_IDS:
        family = "rhel"
    elif await host.stat("/var/lib/dpkg/status") is not None:
        family = "debian"
    elif await host.stat("/var/lib/rpm") is not None:
        family = "rhel"
    else:
        family = os_id or "unknown"
    if domestic and os_id in DOMESTIC:
        # Kylin Advanced Server is rpm-based, Kylin desktop dpkg-based: the package DB decides.
        if await host.stat("/var/lib/dpkg/status") is not None:
            family = "debian"
        elif await host.stat("/var/lib/rpm") is not None:
            family = "rhel"
    version = info.get("VERSION_ID") or info.get("VERSION", "")
    return OsInfo(os_id, family, name, version, domestic)


# ---- sysctl -------------------------------------------------------------------------------

SYSCTL_DIRS = (
    "/etc/sysctl.d",
    "/run/sysctl.d",
    "/usr/local/lib/sysctl.d",
    "/usr/lib/sysctl.d",
    "/lib/sysctl.d",
)


@dataclass
class SysctlConfig:
    """Assignments in file order, and keys excluded from glob assignments."""

    assignments: list[tuple[str, str, str]]  # (key or glob, value, where)
    excluded: set[str]

    def lookup(self, key: str) -> tuple[str, str] | None:
        """The value the last matching assignment gives ``key`` (globs skip excluded keys)."""
        found = None
        for pattern, value, where in self.assignments:
            if pattern == key or (
                "*" in pattern and key not in self.excluded and fnmatch.fnmatchcase(key, pattern)
            ):
                found = (value, where)
        return found


async def _sysctl_config(host: HostCollector) -> SysctlConfig:
    """Configured sysctl values in systemd-sysctl order (by file name), then sysctl.conf.

    sysctl.d(5): a leading "-" on an assignment only means "ignore failures"; a "-key" line
    without "=" excludes that key from glob assignments such as ``net.ipv4.conf.*.rp_filter``.
    """
    chosen: dict[str, str] = {}
    for folder in SYSCTL_DIRS:
        for name in await host.list_dir(folder) or []:
            if name.endswith(".conf") and name not in chosen:
                chosen[name] = posixpath.join(folder, name)
    files = [chosen[name] for name in sorted(chosen)] + ["/etc/sysctl.conf"]
    config = SysctlConfig([], set())
    for entry in await parse_equals(files, host.text, host.glob, None):
        key = entry.key.strip().lstrip("-").replace("/", ".")
        if "=" not in entry.text:
            if entry.key.strip().startswith("-"):
                config.excluded.add(key)
            continue
        config.assignments.append((key, entry.value, f"{entry.file}:{entry.line}"))
    return config


async def sysctl_value(
    host: HostCollector, key: str, cache: dict[str, Any]
) -> tuple[str | None, str]:
    """(value, where) of a kernel parameter: /proc/sys on live hosts, configuration offline."""
    if host.live:
        path = "/proc/sys/" + key.replace(".", "/")
        raw = await host.text(path)
        if raw is not None:
            return " ".join(raw.split()), path
    if "sysctl" not in cache:
        cache["sysctl"] = await _sysctl_config(host)
    config: SysctlConfig = cache["sysctl"]
    found = config.lookup(key)
    if found is None:
        return None, ""
    return found[0], found[1]


# ---- services -----------------------------------------------------------------------------

UNIT_DIRS = (
    "/etc/systemd/system",
    "/run/systemd/system",
    "/usr/lib/systemd/system",
    "/lib/systemd/system",
)


@dataclass
class UnitState:
    """Whether a unit exists, is enabled and is running."""

    unit: str
    present: bool
    enabled: bool | None
    active: bool | None

    def describe(self) -> str:
        """不存在 / 已启用、运行中 ..."""
        if not self.present:
            return t("baseline.unit.absent")
        parts = []
        if self.enabled is not None:
            parts.append(t("baseline.unit.enabled" if self.enabled else "baseline.unit.disabled"))
        if self.active is not None:
            parts.append(t("baseline.unit.active" if self.active else "baseline.unit.inactive"))
        return "、".join(parts) or t("baseline.unit.present")

    def satisfies(self, expect: str) -> bool:
        """Whether the state meets the probe's expectation."""
        if expect == "absent":
            return not self.present
        if expect == "present":
            return self.present
        if expect == "enabled":
            return self.present and bool(self.enabled)
        if expect == "active":
            return self.present and bool(self.active)
        if expect == "disabled":
            return not self.present or not self.enabled
        return not self.present or not self.active


async def _offline_unit(host: HostCollector, unit: str) -> UnitState:
    present = False
    for folder in UNIT_DIRS:
        info = await host.stat(posixpath.join(folder, unit))
        if info is not None:
            present = True
            break
    # systemd treats an empty unit file or a link to /dev/null as masked. An offline tree has
    # no /dev/null of its own, so there the mask link dangles: a name listed in the folder
    # that cannot be stat'ed.
    link = await host.stat(f"/etc/systemd/system/{unit}")
    if link is None:
        masked = unit in (await host.list_dir("/etc/systemd/system") or [])
    else:
        masked = link.size == 0 and link.kind in {"file", "other"}
    enabled = False
    for pattern in (
        "/etc/systemd/system/*.wants/" + unit,
        "/etc/systemd/system/*.requires/" + unit,
    ):
        if await host.glob(pattern):
            enabled = True
            present = True
    if not present:
        base = unit.rsplit(".", 1)[0]
        if await host.stat(f"/etc/init.d/{base}") is not None:
            present = True
            enabled = bool(await host.glob(f"/etc/rc[2345].d/S*{base}"))
    return UnitState(unit, present, enabled and not masked, None)


ENABLED_WORDS = {"enabled", "enabled-runtime", "alias"}
ACTIVE_WORDS = {"active", "activating", "reloading"}
BATCH_SEPARATOR = "::SHAOBING-UNITS::"


async def _unit_table(
    host: HostCollector, cache: dict[str, Any]
) -> dict[str, tuple[str, str]] | None:
    """Every unit's file state and active state from two systemctl calls (None without systemd)."""
    lock = cache.setdefault("unit_table_lock", asyncio.Lock())
    async with lock:
        if "unit_table" not in cache:
            cache["unit_table"] = await _load_unit_table(host)
    found: dict[str, tuple[str, str]] | None = cache["unit_table"]
    return found


async def _load_unit_table(host: HostCollector) -> dict[str, tuple[str, str]] | None:
    try:
        result = await host.run(
            "systemctl list-unit-files --no-legend --no-pager 2>/dev/null;"
            f" echo {BATCH_SEPARATOR};"
            " systemctl list-units --all --no-legend --no-pager --plain 2>/dev/null"
        )
    except CollectorUnavailable:
        return None
    files, sep, units = result.stdout.partition(BATCH_SEPARATOR)
    if result.rc == 127 or not sep or not (files.strip() or units.strip()):
        return None
    table: dict[str, tuple[str, str]] = {}
    for line in files.splitlines():
        words = line.split()
        if len(words) >= 2:
            table[words[0]] = (words[1], "")
    for line in units.splitlines():
        words = line.split()
        if len(words) >= 3 and words[1] != "not-found":
            file_state = table.get(words[0], ("", ""))[0]
            table[words[0]] = (file_state or "static", words[2])
    return table


async def service_state(host: HostCollector, unit: str, cache: dict[str, Any]) -> UnitState:
    """State of one unit (``.service`` implied)."""
    name = unit if "." in unit else f"{unit}.service"
    key = f"unit:{name}"
    if key in cache:
        state: UnitState = cache[key]
        return state
    state = await _offline_unit(host, name)
    table = await _unit_table(host, cache) if host.live else None
    if table is not None:
        file_state, active = table.get(name, ("", ""))
        if file_state or active:
            state.present = True
            state.enabled = file_state in ENABLED_WORDS
            state.active = active in ACTIVE_WORDS
        elif state.present:
            # known to the unit files but not to systemd: not loaded, so not running
            state.active = False
    elif host.live:
        try:
            result = await host.run(
                f"systemctl is-enabled {shlex.quote(name)} 2>/dev/null; echo ::; "
                f"systemctl is-active {shlex.quote(name)} 2>/dev/null"
            )
            enabled_text, _, active_text = result.stdout.partition("::")
            enabled_word = enabled_text.strip().splitlines()[-1] if enabled_text.strip() else ""
            active_word = active_text.strip().splitlines()[-1] if active_text.strip() else ""
            if enabled_word or active_word:
                if enabled_word in {
                    "enabled",
                    "enabled-runtime",
                    "static",
                    "alias",
                    "indirect",
                    "generated",
                }:
                    state.present, state.enabled = (
                        True,
                        enabled_word in {"enabled", "enabled-runtime", "alias"},
                    )
                elif enabled_word in {"disabled", "masked", "masked-runtime", "linked"}:
                    state.present, state.enabled = True, False
                state.active = active_word in {"active", "activating", "reloading"}
                if state.active:
                    state.present = True
        except CollectorUnavailable:
            pass
    cache[key] = state
    return state


# ---- packages -----------------------------------------------------------------------------


def parse_dpkg_status(text: str) -> dict[str, str]:
    """Installed packages (name → version) from /var/lib/dpkg/status."""
    out: dict[str, str] = {}
    for block in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            if line[:1] in {" ", "\t"}:
                continue
            key, sep, value = line.partition(":")
            if sep:
                fields[key.strip().lower()] = value.strip()
        name = fields.get("package")
        status = fields.get("status", "")
        if name and status.endswith(" installed"):
            out[name] = fields.get("version", "")
    return out


async def package_versions(
    host: HostCollector, os: OsInfo | None, cache: dict[str, Any]
) -> dict[str, str]:
    """Installed packages: dpkg status file, or ``rpm -qa`` on live rpm hosts."""
    if "packages" in cache:
        packages: dict[str, str] = cache["packages"]
        return packages
    text = await host.text("/var/lib/dpkg/status")
    if text is not None and (os is None or os.family != "rhel"):
        packages = parse_dpkg_status(text)
    elif host.live:
        result = await host.run("rpm -qa --qf '%{NAME} %{EPOCHNUM}:%{VERSION}-%{RELEASE}\\n'")
        if result.rc == 127:
            raise CollectorUnavailable("rpm")
        packages = {}
        for line in result.stdout.splitlines():
            name, _, version = line.partition(" ")
            if name:
                packages[name] = version.removeprefix("0:")
    else:
        raise CollectorUnavailable("offline rpm")
    cache["packages"] = packages
    return packages


# ---- sockets ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Listener:
    """A listening socket."""

    address: str
    port: int

    @property
    def loopback(self) -> bool:
        """Bound to a loopback address only."""
        try:
            return ipaddress.ip_address(self.address).is_loopback
        except ValueError:
            return False


def _hex_address(text: str) -> str:
    raw = bytes.fromhex(text)
    if len(raw) == 4:
        return str(ipaddress.IPv4Address(raw[::-1]))
    # /proc/net/tcp6 prints four host-order 32-bit words
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
    address = ipaddress.IPv6Address(words)
    return str(address.ipv4_mapped or address)


def parse_proc_net(text: str, udp: bool) -> list[Listener]:
    """Listening sockets from /proc/net/{tcp,tcp6,udp,udp6}."""
    out: list[Listener] = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 4:
            continue
        local, state = fields[1], fields[3]
        # 0A = TCP_LISTEN; unconnected UDP sockets show 07 (TCP_CLOSE numbering)
        if (udp and state != "07") or (not udp and state != "0A"):
            continue
        address, _, port = local.rpartition(":")
        try:
            out.append(Listener(_hex_address(address), int(port, 16)))
        except ValueError:
            continue
    return out


async def listening_sockets(
    host: HostCollector, proto: str, cache: dict[str, Any]
) -> list[Listener]:
    """Listening sockets of a live host."""
    key = f"sockets:{proto}"
    if key not in cache:
        found: list[Listener] = []
        for suffix in ("", "6"):
            text = await host.text(f"/proc/net/{proto}{suffix}")
            if text:
                found.extend(parse_proc_net(text, proto == "udp"))
        cache[key] = found
    sockets: list[Listener] = cache[key]
    return sockets


# ---- accounts -----------------------------------------------------------------------------


@dataclass
class Account:
    """One line of /etc/passwd joined with its /etc/shadow line."""

    name: str
    uid: int
    gid: int
    shell: str
    password: str | None = None
    max_days: int | None = None


@dataclass
class AccountTable:
    """Accounts and groups of a host."""

    accounts: list[Account]
    groups: dict[str, tuple[int, list[str]]]
    uid_min: int = DEFAULT_UID_MIN
    paths: list[str] = field(default_factory=list)
    #: False when /etc/shadow exists but this login cannot read it (password state unknown)
    shadow_readable: bool = True

    def select(
        self, what: str, *, names: list[str], allow: list[str], limit: int | None
    ) -> list[str]:
        """Lines describing the accounts that match ``what`` (minus ``allow``)."""
        out: list[str] = []
        allowed = set(allow)
        if what == "uid0":
            out = [
                f"{a.name} (uid 0)" for a in self.accounts if a.uid == 0 and a.name not in allowed
            ]
        elif what in {"duplicate_uid", "duplicate_name"}:
            seen: dict[object, list[str]] = {}
            for a in self.accounts:
                seen.setdefault(a.uid if what == "duplicate_uid" else a.name, []).append(a.name)
            out = [
                f"{key}: {'、'.join(v)}"
                for key, v in seen.items()
                if len(v) > 1 and not set(v) <= allowed
            ]
        elif what == "duplicate_gid":
            by_gid: dict[int, list[str]] = {}
            for name, (gid, _) in self.groups.items():
                by_gid.setdefault(gid, []).append(name)
            out = [f"gid {g}: {'、'.join(v)}" for g, v in by_gid.items() if len(v) > 1]
        elif what == "empty_password":
            out = [
                f"{a.name}: 密码字段为空"
                for a in self.accounts
                if a.password == "" and a.name not in allowed
            ]
        elif what == "named":
            wanted = set(names)
            out = [
                f"{a.name} (shell {a.shell or '无'})"
                for a in self.accounts
                if a.name in wanted and a.name not in allowed
            ]
        elif what == "login_shell":
            wanted = set(names)
            out = [
                f"{a.name}: {a.shell}"
                for a in self.accounts
                if a.name in wanted
                and a.shell not in NOLOGIN_SHELLS
                and a.name not in allowed
                and not _locked(a.password)
            ]
        elif what == "system_login_shell":
            out = [
                f"{a.name} (uid {a.uid}): {a.shell}"
                for a in self.accounts
                if 0 < a.uid < self.uid_min
                and a.shell not in NOLOGIN_SHELLS
                and a.name not in allowed
                and not _locked(a.password)
            ]
        elif what == "max_days_over":
            cap = limit if limit is not None else 90
            out = [
                f"{a.name}: 最长使用期限 {a.max_days if a.max_days is not None else '未设置'} 天"
                for a in self.accounts
                if (a.uid == 0 or a.uid >= self.uid_min)
                and a.name not in allowed
                and a.password not in (None, "")
                and not _locked(a.password)
                and (a.max_days is None or a.max_days > cap)
            ]
        elif what == "group_members":
            for group in names:
                gid, members = self.groups.get(group, (-1, []))
                primary = [a.name for a in self.accounts if a.gid == gid]
                everyone = sorted({*members, *primary} - allowed)
                if everyone:
                    out.append(f"{group}: {'、'.join(everyone)}")
        return out


def _locked(password: str | None) -> bool:
    return password is not None and password[:1] in {"!", "*"}


async def accounts_table(host: HostCollector, cache: dict[str, Any]) -> AccountTable | None:
    """passwd + shadow + group of the host (None without /etc/passwd)."""
    if "accounts" in cache:
        table: AccountTable | None = cache["accounts"]
        return table
    passwd = await host.text("/etc/passwd")
    if passwd is None:
        cache["accounts"] = None
        return None
    shadow_text = await host.text("/etc/shadow")
    shadow_readable = shadow_text is not None or await host.stat("/etc/shadow") is None
    shadow = shadow_text or ""
    group = await host.text("/etc/group") or ""
    shadow_rows: dict[str, list[str]] = {}
    for line in shadow.splitlines():
        fields = line.split(":")
        if len(fields) >= 2:
            shadow_rows.setdefault(fields[0], fields)
    accounts: list[Account] = []
    for line in passwd.splitlines():
        fields = line.split(":")
        if (
            len(fields) < 7
            or not fields[2].lstrip("-").isdigit()
            or not fields[3].lstrip("-").isdigit()
        ):
            continue
        row = shadow_rows.get(fields[0])
        # "x" means "see shadow": without a shadow line there is no usable password
        password = None if fields[1] in {"x", "*"} else fields[1]
        max_days: int | None = None
        if row is not None:
            password = row[1]
            if len(row) > 4 and row[4].strip().isdigit():
                max_days = int(row[4])
        accounts.append(
            Account(
                fields[0], int(fields[2]), int(fields[3]), fields[6].strip(), password, max_days
            )
        )
    groups: dict[str, tuple[int, list[str]]] = {}
    for line in group.splitlines():
        fields = line.split(":")
        if len(fields) >= 4 and fields[2].isdigit():
            groups[fields[0]] = (int(fields[2]), [m for m in fields[3].split(",") if m])
    uid_min = DEFAULT_UID_MIN
    defs = await host.text("/etc/login.defs") or ""
    for line in defs.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "UID_MIN" and parts[1].isdigit():
            uid_min = int(parts[1])
    table = AccountTable(
        accounts,
        groups,
        uid_min,
        ["/etc/passwd", "/etc/shadow", "/etc/group"],
        shadow_readable=shadow_readable,
    )
    cache["accounts"] = table
    return table
