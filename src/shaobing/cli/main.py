"""Entry point of the ``shaobing`` command: wires the command groups and maps errors to exit codes.

Exit codes: 0 success, 1 user error (one line on stderr naming the item), 2 usage error
(Click's), 3 internal error (one line; the traceback goes to the error log, not the screen).
"""

from __future__ import annotations

import sys
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import pydantic
import typer

from shaobing import __version__
from shaobing.baseline.retest_hook import register_baseline_retest
from shaobing.cli import (
    assets,
    audit,
    baseline,
    ca,
    clients,
    credentials,
    datasec,
    deliverables,
    engagements,
    findings,
    init_cmd,
    mlps,
    policy,
    report,
    risk,
    scan,
    scope,
    serve,
    users,
    vulndb,
    vulndb_match,
    webscan,
    workorders,
)
from shaobing.cli import (
    templates as template_cmd,
)
from shaobing.cli.output import err_console
from shaobing.core.errors import ShaobingError
from shaobing.core.i18n import set_language, t
from shaobing.core.settings import get_settings
from shaobing.scan.retest import register_network_retest
from shaobing.web.retest import register_web_retest

app = typer.Typer(
    name="shaobing",
    help=t("cli.help.app"),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("init", help=t("cli.help.init"))(init_cmd.init)
app.add_typer(clients.app, name="client", help=t("cli.help.client"))
app.add_typer(engagements.app, name="engagement", help=t("cli.help.engagement"))
app.add_typer(deliverables.app, name="deliverables", help=t("deliverables.cli.help_group"))
app.add_typer(assets.app, name="asset", help=t("cli.help.asset"))
app.add_typer(scope.app, name="scope", help=t("cli.help.scope"))
app.add_typer(audit.app, name="audit", help=t("cli.help.audit"))
app.add_typer(findings.app, name="findings", help=t("cli.help.findings"))
app.add_typer(workorders.app, name="workorder", help=t("cli.help.workorder"))
app.command("retest", help=t("cli.help.retest"))(findings.retest)
app.add_typer(scan.app, name="scan", help=t("cli.help.scan"))
vulndb_match.register(vulndb.app)
app.add_typer(vulndb.app, name="vulndb", help=t("vulndb.help.group"))
app.add_typer(template_cmd.app, name="template", help=t("cli.help.template"))
app.add_typer(policy.app, name="policy", help=t("cli.help.policy"))
app.add_typer(baseline.app, name="baseline", help=t("baseline.cli.help_group"))
app.add_typer(mlps.app, name="mlps", help=t("mlps.cli.help_group"))
app.add_typer(datasec.app, name="datasec", help=t("datasec.cli.help_group"))
app.add_typer(risk.app, name="risk", help=t("risk.cli.help"))
app.add_typer(report.app, name="report", help=t("reports.cli.help_group"))
app.add_typer(users.app, name="user", help=t("auth.cli.help_group"))
app.add_typer(ca.app, name="ca", help=t("gm.cli.help_group"))
app.add_typer(credentials.app, name="cred", help=t("credentials.cli.help_group"))
app.command("webscan", help=t("web.cli.help"))(webscan.webscan)
app.command("serve", help=t("server.serve.help"))(serve.serve)
register_network_retest()
register_web_retest()
register_baseline_retest()


def _version(value: bool) -> None:
    if value:
        typer.echo(f"shaobing {__version__}")
        raise typer.Exit


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help=t("cli.help.version")),
    ] = False,
) -> None:
    """Global options."""


def _log_internal_error(exc: BaseException) -> Path | None:
    try:
        log_dir = get_settings().log_dir
        log_dir.mkdir(parents=True, exist_ok=True)
        path = log_dir / "error.log"
        with path.open("a", encoding="utf-8") as fh:
            fh.write(f"--- {datetime.now(UTC).isoformat()} {' '.join(sys.argv)}\n")
            fh.write("".join(traceback.format_exception(exc)))
        return path
    except Exception:  # noqa: BLE001 - the error log itself must never raise
        return None


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (also used as the console script)."""
    try:
        set_language(get_settings().language)
        result = app(args=argv, prog_name="shaobing", standalone_mode=False)
    except ShaobingError as exc:
        err_console.print(
            f"{t('common.error_prefix')}：{exc.message}", markup=False, soft_wrap=True
        )
        return exc.exit_code
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except typer.Abort:
        return 130
    except typer.TyperException as exc:
        # Usage errors (exit 2) and other parser errors: the parser's own one-line message.
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            err_console.print(exc.format_message(), markup=False)
        return exc.exit_code
    except pydantic.ValidationError as exc:
        # Settings from the environment (SHAOBING_*) that do not validate.
        first = exc.errors()[0]
        err_console.print(
            t("cli.bad_setting", field=".".join(str(p) for p in first["loc"]), reason=first["msg"]),
            markup=False,
            soft_wrap=True,
        )
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - last resort: one line, traceback to the log
        log = _log_internal_error(exc)
        err_console.print(
            t("common.internal_error", detail=f"{type(exc).__name__}: {exc}", log=log or "-"),
            markup=False,
            soft_wrap=True,
        )
        return 3
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
