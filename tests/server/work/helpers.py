"""Shared helpers of the console work-area tests."""

from __future__ import annotations

import re
import time
from typing import Any

from fastapi.testclient import TestClient

_CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def page_ok(client: TestClient, path: str, *texts: str) -> str:
    """GET a page, check it rendered without a traceback and contains ``texts``."""
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code, response.text[:500])
    html: str = response.text
    assert "Traceback" not in html
    for text in texts:
        assert text in html, (path, text)
    return html


def csrf_of(html: str) -> str:
    """The CSRF token the page's forms carry."""
    found = _CSRF_FIELD.search(html)
    assert found is not None
    return str(found.group(1))


def form_client(client: TestClient) -> TestClient:
    """The same session without the CSRF header (forms must carry the token themselves)."""
    client.headers.pop("X-CSRF-Token", None)
    return client


def wait_final(client: TestClient, scan_id: int, seconds: float = 90.0) -> dict[str, Any]:
    """Poll the scan's API until it ends (or fail after ``seconds``)."""
    deadline = time.monotonic() + seconds
    data: dict[str, Any] = {}
    while time.monotonic() < deadline:
        response = client.get(f"/api/v1/scans/{scan_id}")
        assert response.status_code == 200, response.text
        data = response.json()
        if data["final"] or data["status"] == "paused":
            return data
        time.sleep(0.3)
    raise AssertionError(f"scan {scan_id} did not finish: {data}")
