"""Typed errors that carry a one-line, user-facing message."""

from __future__ import annotations


class ShaobingError(Exception):
    """A user error: bad input, unknown object, refused operation.

    The message is already translated and names the offending item; the CLI prints it
    on one line and exits with code 1.
    """

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class NotFoundError(ShaobingError):
    """A referenced object (client, engagement, asset, ...) does not exist."""


class ValidationError(ShaobingError):
    """Input that cannot be accepted as given."""


class ConflictError(ShaobingError):
    """The operation would violate a uniqueness or state rule."""


def error_location(loc: object) -> str:
    """A schema error's location as one printable line (``rules.3.check.match``).

    Keys come from the user's file and may hold newlines or control characters; those parts
    are shown quoted with escapes so the one-line error stays one line.
    """
    parts = loc if isinstance(loc, list | tuple) else (loc,)
    shown = []
    for part in parts:
        text = str(part)
        shown.append(text if text.isprintable() else repr(text))
    return ".".join(shown) or "-"
