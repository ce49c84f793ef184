"""``shaobing cred add/list/remove/rotate``: the target credential vault (J2).

Secrets never appear on the command line (where ``ps`` and shell history would show them):
passwords are typed at a hidden prompt or read from standard input, SSH keys are read from
a file (its passphrase at a hidden prompt or from standard input).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from shaobing.cli.output import actor, console, db_session, print_json, print_table
from shaobing.core.errors import ValidationError
from shaobing.core.i18n import t
from shaobing.credentials import service
from shaobing.credentials.patterns import ANY
from shaobing.engagements.service import resolve_engagement

app = typer.Typer(no_args_is_help=True, help=t("credentials.cli.help_group"))

NameArg = Annotated[str, typer.Argument(help=t("credentials.cli.help_name"))]
EngagementOpt = Annotated[
    str, typer.Option("--engagement", "-e", help=t("credentials.cli.help_engagement"))
]
StdinOpt = Annotated[
    bool, typer.Option("--password-stdin", help=t("credentials.cli.help_password_stdin"))
]
KeyFileOpt = Annotated[
    Path | None, typer.Option("--key-file", help=t("credentials.cli.help_key_file"))
]
JsonOpt = Annotated[bool, typer.Option("--json", help=t("credentials.cli.help_json"))]

# A password line longer than this is not a password; bounds what is read from a pipe.
MAX_STDIN_CHARS = service.MAX_PASSWORD + 2


def _stdin_line() -> str:
    line = sys.stdin.readline(MAX_STDIN_CHARS)
    return line.rstrip("\r\n")


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = _stdin_line()
        if not password:
            raise ValidationError(t("credentials.cli.stdin_empty"))
        return password
    first = typer.prompt(t("credentials.cli.prompt_password"), hide_input=True)
    second = typer.prompt(t("credentials.cli.prompt_confirm"), hide_input=True)
    if first != second:
        raise ValidationError(t("credentials.cli.password_mismatch"))
    return str(first)


def _read_key(path: Path, from_stdin: bool) -> service.Secret:
    try:
        if path.stat().st_size > service.MAX_KEY:
            raise ValidationError(t("credentials.key_too_long", limit=service.MAX_KEY))
        pem = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        detail = getattr(exc, "strerror", None) or type(exc).__name__
        raise ValidationError(
            t("credentials.cli.key_file_unreadable", path=path, detail=detail)
        ) from None
    if from_stdin:
        passphrase = _stdin_line()
    else:
        passphrase = str(
            typer.prompt(
                t("credentials.cli.prompt_passphrase"),
                hide_input=True,
                default="",
                show_default=False,
            )
        )
    return service.Secret(pem, passphrase or None)


def _read_secret(kind: str, key_file: Path | None, from_stdin: bool) -> service.Secret:
    if kind == service.SSH_KEY:
        if key_file is None:
            raise ValidationError(t("credentials.cli.key_file_needed"))
        return _read_key(key_file, from_stdin)
    if key_file is not None:
        raise ValidationError(t("credentials.cli.key_file_only_for_key"))
    return service.Secret(_read_password(from_stdin))


@app.command("add", help=t("credentials.cli.help_add"))
def add(
    name: NameArg,
    engagement: EngagementOpt,
    kind: Annotated[str, typer.Option("--kind", help=t("credentials.cli.help_kind"))],
    user: Annotated[str, typer.Option("--user", help=t("credentials.cli.help_user"))],
    target: Annotated[
        list[str] | None, typer.Option("--target", help=t("credentials.cli.help_target"))
    ] = None,
    key_file: KeyFileOpt = None,
    password_stdin: StdinOpt = False,
) -> None:
    """Add a credential to an engagement."""
    data = service.CredentialInput(name, kind, user, list(target or [ANY]))
    # Check what can be checked before asking for the secret, in a read-only transaction:
    # a typo fails before the prompt, and no write lock is held while a person types.
    service.check_name(name)
    service.check_username(service.check_kind(kind), user)
    with db_session(readonly=True) as session:
        service.ensure_new_name(session, resolve_engagement(session, engagement), name)
    secret = _read_secret(kind, key_file, password_stdin)
    with db_session() as session:
        found = resolve_engagement(session, engagement)
        cred = service.add_credential(session, found, data, secret, actor=actor())
        shown = service.credential_as_dict(cred)
    console.print(
        t(
            "credentials.cli.added",
            name=shown["name"],
            kind=shown["kind_label"],
            username=shown["username"] or "-",
            targets="、".join(shown["targets"]),
        ),
        markup=False,
        soft_wrap=True,
    )


@app.command("list", help=t("credentials.cli.help_list"))
def list_(engagement: EngagementOpt, json_out: JsonOpt = False) -> None:
    """List an engagement's credentials, without secrets."""
    with db_session(readonly=True) as session:
        found = resolve_engagement(session, engagement)
        rows = [service.credential_as_dict(c) for c in service.list_credentials(session, found)]
    if json_out:
        print_json({"credentials": rows})
        return
    print_table(
        t("credentials.cli.title"),
        [
            t("credentials.cli.col_name"),
            t("credentials.cli.col_kind"),
            t("credentials.cli.col_user"),
            t("credentials.cli.col_targets"),
            t("credentials.cli.col_updated"),
            t("credentials.cli.col_used"),
        ],
        [
            [
                r["name"],
                r["kind_label"],
                r["username"] or None,
                "、".join(r["targets"]),
                r["updated_at"],
                r["last_used_at"],
            ]
            for r in rows
        ],
    )


@app.command("remove", help=t("credentials.cli.help_remove"))
def remove(name: NameArg, engagement: EngagementOpt) -> None:
    """Delete a credential."""
    with db_session() as session:
        found = resolve_engagement(session, engagement)
        cred = service.get_credential(session, found, name)
        shown = cred.name
        service.remove_credential(session, cred, actor=actor())
    console.print(t("credentials.cli.removed", name=shown), markup=False, soft_wrap=True)


@app.command("rotate", help=t("credentials.cli.help_rotate"))
def rotate(
    name: NameArg,
    engagement: EngagementOpt,
    key_file: KeyFileOpt = None,
    password_stdin: StdinOpt = False,
) -> None:
    """Replace a credential's secret."""
    with db_session(readonly=True) as session:
        kind = service.get_credential(session, resolve_engagement(session, engagement), name).kind
    secret = _read_secret(kind, key_file, password_stdin)
    with db_session() as session:
        found = resolve_engagement(session, engagement)
        cred = service.get_credential(session, found, name)
        service.rotate_credential(session, cred, secret, actor=actor())
        shown = cred.name
    console.print(t("credentials.cli.rotated", name=shown), markup=False, soft_wrap=True)
