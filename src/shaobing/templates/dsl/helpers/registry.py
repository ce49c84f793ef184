"""The helper-function table: name, arity bounds and implementation of every helper."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

HelperFn = Callable[[list[Any]], Any]


@dataclass(frozen=True, slots=True)
class Helper:
    """One helper function; ``max_args`` None means variadic."""

    name: str
    fn: HelperFn
    min_args: int
    max_args: int | None

    def arity_text(self) -> str:
        """Human description of the accepted argument count (for error messages)."""
        if self.max_args == self.min_args:
            return str(self.min_args)
        if self.max_args is None:
            return f"≥{self.min_args}"
        return f"{self.min_args}-{self.max_args}"


HELPERS: dict[str, Helper] = {}


def helper(name: str, min_args: int, max_args: int | None = -1) -> Callable[[HelperFn], HelperFn]:
    """Register the decorated function; ``max_args=-1`` means exactly ``min_args``."""

    def register(fn: HelperFn) -> HelperFn:
        upper = min_args if max_args == -1 else max_args
        HELPERS[name] = Helper(name, fn, min_args, upper)
        return fn

    return register
