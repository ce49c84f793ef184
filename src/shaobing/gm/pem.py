"""PEM armour (RFC 7468): strict base64 between BEGIN/END lines, with a size limit."""

from __future__ import annotations

import base64
import binascii
import re

from shaobing.core.errors import ValidationError
from shaobing.core.i18n import t

# A certificate or key file is a few kilobytes; refuse anything much larger unread.
MAX_PEM = 64 * 1024
_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]{1,40})-----\r?\n(.*?)\r?\n?-----END \1-----", re.DOTALL)
_BASE64_LINE = re.compile(r"[A-Za-z0-9+/=]*")


def encode_pem(label: str, der: bytes) -> str:
    """Armour ``der`` under ``label`` with 64-character lines."""
    text = base64.b64encode(der).decode("ascii")
    lines = [text[i : i + 64] for i in range(0, len(text), 64)]
    return f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----\n"


def decode_pem(data: bytes, labels: tuple[str, ...]) -> tuple[str, bytes]:
    """The label and contents of the first block with one of ``labels``.

    Text around the blocks (``openssl x509 -text`` puts some before) is ignored; a block
    with RFC 1421 headers (legacy encrypted keys) or invalid base64 is refused.
    """
    if len(data) > MAX_PEM:
        raise ValidationError(t("gm.pem.too_large", size=len(data), limit=MAX_PEM))
    try:
        text = bytes(data).decode("ascii")
    except UnicodeDecodeError:
        raise ValidationError(t("gm.pem.not_text")) from None
    found: list[str] = []
    for match in _BLOCK.finditer(text):
        label = match[1]
        found.append(label)
        if label not in labels:
            continue
        body = match[2]
        if ":" in body:
            raise ValidationError(t("gm.pem.headers", label=label))
        lines = [line.strip() for line in body.splitlines()]
        if not all(_BASE64_LINE.fullmatch(line) for line in lines):
            raise ValidationError(t("gm.pem.bad_base64", label=label))
        try:
            der = base64.b64decode("".join(lines), validate=True)
        except (binascii.Error, ValueError):
            raise ValidationError(t("gm.pem.bad_base64", label=label)) from None
        if not der:
            raise ValidationError(t("gm.pem.bad_base64", label=label))
        return label, der
    if found:
        raise ValidationError(
            t("gm.pem.wrong_label", found="、".join(found[:3]), wanted="、".join(labels))
        )
    raise ValidationError(t("gm.pem.no_block", wanted="、".join(labels)))
