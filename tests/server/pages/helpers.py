"""Small helpers of the page tests."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


def form_client(client: TestClient, page: str) -> tuple[TestClient, str]:
    """The client without the CSRF header (as a browser form sends it) and the page's token."""
    response = client.get(page)
    assert response.status_code == 200, response.text
    match = _META.search(response.text)
    assert match, "page has no CSRF meta tag"
    client.headers.pop("X-CSRF-Token", None)
    return client, match.group(1)
