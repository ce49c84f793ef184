"""Out-of-band callbacks for templates (``{{interactsh-url}}``), served by the platform.

A self-hosted replacement for the public interactsh servers: an authoritative DNS
responder for the zone delegated to the scanner host and TCP listeners (HTTP, LDAP,
RMI, SMTP, raw TCP) record the callbacks a vulnerable target makes, correlated by the
random id each template request carries. See docs/oob-callbacks.md.
"""

from __future__ import annotations

from shaobing.templates.oob.engine import (
    OobRun,
    allocate_url,
    interaction_variables,
    operators_read_oob,
    request_texts_use_url,
    template_needs_oob,
    with_url,
)
from shaobing.templates.oob.registry import Interaction, Registry, new_id
from shaobing.templates.oob.server import (
    OobConfig,
    OobServer,
    OobUnavailable,
    reset_shared_server,
    shared_server,
)

__all__ = [
    "Interaction",
    "OobConfig",
    "OobRun",
    "OobServer",
    "OobUnavailable",
    "Registry",
    "allocate_url",
    "interaction_variables",
    "new_id",
    "operators_read_oob",
    "request_texts_use_url",
    "reset_shared_server",
    "shared_server",
    "template_needs_oob",
    "with_url",
]
