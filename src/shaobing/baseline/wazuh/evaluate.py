"""Evaluating one SCA rule on a host: found, not found, or invalid (with the evidence).

The outcomes follow the agent (``wm_sca.c``): a content check on a file that does not
exist, a directory that cannot be opened, a command that cannot run, a process list that
cannot be read are *invalid*, which the agent reports as "not applicable"; ``not`` inverts
found and not found but leaves invalid alone. We further mark an invalid outcome as an
*error* when the policy itself is at fault (a pattern that does not compile, an ``n:``
regex without a capture group), so the report can tell 不适用 from 错误.

Differences from the agent, on purpose: locations may be shell globs (several corpus
policies write ``/etc/x.d/*``; a glob that matches nothing is looked up literally, as the
agent would); commands are split into arguments exactly like the agent's ``w_strtok``
(spaces, double quotes, backslash escapes), re-quoted and given to the collector's shell as
``exec ARGS`` (no shell syntax is interpreted, as with the agent's ``execvp``), and exit
status 126/127 (cannot execute / not found) stands for the agent's ``EXECVE_ERROR``;
stdout and stderr are read as one text; identical commands run once per scan. Directory
walks stop after :data:`MAX_WALK_ENTRIES` entries (:data:`MAX_SCAN_ENTRIES` for the whole
scan) or :data:`MAX_WALK_DEPTH` levels: the collector interface has no ``lstat``, so unlike
the agent a symbolic link to a directory is descended into, and the limits bound loops.
"""

from __future__ import annotations

import asyncio
import posixpath
import shlex
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from shaobing.baseline.collectors.base import (
    CollectorUnavailable,
    CommandResult,
    HostCollector,
    has_glob,
)
from shaobing.baseline.wazuh.matching import (
    Matcher,
    NumericError,
    closest_line,
    compile_content,
    scan,
    text_lines,
)
from shaobing.baseline.wazuh.policy import Dialect
from shaobing.baseline.wazuh.regex import (
    Engine,
    RegexError,
    compile_pattern,
    sregex_matches,
)
from shaobing.baseline.wazuh.rules import (
    Content,
    Rule,
    RuleSyntaxError,
    RuleType,
    parse_content,
)
from shaobing.core.i18n import t

MAX_WALK_ENTRIES = 20000
MAX_WALK_DEPTH = 24
#: Directory entries one whole scan may visit (a policy of many walks of "/" stays bounded).
MAX_SCAN_ENTRIES = 1_000_000
#: How much of a line is quoted in evidence.
QUOTE_CHARS = 240
#: Exit statuses of a POSIX shell that mean the program could not be started.
_NOT_RUNNABLE = {126, 127}
#: Invalid outcomes about a file (its path belongs in the result's ``paths``).
_FILE_KEYS = {"file_missing", "not_regular", "unreadable"}


class Outcome(StrEnum):
    """A rule's result in the agent's three-valued logic."""

    FOUND = "found"
    NOT_FOUND = "not_found"
    INVALID = "invalid"


@dataclass
class RuleOutcome:
    """The outcome of one rule, what shows it, and the files it looked at."""

    outcome: Outcome
    evidence: list[str] = field(default_factory=list)
    #: invalid because of the policy (错误) rather than the host (不适用)
    error: bool = False
    paths: list[str] = field(default_factory=list)

    def absorb(self, other: RuleOutcome) -> None:
        """Fold the outcome of one more path in, the way the agent accumulates a list."""
        self.evidence.extend(other.evidence)
        self.paths.extend(p for p in other.paths if p not in self.paths)
        if other.outcome is Outcome.FOUND:
            self.outcome = Outcome.FOUND
        elif other.outcome is Outcome.INVALID and self.outcome is not Outcome.FOUND:
            self.outcome = Outcome.INVALID
            self.error = self.error or other.error


def _invalid(
    key: str, /, *, error: bool = False, path: str | None = None, **params: object
) -> RuleOutcome:
    if path is not None:
        params["path"] = path
    text = t(f"baseline_wazuh.eval.{key}", **params)
    recorded = [path] if path is not None and key in _FILE_KEYS else []
    return RuleOutcome(Outcome.INVALID, [text], error=error, paths=recorded)


def quote(line: str) -> str:
    """A line shortened for evidence."""
    line = line.strip()
    return line if len(line) <= QUOTE_CHARS else line[:QUOTE_CHARS] + "…"


def split_command(command: str) -> list[str]:
    """Arguments of a command as the agent's ``w_strtok`` splits them (no shell involved)."""
    args: list[str] = []
    current: list[str] = []
    started = False
    quoting = False
    i = 0
    while i < len(command):
        char = command[i]
        if char == "\\":
            if i + 1 < len(command):
                current.append(command[i + 1])
                started = True
            i += 2
            continue
        if char == '"':
            quoting = not quoting
            started = True
        elif char == " " and not quoting:
            if started:
                args.append("".join(current))
            current, started = [], False
        else:
            current.append(char)
            started = True
        i += 1
    if started:
        args.append("".join(current))
    return args


class EvalContext:
    """Shared state of one scan: the collector, and caches of commands and processes."""

    def __init__(
        self,
        collector: HostCollector,
        dialect: Dialect,
        *,
        allow_commands: bool = True,
        command_timeout: float = 30.0,
        parallel_commands: int = 4,
    ) -> None:
        self.collector = collector
        self.dialect = dialect
        self.allow_commands = allow_commands
        self.command_timeout = command_timeout
        self._commands: dict[str, asyncio.Task[CommandResult]] = {}
        self._processes: asyncio.Task[list[str]] | None = None
        self._slots = asyncio.Semaphore(parallel_commands)
        #: directory entries the rest of the scan may still visit
        self.walk_budget = MAX_SCAN_ENTRIES

    @property
    def wazuh5(self) -> bool:
        """Whether the policy follows the Wazuh 5 agent's layout and evaluation."""
        return self.dialect is Dialect.WAZUH5

    async def _run(self, command: str) -> CommandResult:
        async with self._slots:
            return await self.collector.run(command, timeout=self.command_timeout)

    async def command(self, command: str) -> CommandResult:
        """Run a shell command once per scan (raises CollectorUnavailable)."""
        task = self._commands.get(command)
        if task is None:
            task = asyncio.ensure_future(self._run(command))
            self._commands[command] = task
        return await task

    async def processes(self) -> list[str]:
        """The host's process command lines, read once per scan."""
        if self._processes is None:
            self._processes = asyncio.ensure_future(self.collector.processes())
        return await self._processes

    async def expand(self, locations: Iterable[str]) -> list[str]:
        """Paths with globs expanded; a glob that matches nothing stays as written."""
        out: list[str] = []
        for location in locations:
            found = await self.collector.glob(location) if has_glob(location) else []
            for path in found or [location]:
                if path not in out:
                    out.append(path)
        return out

    def matcher(self, content: Content, engine: Engine) -> Matcher:
        """Compile a content condition for this policy's layout (raises RegexError)."""
        return compile_content(
            content, engine, wazuh5=self.wazuh5, literal_ignore_case=not self.wazuh5
        )


async def _file_exists(ctx: EvalContext, path: str) -> RuleOutcome:
    stat = await ctx.collector.stat(path)
    if stat is None:
        return RuleOutcome(
            Outcome.NOT_FOUND, [t("baseline_wazuh.eval.file_missing", path=path)], paths=[path]
        )
    if stat.kind != "file":
        return _invalid("not_regular", path=path)
    return RuleOutcome(
        Outcome.FOUND, [t("baseline_wazuh.eval.file_exists", path=path)], paths=[path]
    )


async def _file_content(ctx: EvalContext, path: str, matcher: Matcher) -> RuleOutcome:
    stat = await ctx.collector.stat(path)
    if stat is None:
        return _invalid("file_missing", path=path)
    if stat.kind != "file":
        return _invalid("not_regular", path=path)
    text = await ctx.collector.text(path)
    if text is None:
        return _invalid("unreadable", path=path)
    lines = text_lines(text)
    result = scan(matcher, lines)
    if result.found:
        evidence = (
            t("baseline_wazuh.eval.line", path=path, line=quote(result.line))
            if result.line is not None
            else t("baseline_wazuh.eval.no_line_matches", path=path, pattern=matcher.text)
        )
        return RuleOutcome(Outcome.FOUND, [evidence], paths=[path])
    if result.line is not None:
        evidence = t("baseline_wazuh.eval.line", path=path, line=quote(result.line))
    elif (near := result.near or closest_line(matcher, lines)) is not None:
        evidence = t(
            "baseline_wazuh.eval.no_line_near", path=path, pattern=matcher.text, line=quote(near)
        )
    else:
        evidence = t("baseline_wazuh.eval.no_line", path=path, pattern=matcher.text)
    return RuleOutcome(Outcome.NOT_FOUND, [evidence], paths=[path])


async def _file_rule(ctx: EvalContext, rule: Rule, matcher: Matcher | None) -> RuleOutcome:
    total = RuleOutcome(Outcome.NOT_FOUND)
    for path in await ctx.expand(rule.locations):
        if matcher is None:
            one = await _file_exists(ctx, path)
        else:
            one = await _file_content(ctx, path, matcher)
        total.absorb(one)
        if one.outcome is Outcome.FOUND:
            break
    return total


def _name_test(ctx: EvalContext, pattern: str, engine: Engine) -> Callable[[str], bool]:
    """How a ``d:`` rule tests file names (raises RegexError or RuleSyntaxError)."""
    if ctx.wazuh5:
        if pattern.startswith(("r:", "!r:")):
            matcher = ctx.matcher(parse_content(pattern), engine)
            return lambda name: scan(matcher, [name]).found
        return lambda name: sregex_matches(pattern, name, ignore_case=False)
    if pattern[:2].lower() == "r:":
        # The 4.x agent always matches file names with OS_Regex.
        regex = compile_pattern(Engine.OSREGEX, pattern[2:], ignore_case=True)
        return lambda name: regex.search(name) is not None
    return lambda name: sregex_matches(pattern, name, ignore_case=True)


async def _directory_search(
    ctx: EvalContext,
    root: str,
    name_pattern: str,
    name_test: Callable[[str], bool],
    matcher: Matcher | None,
) -> RuleOutcome:
    stat = await ctx.collector.stat(root)
    if stat is None:
        return _invalid("dir_missing", path=root)
    if stat.kind != "dir":
        return _invalid("not_dir", path=root)
    total = RuleOutcome(Outcome.NOT_FOUND)
    matched = False
    seen = 0
    stack = [(root, 0)]
    while stack:
        directory, depth = stack.pop()
        names = await ctx.collector.list_dir(directory)
        if names is None:
            total.absorb(_invalid("dir_unreadable", path=directory))
            continue
        subdirs: list[str] = []
        for name in names:
            seen += 1
            ctx.walk_budget -= 1
            if seen > MAX_WALK_ENTRIES or ctx.walk_budget < 0:
                limit = MAX_WALK_ENTRIES if seen > MAX_WALK_ENTRIES else MAX_SCAN_ENTRIES
                total.absorb(_invalid("walk_limit", path=root, limit=limit))
                return total
            path = posixpath.join(directory, name)
            entry = await ctx.collector.stat(path)
            if entry is not None and entry.kind == "dir":
                subdirs.append(path)
                continue
            if not name_test(name):
                continue
            matched = True
            if matcher is None:
                one = await _file_exists(ctx, path)
            else:
                one = await _file_content(ctx, path, matcher)
            total.absorb(one)
            if one.outcome is Outcome.FOUND:
                return total
        if depth >= MAX_WALK_DEPTH and subdirs:
            total.absorb(_invalid("walk_depth", path=directory, limit=MAX_WALK_DEPTH))
            continue
        stack.extend((sub, depth + 1) for sub in reversed(subdirs))
    if not matched and total.outcome is Outcome.NOT_FOUND:
        total.evidence.append(
            t("baseline_wazuh.eval.dir_no_entry", path=root, pattern=name_pattern)
        )
    return total


async def _directory_rule(
    ctx: EvalContext, rule: Rule, matcher: Matcher | None, engine: Engine
) -> RuleOutcome:
    name_test = None
    if rule.name_pattern is not None:
        try:
            name_test = _name_test(ctx, rule.name_pattern, engine)
        except RegexError as exc:
            return _invalid("bad_regex", error=True, rule=rule.text, reason=exc.reason)
        except RuleSyntaxError as exc:
            return _invalid("bad_rule", error=True, rule=rule.text, reason=exc.reason)
    total = RuleOutcome(Outcome.NOT_FOUND)
    for directory in await ctx.expand(rule.locations):
        if rule.name_pattern is None or name_test is None:
            stat = await ctx.collector.stat(directory)
            if stat is None:
                one = RuleOutcome(
                    Outcome.NOT_FOUND, [t("baseline_wazuh.eval.dir_missing", path=directory)]
                )
            elif stat.kind != "dir":
                one = _invalid("not_dir", path=directory)
            else:
                one = RuleOutcome(
                    Outcome.FOUND, [t("baseline_wazuh.eval.dir_exists", path=directory)]
                )
        else:
            one = await _directory_search(ctx, directory, rule.name_pattern, name_test, matcher)
        total.absorb(one)
        if one.outcome is Outcome.FOUND:
            break
    return total


def _output_lines(result: CommandResult, wazuh5: bool) -> list[str]:
    """stdout then stderr as lines; the 4.x agent sees an empty output as one empty line."""
    text = result.stdout
    if text and result.stderr and not text.endswith("\n"):
        text += "\n"
    text += result.stderr
    lines = text_lines(text.rstrip("\n") if wazuh5 else text)
    if not lines and not wazuh5:
        return [""]
    return lines


async def _command_rule(ctx: EvalContext, rule: Rule, matcher: Matcher | None) -> RuleOutcome:
    command = rule.target
    if not ctx.collector.live:
        return _invalid("command_offline", command=command)
    if not ctx.allow_commands:
        return _invalid("command_disabled", command=command)
    args = split_command(command)
    if not args:
        return _invalid("command_empty", error=True, rule=rule.text)
    try:
        # "exec": the program replaces the shell, as the agent runs it without one.
        result = await ctx.command("exec " + shlex.join(args))
    except CollectorUnavailable as exc:
        return _invalid("command_failed", command=command, reason=exc.reason)
    except OSError as exc:
        return _invalid("command_failed", command=command, reason=f"{type(exc).__name__}: {exc}")
    if result.rc in _NOT_RUNNABLE:
        return _invalid("command_not_runnable", command=command, rc=result.rc)
    if matcher is None:
        return RuleOutcome(
            Outcome.FOUND, [t("baseline_wazuh.eval.command_ran", command=command, rc=result.rc)]
        )
    lines = _output_lines(result, ctx.wazuh5)
    found = scan(matcher, lines)
    if found.line is not None:
        evidence = t("baseline_wazuh.eval.command_line", command=command, line=quote(found.line))
    elif found.found:
        evidence = t("baseline_wazuh.eval.command_no_line_matches", command=command)
    else:
        shown = found.near or closest_line(matcher, lines) or next((x for x in lines if x), "")
        evidence = t(
            "baseline_wazuh.eval.command_no_line",
            command=command,
            pattern=matcher.text,
            line=quote(shown) or t("baseline_wazuh.eval.empty_output"),
        )
    return RuleOutcome(Outcome.FOUND if found.found else Outcome.NOT_FOUND, [evidence])


async def _process_rule(ctx: EvalContext, rule: Rule, matcher: Matcher | None) -> RuleOutcome:
    if not ctx.collector.live:
        return _invalid("process_offline")
    assert matcher is not None
    try:
        command_lines = await ctx.processes()
    except CollectorUnavailable as exc:
        return _invalid("process_unavailable", reason=exc.reason)
    for command_line in command_lines:
        argv0 = command_line.split(" ", 1)[0]
        if scan(matcher, [command_line, argv0, posixpath.basename(argv0)]).found:
            return RuleOutcome(
                Outcome.FOUND,
                [t("baseline_wazuh.eval.process_running", process=quote(command_line))],
            )
    return RuleOutcome(
        Outcome.NOT_FOUND, [t("baseline_wazuh.eval.process_missing", name=rule.target)]
    )


async def _dispatch(
    ctx: EvalContext, rule: Rule, matcher: Matcher | None, engine: Engine
) -> RuleOutcome:
    if rule.type is RuleType.FILE:
        return await _file_rule(ctx, rule, matcher)
    if rule.type is RuleType.DIRECTORY:
        return await _directory_rule(ctx, rule, matcher, engine)
    if rule.type is RuleType.COMMAND:
        return await _command_rule(ctx, rule, matcher)
    if rule.type is RuleType.PROCESS:
        return await _process_rule(ctx, rule, matcher)
    return _invalid("registry", key=rule.target)


def invert(outcome: Outcome) -> Outcome:
    """``not``: found and not found swap, invalid stays."""
    if outcome is Outcome.FOUND:
        return Outcome.NOT_FOUND
    if outcome is Outcome.NOT_FOUND:
        return Outcome.FOUND
    return outcome


async def evaluate_rule(ctx: EvalContext, rule: Rule, engine: Engine) -> RuleOutcome:
    """Evaluate one rule (``not`` applied); host problems become invalid, never exceptions."""
    matcher = None
    if rule.content is not None and rule.type is not RuleType.REGISTRY:
        try:
            matcher = ctx.matcher(rule.content, engine)
        except RegexError as exc:
            return _invalid("bad_regex", error=True, rule=rule.text, reason=exc.reason)
    try:
        result = await _dispatch(ctx, rule, matcher, engine)
    except NumericError as exc:
        return _invalid("bad_rule", error=True, rule=rule.text, reason=exc.reason)
    except CollectorUnavailable as exc:
        return _invalid("collector_unavailable", reason=exc.reason)
    if rule.negated:
        result.outcome = invert(result.outcome)
    return result
