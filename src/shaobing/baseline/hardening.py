"""Safe hardening (C3): an exact plan, explicit confirmation, backups, re-check, rollback.

``plan`` evaluates the chosen rules, computes every file change in memory (a unified diff
per file) and the commands, and refuses rules whose guard rails say the change could lock
the operator out. ``apply`` backs up every file before its first change, applies rule by
rule, stops at the first failure and restores everything, then re-checks (加固复查).
``rollback`` restores the backups of a recorded run and runs the rules' rollback commands.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shaobing.baseline.collectors.base import CollectorUnavailable, HostCollector, has_glob
from shaobing.baseline.edits import apply_edit, unified_diff
from shaobing.baseline.model import Edit, Rule
from shaobing.baseline.results import ProfileReport, Status
from shaobing.core.i18n import t

# Commands of a rule run with this timeout each (service reloads, sysctl -w).
COMMAND_TIMEOUT = 120.0


@dataclass
class FileChange:
    """The planned new state of one file."""

    path: str
    before: bytes | None
    after: bytes
    mode: int | None = None
    owner: str | None = None
    group: str | None = None
    #: a directory: only its mode/owner change
    is_dir: bool = False

    @property
    def content_changed(self) -> bool:
        """Whether the bytes change."""
        return not self.is_dir and self.before != self.after


@dataclass
class RulePlan:
    """What hardening one rule does, or why it is not done."""

    rule_id: str
    title: str
    status_before: str
    files: list[str] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    rollback_commands: list[str] = field(default_factory=list)
    #: files backed up because the rule's commands may change them
    backup: list[str] = field(default_factory=list)
    skipped: str | None = None


@dataclass
class Plan:
    """The whole plan: per-rule steps and the resulting file changes."""

    rules: list[RulePlan]
    changes: dict[str, FileChange]
    live: bool

    def diffs(self) -> dict[str, str]:
        """path → unified diff (or a mode/owner note)."""
        out: dict[str, str] = {}
        for path, change in self.changes.items():
            text = unified_diff(
                path,
                None if change.before is None else change.before.decode("utf-8", "replace"),
                change.after.decode("utf-8", "replace"),
            )
            meta = []
            if change.mode is not None:
                meta.append(f"chmod {change.mode:04o} {path}")
            if change.owner or change.group:
                meta.append(
                    f"chown {change.owner or ''}{':' + change.group if change.group else ''} {path}"
                )
            out[path] = text + "".join(f"# {m}\n" for m in meta)
        return out

    def as_json(self) -> list[dict[str, Any]]:
        """The plan for JSON output and the run record."""
        diffs = self.diffs()
        return [
            {
                "rule_id": r.rule_id,
                "title": r.title,
                "status_before": r.status_before,
                "skipped": r.skipped,
                "files": {p: diffs.get(p, "") for p in r.files},
                "commands": r.commands,
                "rollback_commands": r.rollback_commands,
                "backup": r.backup,
            }
            for r in self.rules
        ]

    def backup_paths(self) -> list[str]:
        """Every file to back up: those edited, then those the commands may change."""
        out = list(self.changes)
        for rule in self.actionable:
            out.extend(p for p in rule.backup if p not in out)
        return out

    @property
    def actionable(self) -> list[RulePlan]:
        """Rules that will be changed."""
        return [r for r in self.rules if r.skipped is None]


# ---- guard rails --------------------------------------------------------------------------


async def _authorized_keys_exist(host: HostCollector) -> bool:
    paths = ["/root/.ssh/authorized_keys", "/root/.ssh/authorized_keys2"]
    paths += await host.glob("/home/*/.ssh/authorized_keys")
    for path in paths:
        text = await host.text(path)
        if text and any(
            line.strip() and not line.lstrip().startswith("#") for line in text.splitlines()
        ):
            return True
    return False


async def guard_ssh_key_login(host: HostCollector) -> str | None:
    """Refuse to disable password login unless key login is proven or possible."""
    if host.kind == "ssh":
        if host.key_login:
            return None
        return t("baseline.guard.ssh_password_session")
    if await _authorized_keys_exist(host):
        return None
    return t("baseline.guard.no_authorized_keys")


async def guard_ssh_root_login_needed(host: HostCollector) -> str | None:
    """Refuse to forbid root login over the operator's own root SSH session."""
    if host.kind == "ssh" and host.login_user == "root":
        return t("baseline.guard.root_session")
    return None


async def guard_sudo_user_exists(host: HostCollector) -> str | None:
    """Refuse to lock root unless another account can become root."""
    group = await host.text("/etc/group") or ""
    for line in group.splitlines():
        fields = line.split(":")
        if len(fields) >= 4 and fields[0] in {"sudo", "wheel"} and fields[3].strip():
            return None
    sudoers = [await host.text("/etc/sudoers") or ""]
    for path in await host.glob("/etc/sudoers.d/*"):
        sudoers.append(await host.text(path) or "")
    for text in sudoers:
        for line in text.splitlines():
            words = line.split()
            if (
                words
                and not line.lstrip().startswith(("#", "Defaults"))
                and words[0] not in {"root", "%sudo", "%wheel", "%admin"}
                and "ALL" in line
            ):
                return None
    return t("baseline.guard.no_sudo_user")


GUARDS: dict[str, Callable[[HostCollector], Awaitable[str | None]]] = {
    "ssh_key_login": guard_ssh_key_login,
    "ssh_root_login_needed": guard_ssh_root_login_needed,
    "sudo_user_exists": guard_sudo_user_exists,
}


# ---- planning -----------------------------------------------------------------------------


async def _edit_targets(host: HostCollector, edit: Edit) -> list[str]:
    if has_glob(edit.file):
        return await host.glob(edit.file)
    return [edit.file]


async def build_plan(host: HostCollector, rules: list[Rule], before: ProfileReport) -> Plan:
    """Plan the remediation of the failing rules (others are listed with the reason)."""
    status = {r.rule_id: r.status for r in before.results}
    changes: dict[str, FileChange] = {}
    plans: list[RulePlan] = []
    for rule in rules:
        current = status.get(rule.id, Status.ERROR)
        plan = RulePlan(rule.id, rule.title, current.value)
        plans.append(plan)
        if current is Status.PASS:
            plan.skipped = t("baseline.harden.already_pass")
            continue
        if current is Status.NA:
            plan.skipped = t("baseline.harden.not_applicable")
            continue
        if not rule.remediation.edits and not rule.remediation.commands:
            plan.skipped = t("baseline.harden.manual")
            continue
        if rule.remediation.commands and not host.live and not rule.remediation.edits:
            plan.skipped = t("baseline.harden.offline_commands")
            continue
        refused = None
        for name in rule.remediation.guards:
            guard = GUARDS.get(name)
            reason = await guard(host) if guard else t("baseline.guard.unknown", name=name)
            if reason:
                refused = reason
                break
        if refused:
            plan.skipped = t("baseline.harden.guard", reason=refused)
            continue
        for edit in rule.remediation.edits:
            for path in await _edit_targets(host, edit):
                change = changes.get(path)
                content_edit = (
                    edit.set is not None or edit.line is not None or edit.comment_out is not None
                )
                if change is None:
                    info = await host.stat(path)
                    if info is not None and info.kind == "dir":
                        if content_edit:
                            continue
                        # permissions of a directory: no content to read or write
                        change = FileChange(path, None, b"", is_dir=True)
                    else:
                        original = await host.read_file(path)
                        if original is None and not edit.create:
                            continue
                        change = FileChange(path, original, original or b"")
                    changes[path] = change
                if edit.set is not None or edit.line is not None or edit.comment_out is not None:
                    text = change.after.decode("utf-8", "replace")
                    change.after = apply_edit(text, edit).encode("utf-8")
                if edit.mode is not None:
                    change.mode = int(edit.mode, 8)
                if edit.owner is not None:
                    change.owner = edit.owner
                if edit.group is not None:
                    change.group = edit.group
                if path not in plan.files:
                    plan.files.append(path)
        if host.live:
            plan.commands = list(rule.remediation.commands)
            plan.rollback_commands = list(rule.rollback.commands)
            if plan.commands:
                read = [r.paths for r in before.results if r.rule_id == rule.id]
                wanted = [*(read[0] if read else []), *rule.remediation.backup]
                for path in await host.expand(wanted):
                    info = await host.stat(path)
                    if info is not None and info.kind == "file" and path not in plan.backup:
                        plan.backup.append(path)
    # drop mode/owner steps already satisfied, then files whose planned state equals the
    # current one (idempotent edits)
    for path in list(changes):
        change = changes[path]
        info = await host.stat(path)
        if info is not None:
            user, group = await host.owner_names(info)
            if change.mode is not None and info.mode == change.mode:
                change.mode = None
            if change.owner is not None and change.owner in {user, str(info.uid)}:
                change.owner = None
            if change.group is not None and change.group in {group, str(info.gid)}:
                change.group = None
        if (
            not change.content_changed
            and change.mode is None
            and change.owner is None
            and change.group is None
        ):
            del changes[path]
    for item in plans:
        item.files = [p for p in item.files if p in changes]
    return Plan(plans, changes, host.live)


# ---- backup, apply, restore ---------------------------------------------------------------


@dataclass
class Backup:
    """A file's state before hardening."""

    path: str
    existed: bool
    mode: int | None
    uid: int | None
    gid: int | None
    sha256: str | None
    stored: str | None  # file name in the backup directory

    def as_json(self) -> dict[str, Any]:
        """For the run record."""
        return {
            "path": self.path,
            "existed": self.existed,
            "mode": self.mode,
            "uid": self.uid,
            "gid": self.gid,
            "sha256": self.sha256,
            "stored": self.stored,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Backup:
        """From the run record."""
        return cls(
            path=str(data["path"]),
            existed=bool(data["existed"]),
            mode=data.get("mode"),
            uid=data.get("uid"),
            gid=data.get("gid"),
            sha256=data.get("sha256"),
            stored=data.get("stored"),
        )


async def backup_file(host: HostCollector, path: str, folder: Path, index: int) -> Backup:
    """Copy a file's bytes and metadata to the operator's backup folder."""
    data = await host.read_file(path, limit=1 << 62)
    info = await host.stat(path)
    if info is not None and info.kind == "dir":
        # a directory: only its mode and owner are restored
        return Backup(path, True, info.mode, info.uid, info.gid, None, None)
    if data is None:
        return Backup(path, False, None, None, None, None, None)
    name = f"{index:04d}.b64"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(base64.b64encode(data))
    return Backup(
        path,
        True,
        info.mode if info else None,
        info.uid if info else None,
        info.gid if info else None,
        hashlib.sha256(data).hexdigest(),
        name,
    )


async def restore_file(host: HostCollector, backup: Backup, folder: Path) -> None:
    """Put a file back as it was (or remove it when hardening created it)."""
    if backup.existed and backup.stored is None:
        await host.chmod_chown(backup.path, backup.mode, backup.uid, backup.gid)
        return
    if not backup.existed or backup.stored is None:
        await host.remove_file(backup.path)
        return
    data = base64.b64decode((folder / backup.stored).read_bytes())
    if backup.sha256 and hashlib.sha256(data).hexdigest() != backup.sha256:
        raise CollectorUnavailable(t("baseline.harden.backup_corrupt", path=backup.path))
    await host.write_file(backup.path, data, backup.mode)
    await host.chmod_chown(backup.path, backup.mode, backup.uid, backup.gid)


async def _ids(host: HostCollector, name: str | None, database: str) -> int | None:
    if name is None:
        return None
    if name.isdigit():
        return int(name)
    table = await host.id_names(database)
    for number, known in table.items():
        if known == name:
            return number
    raise CollectorUnavailable(t("baseline.harden.unknown_owner", name=name))


async def write_change(host: HostCollector, change: FileChange) -> None:
    """Apply one file's planned state."""
    if not change.is_dir and (change.content_changed or change.before is None):
        await host.write_file(
            change.path, change.after, change.mode if change.before is None else None
        )
    uid = await _ids(host, change.owner, "passwd")
    gid = await _ids(host, change.group, "group")
    if change.mode is not None or uid is not None or gid is not None:
        await host.chmod_chown(change.path, change.mode, uid, gid)


async def run_commands(host: HostCollector, commands: list[str]) -> None:
    """Run commands in order; the first non-zero exit stops with its output."""
    for command in commands:
        result = await host.run(command, timeout=COMMAND_TIMEOUT)
        if result.rc != 0:
            detail = (result.stderr or result.stdout).strip().splitlines()
            raise CollectorUnavailable(
                t(
                    "baseline.harden.command_failed",
                    command=command,
                    rc=result.rc,
                    detail=detail[-1] if detail else "",
                )
            )
