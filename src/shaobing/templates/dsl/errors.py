"""Errors of the expression language: every message is translated and names the expression."""

from __future__ import annotations

from shaobing.core.i18n import t


class DslError(ValueError):
    """An expression that cannot be compiled or evaluated (message names the expression)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UnknownFunction(DslError):
    """The expression calls a helper function the engine does not implement."""

    def __init__(self, expression: str, name: str) -> None:
        super().__init__(t("template_dsl.unknown_function", expression=expression, name=name))
        self.name = name


class UnsupportedFunction(UnknownFunction):
    """A documented Nuclei helper the engine refuses on purpose (``reason`` says why)."""

    def __init__(self, expression: str, name: str, reason: str) -> None:
        super().__init__(expression, name)
        self.reason = reason
        self.message = t(
            "template_dsl.unsupported_function", expression=expression, name=name, reason=reason
        )
        self.args = (self.message,)


class UnknownVariable(DslError):
    """The expression refers to a variable that is not defined at evaluation time."""

    def __init__(self, expression: str, name: str) -> None:
        super().__init__(t("template_dsl.unknown_variable", expression=expression, name=name))
        self.name = name


class HelperFailure(Exception):
    """Raised inside a helper or operator; the evaluator adds the expression and re-raises.

    Helpers do not know the expression text, so they raise this with a translated detail
    and :class:`~shaobing.templates.dsl.evaluator.Expression` turns it into a DslError.
    """

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def detail(key: str, /, **params: object) -> str:
    """Translate one ``template_dsl.detail.*`` fragment."""
    return t(f"template_dsl.detail.{key}", **params)
