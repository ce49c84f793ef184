"""Reusable local mock targets for tests: an HTTP server driven by a route table and a
tiny TCP server driven by a reply function. Both listen on 127.0.0.1 and a free port."""

from tests.targets.http import (
    Handler,
    MockHttpTarget,
    Request,
    Response,
    basic_login,
    by_header,
    by_method,
    form_login,
    json_login,
)
from tests.targets.tcp import MockTcpTarget

__all__ = [
    "Handler",
    "MockHttpTarget",
    "MockTcpTarget",
    "Request",
    "Response",
    "basic_login",
    "by_header",
    "by_method",
    "form_login",
    "json_login",
]
