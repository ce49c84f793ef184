"""Wazuh SCA policies run directly (requirement C4).

``load_sca_policy`` reads and validates a policy file (untrusted: size-limited, safe YAML,
schema-checked, one-line Chinese errors); ``run_sca_policy`` evaluates it on any host
collector (local, offline tree, SSH) and returns the same :class:`ProfileReport` as the
project's own profiles; ``is_sca_policy`` tells such a file from one of our rule files.

The rule grammar is in :mod:`.rules`, the pattern languages in :mod:`.regex`, line
matching in :mod:`.matching`, rule evaluation in :mod:`.evaluate` and the aggregation
into results in :mod:`.runner`.
"""

from __future__ import annotations

from shaobing.baseline.collectors.base import HostCollector
from shaobing.baseline.results import ProfileReport
from shaobing.baseline.wazuh.policy import (
    ScaCheck,
    ScaPolicy,
    ScaRequirements,
    is_sca_policy,
    load_sca_policy,
)
from shaobing.baseline.wazuh.runner import run_policy


async def run_sca_policy(
    policy: ScaPolicy,
    collector: HostCollector,
    *,
    allow_commands: bool = True,
    command_timeout: float = 30.0,
) -> ProfileReport:
    """Evaluate ``policy`` on the collector's host (``profile`` = policy id, title = name).

    ``allow_commands=False`` reports ``c:`` rules as 不适用 instead of running the policy's
    commands (the agent's ``remote_commands`` switch); ``command_timeout`` is per command.
    """
    return await run_policy(
        policy, collector, allow_commands=allow_commands, command_timeout=command_timeout
    )


__all__ = [
    "ScaCheck",
    "ScaPolicy",
    "ScaRequirements",
    "is_sca_policy",
    "load_sca_policy",
    "run_sca_policy",
]
