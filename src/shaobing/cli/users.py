"""``shaobing user add/list/passwd/role/lock/unlock/disable/enable``: platform accounts (J2).

Passwords never appear on the command line (where ``ps`` and shell history would show
them): they are typed at a hidden prompt or read from standard input.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from shaobing.auth import service
from shaobing.auth.policy import AuthContext
from shaobing.cli.output import actor, console, db_session, print_table, write_json
from shaobing.core.errors import ValidationError
from shaobing.core.i18n import t
from shaobing.engagements.service import resolve_client

app = typer.Typer(no_args_is_help=True)

NameArg = Annotated[str, typer.Argument(help=t("auth.cli.help_name"))]
StdinOpt = Annotated[bool, typer.Option("--password-stdin", help=t("auth.cli.help_password_stdin"))]
ClientOpt = Annotated[str | None, typer.Option("--client", help=t("auth.cli.help_client"))]

# A password line longer than this is not a password; bounds what is read from a pipe.
MAX_STDIN_CHARS = 4096


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline(MAX_STDIN_CHARS)
        password = line.rstrip("\r\n")
        if not password:
            raise ValidationError(t("auth.cli.stdin_empty"))
        return password
    first = typer.prompt(t("auth.cli.prompt_password"), hide_input=True)
    second = typer.prompt(t("auth.cli.prompt_confirm"), hide_input=True)
    if first != second:
        raise ValidationError(t("auth.cli.password_mismatch"))
    return str(first)


def _role_label(role: str) -> str:
    return t(f"auth.role.{role}")


@app.command("add", help=t("auth.cli.help_add"))
def add(
    name: NameArg,
    role: Annotated[str, typer.Option("--role", help=t("auth.cli.help_role_arg"))],
    client: ClientOpt = None,
    display_name: Annotated[
        str | None, typer.Option("--display-name", help=t("auth.cli.help_display_name"))
    ] = None,
    password_stdin: StdinOpt = False,
) -> None:
    """Add a platform user."""
    ctx = AuthContext()
    service.normalise_username(name)
    # Lookups first, in a read-only transaction: a typo fails before the password prompt, and
    # no write lock is held while a person types.
    with db_session(readonly=True) as session:
        client_id = resolve_client(session, client).id if client else None
    password = _read_password(password_stdin)
    with db_session() as session:
        user = service.create_user(
            session,
            name,
            role=role,
            password=password,
            client_id=client_id,
            display_name=display_name,
            actor=actor(),
            ctx=ctx,
        )
        shown = (user.username, user.role)
    console.print(t("auth.cli.added", name=shown[0], role=_role_label(shown[1])), markup=False)


@app.command("list", help=t("auth.cli.help_list"))
def list_(
    client: ClientOpt = None,
    json_out: Annotated[str | None, typer.Option("--json", help=t("auth.cli.help_json"))] = None,
) -> None:
    """List platform users."""
    ctx = AuthContext()
    with db_session(readonly=True) as session:
        client_id = resolve_client(session, client).id if client else None
        rows = [
            service.user_as_dict(u, ctx=ctx)
            for u in service.list_users(session, client_id=client_id)
        ]
    if json_out is not None:
        write_json(json_out, {"users": rows})
        if json_out == "-":
            return
    print_table(
        t("auth.cli.title"),
        [
            t("auth.cli.col_name"),
            t("auth.cli.col_display"),
            t("auth.cli.col_role"),
            t("auth.cli.col_client"),
            t("auth.cli.col_status"),
            t("auth.cli.col_last_login"),
        ],
        [
            [
                r["username"],
                r["display_name"],
                _role_label(r["role"]),
                r["client_id"],
                _status(r),
                r["last_login_at"],
            ]
            for r in rows
        ],
    )


def _status(row: dict[str, object]) -> str:
    parts = []
    if not row["active"]:
        parts.append(t("auth.cli.status_disabled"))
    if row["locked"]:
        parts.append(t("auth.cli.status_locked"))
    if row["must_change_password"]:
        parts.append(t("auth.cli.status_must_change"))
    return "、".join(parts) or t("auth.cli.status_active")


@app.command("passwd", help=t("auth.cli.help_passwd"))
def passwd(name: NameArg, password_stdin: StdinOpt = False) -> None:
    """Reset a user's password."""
    ctx = AuthContext()
    with db_session(readonly=True) as session:
        service.get_user(session, name)
    password = _read_password(password_stdin)
    with db_session() as session:
        user = service.reset_password(session, name, password, actor=actor(), ctx=ctx)
        username = user.username
    console.print(t("auth.cli.passwd_done", name=username), markup=False)


@app.command("role", help=t("auth.cli.help_role"))
def role(
    name: NameArg,
    new_role: Annotated[str, typer.Argument(metavar="ROLE", help=t("auth.cli.help_role_arg"))],
    client: ClientOpt = None,
) -> None:
    """Change a user's role."""
    ctx = AuthContext()
    with db_session() as session:
        client_id = resolve_client(session, client).id if client else None
        user = service.set_role(
            session, name, new_role, client_id=client_id, actor=actor(), ctx=ctx
        )
        shown = (user.username, user.role)
    console.print(t("auth.cli.role_done", name=shown[0], role=_role_label(shown[1])), markup=False)


@app.command("lock", help=t("auth.cli.help_lock"))
def lock(name: NameArg) -> None:
    """Lock a user."""
    with db_session() as session:
        username = service.lock_user(session, name, actor=actor(), ctx=AuthContext()).username
    console.print(t("auth.cli.locked", name=username), markup=False)


@app.command("unlock", help=t("auth.cli.help_unlock"))
def unlock(name: NameArg) -> None:
    """Unlock a user."""
    with db_session() as session:
        username = service.unlock_user(session, name, actor=actor(), ctx=AuthContext()).username
    console.print(t("auth.cli.unlocked", name=username), markup=False)


@app.command("disable", help=t("auth.cli.help_disable"))
def disable(name: NameArg) -> None:
    """Disable a user."""
    with db_session() as session:
        user = service.set_active(session, name, False, actor=actor(), ctx=AuthContext())
        username = user.username
    console.print(t("auth.cli.disabled", name=username), markup=False)


@app.command("enable", help=t("auth.cli.help_enable"))
def enable(name: NameArg) -> None:
    """Enable a user."""
    with db_session() as session:
        user = service.set_active(session, name, True, actor=actor(), ctx=AuthContext())
        username = user.username
    console.print(t("auth.cli.enabled", name=username), markup=False)
