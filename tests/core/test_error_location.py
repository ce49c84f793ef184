"""Schema error locations stay on one line whatever keys a user's file holds."""

from __future__ import annotations

import pytest

from shaobing.assess.datasec.catalogue import parse
from shaobing.core.errors import ValidationError, error_location


def test_control_characters_are_escaped() -> None:
    """Newlines and tabs in keys are shown escaped; plain keys as they are."""
    assert error_location(("matrix", "\n")) == "matrix.'\\n'"
    assert error_location(["rules", 3, "check"]) == "rules.3.check"
    assert error_location(()) == "-"


def test_a_newline_key_keeps_the_error_on_one_line() -> None:
    """Found by fuzzing the risk method file: a key holding a newline broke the line."""
    text = "version: 1\n'\\n': 1\n"
    with pytest.raises(ValidationError) as caught:
        parse("org.yaml", text)
    assert "\n" not in str(caught.value)
