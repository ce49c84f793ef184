"""``shaobing ca init/issue/show/sign/verify``: a local SM2 test CA for certificate login (J2).

The CA lives in ``$SHAOBING_HOME/ca`` unless ``--dir`` says otherwise; the server reads
its ``ca.crt`` to check login certificates (docs/sm2-login.md).
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from shaobing.cli.output import console, print_table, write_json
from shaobing.core.i18n import t
from shaobing.gm import authority, certs, sm2, x509
from shaobing.gm.challenge import challenge_message
from shaobing.gm.keys import load_private_key

app = typer.Typer(no_args_is_help=True)

DirOpt = Annotated[Path | None, typer.Option("--dir", help=t("gm.cli.help_dir"))]
JsonOpt = Annotated[str | None, typer.Option("--json", help=t("gm.cli.help_json"))]
CertArg = Annotated[Path, typer.Argument(help=t("gm.cli.help_cert"))]

# Organisation-defined defaults: ten years for the test CA, one year for user certificates.
CA_DAYS = 3650
USER_DAYS = 365


def _now() -> datetime:
    return datetime.now(UTC)


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _emit(json_out: str | None, data: dict[str, Any]) -> bool:
    """Write JSON when asked; True when standard output is taken by it."""
    write_json(json_out, data)
    return json_out == "-"


def _describe(cert: x509.Certificate) -> dict[str, Any]:
    algorithm, params = cert.key_algorithm
    return {
        "subject": x509.format_name(cert.subject_attrs),
        "issuer": x509.format_name(cert.issuer_attrs),
        "common_name": cert.common_name,
        "serial_hex": cert.serial_hex,
        "not_before": cert.not_before.isoformat(),
        "not_after": cert.not_after.isoformat(),
        "public_key_algorithm": algorithm,
        "public_key_parameters": params,
        "signature_algorithm": cert.signature_algorithm,
        "is_ca": bool(cert.is_ca),
        "key_usage": sorted(cert.key_usage or ()),
        "extended_key_usage": sorted(cert.ext_key_usage or ()),
        "fingerprint_sm3": cert.fingerprint_sm3,
    }


@app.command("init", help=t("gm.cli.help_init"))
def init(
    directory: DirOpt = None,
    common_name: Annotated[str | None, typer.Option("--cn", help=t("gm.cli.help_cn"))] = None,
    days: Annotated[int, typer.Option("--days", help=t("gm.cli.help_days"))] = CA_DAYS,
    force: Annotated[bool, typer.Option("--force", help=t("gm.cli.help_force"))] = False,
    json_out: JsonOpt = None,
) -> None:
    """Create the test CA."""
    target = directory or authority.default_ca_dir()
    issued = authority.init_ca(
        target,
        common_name=common_name or t("gm.ca.default_cn"),
        days=days,
        force=force,
        now=_now(),
    )
    data = {"cert": str(issued.cert_path), "key": str(issued.key_path), **_describe(issued.cert)}
    if _emit(json_out, data):
        return
    console.print(
        t(
            "gm.cli.ca_created",
            name=issued.cert.common_name,
            cert=issued.cert_path,
            key=issued.key_path,
        ),
        markup=False,
        soft_wrap=True,
    )


@app.command("issue", help=t("gm.cli.help_issue"))
def issue(
    username: Annotated[str, typer.Argument(help=t("gm.cli.help_username"))],
    directory: DirOpt = None,
    out: Annotated[Path | None, typer.Option("--out", help=t("gm.cli.help_out"))] = None,
    days: Annotated[int, typer.Option("--days", help=t("gm.cli.help_days"))] = USER_DAYS,
    force: Annotated[bool, typer.Option("--force", help=t("gm.cli.help_force"))] = False,
    json_out: JsonOpt = None,
) -> None:
    """Issue a user login certificate."""
    ca_dir = directory or authority.default_ca_dir()
    issued = authority.issue_user(
        ca_dir, username, out_dir=out or ca_dir / "users", days=days, now=_now(), force=force
    )
    data = {"cert": str(issued.cert_path), "key": str(issued.key_path), **_describe(issued.cert)}
    if _emit(json_out, data):
        return
    console.print(
        t(
            "gm.cli.issued",
            user=issued.cert.common_name,
            cert=issued.cert_path,
            key=issued.key_path,
            not_after=_when(issued.cert.not_after),
        ),
        markup=False,
        soft_wrap=True,
    )


@app.command("show", help=t("gm.cli.help_show"))
def show(cert_file: CertArg, json_out: JsonOpt = None) -> None:
    """Show a certificate's fields."""
    cert = certs.load_certificate(authority.read_small(cert_file))
    data = _describe(cert)
    if _emit(json_out, data):
        return
    params = data["public_key_parameters"]
    rows = [
        (t("gm.cli.field_subject"), data["subject"]),
        (t("gm.cli.field_issuer"), data["issuer"]),
        (t("gm.cli.field_serial"), data["serial_hex"]),
        (t("gm.cli.field_not_before"), _when(cert.not_before)),
        (t("gm.cli.field_not_after"), _when(cert.not_after)),
        (
            t("gm.cli.field_key"),
            f"{x509.oid_label(data['public_key_algorithm'])} / {x509.oid_label(params)}",
        ),
        (t("gm.cli.field_signature"), x509.oid_label(data["signature_algorithm"])),
        (t("gm.cli.field_ca"), t("gm.cli.answer_yes" if cert.is_ca else "gm.cli.answer_no")),
        (t("gm.cli.field_key_usage"), ", ".join(data["key_usage"]) or None),
        (
            t("gm.cli.field_eku"),
            ", ".join(x509.oid_label(o) for o in data["extended_key_usage"]) or None,
        ),
        (t("gm.cli.field_fingerprint"), data["fingerprint_sm3"]),
    ]
    print_table(t("gm.cli.title"), [t("gm.cli.col_field"), t("gm.cli.col_value")], rows)


@app.command("sign", help=t("gm.cli.help_sign"))
def sign(
    key: Annotated[Path, typer.Option("--key", help=t("gm.cli.help_key"))],
    challenge: Annotated[str, typer.Option("--challenge", help=t("gm.cli.help_challenge"))],
    user: Annotated[str, typer.Option("--user", help=t("gm.cli.help_user"))],
) -> None:
    """Sign a login challenge; prints the base64 DER signature."""
    message = challenge_message(challenge, user)
    private = load_private_key(authority.read_small(key))
    signature = sm2.encode_signature(sm2.sign(private, message))
    typer.echo(base64.b64encode(signature).decode("ascii"))


@app.command("verify", help=t("gm.cli.help_verify"))
def verify(cert_file: CertArg, directory: DirOpt = None, json_out: JsonOpt = None) -> None:
    """Check a user certificate against the CA."""
    ca_path = (directory or authority.default_ca_dir()) / certs.CA_CERT_NAME
    ca_pem = authority.read_small(ca_path)
    ident = certs.verify_certificate(ca_pem, authority.read_small(cert_file), now=_now())
    ca = certs.load_certificate(ca_pem)
    data = {
        "valid": True,
        "common_name": ident.common_name,
        "serial_hex": ident.serial_hex,
        "not_before": ident.not_before.isoformat(),
        "not_after": ident.not_after.isoformat(),
        "fingerprint_sm3": ident.fingerprint_sm3,
        "ca": x509.format_name(ca.subject_attrs),
    }
    if _emit(json_out, data):
        return
    console.print(
        t(
            "gm.cli.verified",
            name=ident.common_name,
            ca=data["ca"],
            not_after=_when(ident.not_after),
        ),
        markup=False,
        soft_wrap=True,
    )
