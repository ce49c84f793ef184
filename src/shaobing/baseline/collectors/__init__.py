"""Collectors: how baseline probes read a target (files, commands, processes, databases)."""

from shaobing.baseline.collectors.base import (
    CollectorUnavailable,
    CommandResult,
    FileStat,
    HostCollector,
)

__all__ = ["CollectorUnavailable", "CommandResult", "FileStat", "HostCollector"]
