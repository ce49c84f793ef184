"""Helper functions of the Nuclei DSL, and the documented ones refused on purpose.

Nuclei also accepts every helper name with its underscores removed (``tolower``,
``urldecode``) for backwards compatibility; :data:`HELPERS` holds both spellings.
"""

from __future__ import annotations

from types import MappingProxyType

from shaobing.templates.dsl.helpers import (  # noqa: F401 - imported to register helpers
    crypto,
    encoding,
    network,
    numbers,
    randomness,
    text,
    timefmt,
    versions,
)
from shaobing.templates.dsl.helpers.randomness import make_randstr, random_text
from shaobing.templates.dsl.helpers.registry import HELPERS as _REGISTERED
from shaobing.templates.dsl.helpers.registry import Helper

_ALL: dict[str, Helper] = dict(_REGISTERED)
for _name, _helper in list(_REGISTERED.items()):
    _ALL.setdefault(_name.replace("_", ""), _helper)

#: Every callable helper name (canonical and underscore-free aliases).
HELPERS = MappingProxyType(_ALL)

#: Documented Nuclei helpers that are refused, mapped to (reason key, reason parameter).
UNSUPPORTED: MappingProxyType[str, tuple[str, str]] = MappingProxyType(
    {
        name: reason
        for canonical, reason in {
            "resolve": ("network", "DNS"),
            "jarm": ("network", "TLS JARM"),
            "public_ip": ("network", "public IP lookup"),
            "llm_prompt": ("llm", ""),
            "generate_java_gadget": ("java_gadget", ""),
        }.items()
        for name in (canonical, canonical.replace("_", ""))
    }
)

__all__ = ["HELPERS", "UNSUPPORTED", "Helper", "make_randstr", "random_text"]
