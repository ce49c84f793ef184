"""Registers the slow test check on import (for scans run in a subprocess)."""

from shaobing.scan.checks import register_check
from tests.scan.engine.plugins import SlowCheck

register_check(SlowCheck)
