"""The login protocol adapters known to the weak-credential checks, by protocol name."""

from __future__ import annotations

import importlib
import pkgutil
from typing import TypeVar

from shaobing.scan.credentials.base import Authenticator

_A = TypeVar("_A", bound=type[Authenticator])
_REGISTRY: dict[str, type[Authenticator]] = {}
# Modules of this package that hold no adapters.
_NOT_ADAPTERS = {"base", "registry"}


def register_authenticator(cls: _A) -> _A:
    """Class decorator: make an adapter known under its ``protocol`` (must be unique)."""
    known = _REGISTRY.get(cls.protocol)
    if known is not None and known is not cls:
        raise ValueError(f"duplicate protocol {cls.protocol}: {known.__qualname__}")
    _REGISTRY[cls.protocol] = cls
    return cls


def load_authenticators() -> dict[str, type[Authenticator]]:
    """Import every adapter module of :mod:`shaobing.scan.credentials`; adapters by protocol."""
    package = importlib.import_module("shaobing.scan.credentials")
    for module in pkgutil.iter_modules(package.__path__):
        if module.name not in _NOT_ADAPTERS and not module.name.startswith("_"):
            importlib.import_module(f"{package.__name__}.{module.name}")
    return dict(sorted(_REGISTRY.items()))
