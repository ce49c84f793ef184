"""``shaobing template``: validate and run Nuclei-format templates.

``run`` treats the targets on the command line as the authorised scope: a scope gate is
built over exactly those targets, so a redirect or a template host elsewhere gets no
packet.
"""

from __future__ import annotations

import json
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import typer

from shaobing.cli.output import actor, err_console
from shaobing.core.errors import ShaobingError, ValidationError
from shaobing.core.i18n import t
from shaobing.core.scope import Scope
from shaobing.scan.context import RateLimiter, ScanContext, ScopeGate
from shaobing.templates.model import Template
from shaobing.templates.output import result_line
from shaobing.templates.runner import TemplateNotRunnable, execute
from shaobing.templates.state import TemplateResult
from shaobing.templates.validate import Summary, template_files, validate_file
from shaobing.templates.variables import TargetError, normalise_target

app = typer.Typer(no_args_is_help=True)

PathsArg = Annotated[list[Path], typer.Argument(help=t("templates.cli.help_paths"))]
JsonOpt = Annotated[bool, typer.Option("--json", help=t("templates.cli.help_json"))]


def _files(paths: list[Path]) -> list[tuple[Path, Path]]:
    for path in paths:
        if not path.exists():
            raise ValidationError(t("templates.cli.path_missing", path=path))
    files = list(template_files(paths))
    if not files:
        raise ValidationError(
            t("templates.cli.no_templates", paths=", ".join(str(p) for p in paths))
        )
    return files


def _features_line(summary: Summary) -> str:
    return ", ".join(f"{name} {count}" for name, count in summary.features.most_common())


@app.command("validate", help=t("templates.cli.help_validate"))
def validate(paths: PathsArg, as_json: JsonOpt = False) -> None:
    """Report per template whether it loads and what it uses that cannot run."""
    summary = Summary()
    for file, root in _files(paths):
        result = validate_file(file, root)
        summary.add(result)
        if as_json:
            sys.stdout.write(json.dumps(result.record(), ensure_ascii=False) + "\n")
        else:
            if result.error:
                status = t("templates.cli.fails")
            elif result.unsupported:
                status = ", ".join(result.unsupported)
            else:
                status = t("templates.cli.runnable")
            template_id = result.template.id if result.template else "-"
            sys.stdout.write(f"{file}\t{template_id}\t{status}\n")
            if result.error:
                sys.stdout.write(f"  {result.error}\n")
    err_console.print(
        t(
            "templates.cli.summary_validate",
            total=summary.total,
            loaded=summary.loaded,
            failed=summary.total - summary.loaded,
            runnable=summary.runnable,
            refused=summary.loaded - summary.runnable,
        ),
        markup=False,
        soft_wrap=True,
    )
    if summary.features:
        err_console.print(
            t("templates.cli.summary_features", features=_features_line(summary)),
            markup=False,
            soft_wrap=True,
        )


def _scope_entry(target: str) -> str:
    """The scope entry for a target: the host alone when no port is given (every port
    the templates name), else the URL (that port only)."""
    url = normalise_target(target)
    parts = urlsplit(url)
    if "://" not in target and ":" not in target.strip("[]"):
        return parts.hostname or target
    return url


def _resolver_host(value: str) -> str:
    """The address of a ``host[:port]`` resolver (IPv6 in brackets when a port is given)."""
    text = value.strip()
    if text.startswith("["):
        return text[1:].split("]", 1)[0]
    if text.count(":") == 1:
        return text.split(":", 1)[0]
    return text


def build_context(
    targets: list[str], timeout: float, resolvers: list[str] | None = None
) -> ScanContext:
    """A scan context whose scope is exactly ``targets`` plus the DNS ``resolvers`` the
    user named for dns templates (nothing else is reachable)."""
    try:
        entries = [_scope_entry(target) for target in targets]
    except TargetError as exc:
        raise ValidationError(t("templates.run.bad_target", target=exc.args[0])) from None
    entries += [_resolver_host(value) for value in resolvers or []]
    try:
        scope = Scope.from_strings(includes=entries)
    except ShaobingError:
        bad = next((r for r in resolvers or [] if r not in targets), entries[-1])
        raise ValidationError(t("templates.run.bad_target", target=bad)) from None
    gate = ScopeGate(scope, client_id=0, engagement_id=0, audit_engine=None, actor=actor())
    options = {"dns_resolvers": list(resolvers)} if resolvers else {}
    return ScanContext(gate, RateLimiter(0), timeout=timeout, options=options)


def _human(result: TemplateResult) -> str:
    name = f" [{result.matcher_name}]" if result.matcher_name else ""
    extracted = f" {result.extracted}" if result.extracted else ""
    return t(
        "templates.cli.match_line",
        severity=result.template.info.severity,
        id=result.template.id,
        matched=result.matched_at,
        name=name,
        extracted=extracted,
    )


@app.command("run", help=t("templates.cli.help_run"))
def run(
    paths: PathsArg,
    target: Annotated[
        list[str], typer.Option("--target", "-t", help=t("templates.cli.help_target"))
    ],
    as_json: JsonOpt = False,
    concurrency: Annotated[
        int,
        typer.Option(
            "--concurrency", "-c", min=1, max=256, help=t("templates.cli.help_concurrency")
        ),
    ] = 10,
    timeout: Annotated[
        float, typer.Option("--timeout", min=0.1, max=120, help=t("templates.cli.help_timeout"))
    ] = 10.0,
    include_exchange: Annotated[
        bool, typer.Option("--include-exchange", help=t("templates.cli.help_exchange"))
    ] = False,
    resolver: Annotated[
        list[str] | None, typer.Option("--resolver", help=t("templates.cli.help_resolver"))
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help=t("templates.cli.help_verbose"))
    ] = False,
) -> None:
    """Run templates against targets; one line (or JSON object) per match."""
    ctx = build_context(target, timeout, list(resolver or []))
    templates: list[Template] = []
    refused = 0
    for file, root in _files(paths):
        result = validate_file(file, root)
        if result.template is None or not result.template.runnable:
            refused += 1
            reason = result.error or ", ".join(result.unsupported)
            err_console.print(
                t("templates.cli.refused_template", path=file, reason=reason),
                markup=False,
                soft_wrap=True,
            )
            continue
        templates.append(result.template)
    lock = threading.Lock()
    counts = {"requests": 0, "matches": 0}

    def work(pair: tuple[Template, str]) -> None:
        template, where = pair
        try:
            report = execute(template, where, ctx)
        except TemplateNotRunnable:  # pragma: no cover - filtered above
            return
        except ShaobingError as exc:
            # Refused at run time (e.g. callbacks without SHAOBING_OOB_DOMAIN): one line.
            with lock:
                err_console.print(
                    t("templates.cli.refused_template", path=template.path, reason=str(exc)),
                    markup=False,
                    soft_wrap=True,
                )
            return
        except Exception as exc:  # noqa: BLE001 - one bad template must not stop the run
            with lock:
                err_console.print(
                    t("templates.cli.refused_template", path=template.path, reason=repr(exc)),
                    markup=False,
                    soft_wrap=True,
                )
            return
        with lock:
            counts["requests"] += report.requests
            counts["matches"] += len(report.results)
            if verbose:
                for note in report.notes:
                    err_console.print(
                        t("templates.cli.note_line", id=template.id, target=where, note=note),
                        markup=False,
                        soft_wrap=True,
                    )
            for item in report.results:
                if as_json:
                    line = result_line(item, include_exchange=include_exchange)
                else:
                    line = _human(item)
                sys.stdout.write(line + "\n")
            sys.stdout.flush()

    pairs = [(template, where) for template in templates for where in target]
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(work, pairs))
    err_console.print(
        t(
            "templates.cli.summary_run",
            templates=len(templates),
            targets=len(target),
            requests=counts["requests"],
            matches=counts["matches"],
            refused=refused,
        ),
        markup=False,
        soft_wrap=True,
    )
