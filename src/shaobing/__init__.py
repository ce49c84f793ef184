"""Shaobing (哨兵): a platform for delivering information-security services."""

__version__ = "0.1.0"
