"""Fixtures shared by the scan tests."""

from tests.services.fake import serve

__all__ = ["serve"]
