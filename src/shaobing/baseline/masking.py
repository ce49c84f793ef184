"""Secrets never leave a check in clear text: observed texts are masked before they are shown,
stored or turned into findings (passwords in config lines, XML attributes, shadow hashes,
database password columns)."""

from __future__ import annotations

import re

from shaobing.findings.masking import MASK, mask_secrets

_SECRET_WORDS = (
    r"requirepass|masterauth|masteruser_password|password|passwd|secret|requiredsecret|"  # noqa: S105
    r"keystorepass|truststorepass|keypass|certificatekeystorepassword|authentication_string|"
    r"rolpassword|auth_pass|ssl_password|private_key_password|pass"
)
_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # XML attributes: password="...", requiredSecret='...', keystorePass="..."
    (
        re.compile(
            rf"""(?i)(\b[\w.-]*(?:{_SECRET_WORDS})[\w.-]*\s*=\s*)(["'])(?!(?:true|false)\2)[^"']*\2"""
        ),
        r"\1\2" + MASK + r"\2",
    ),
    # row text from SQL probes: authentication_string=..., rolpassword=...
    (
        re.compile(
            r"(?i)(\b(?:authentication_string|rolpassword|password|passwd)=)(?![\"'])[^,;]*"
        ),
        r"\1" + MASK,
    ),
    # "requirepass secret", "masterauth x" config lines (space syntax), after file:line:
    (
        re.compile(r"(?im)((?:^|:\s|；)\s*(?:requirepass|masterauth|masteruser)\s+)\S+"),
        r"\1" + MASK,
    ),
    # key = value lines whose key names a password
    (
        re.compile(rf"(?im)((?:^|:\s|；)\s*[\w.-]*(?:{_SECRET_WORDS})[\w.-]*\s*=\s*)[^\s；]+"),
        r"\1" + MASK,
    ),
    # name/value rows (Redis CONFIG GET, MySQL SHOW VARIABLES) naming a secret setting
    (
        re.compile(rf"(?i)(\bname=[\w.-]*(?:{_SECRET_WORDS})[\w.-]*,\s*value=)[^,;]*"),
        r"\1" + MASK,
    ),
    # Redis ACL LIST: #<sha256> hashes and >cleartext passwords
    (re.compile(r"(?<![\w#])#[0-9a-fA-F]{64}\b"), "#" + MASK),
    # shadow lines: name:$id$salt$hash:...
    (re.compile(r"(?m)(\b[a-z_][\w.-]*:)\$[^:\s]+(:)"), r"\1" + MASK + r"\2"),
]


# ACL rules "user NAME on ... >cleartext ..." (only inside such a rule: ">" elsewhere is a
# shell redirection in a command text)
_ACL_RULE = re.compile(r"\buser\s+\S+\s+(?:on|off)\b[^；\n]*")
_ACL_PASSWORD = re.compile(r"(?<=\s)>\S+")


def mask_observed(text: str) -> str:
    """The observed text with secrets replaced by ******."""
    text = _ACL_RULE.sub(lambda m: _ACL_PASSWORD.sub(">" + MASK, m.group(0)), text)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return mask_secrets(text) or ""
