"""Fuzzing the upload path: any bytes give a summary or a one-line 400, never a 500."""

from __future__ import annotations

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shaobing.server.api.imports import upload_name
from tests.server.conftest import World
from tests.server.more.helpers import Login, findings_state

# Fragments real scanner files start with, so the fuzzer reaches the parsers, not only the
# format detection.
HEADS = [
    b'<?xml version="1.0"?><nmaprun scanner="nmap">',
    b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "',
    b'<?xml version="1.0"?><OWASPZAPReport version="2.11">',
    b'<?xml version="1.0"?><issues burpVersion="2022">',
    b'{"template-id": "x", "info": {"severity": "high"}, "host": "',
    b'{"version": "2.1.0", "runs": [',
    b"",
]


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    head=st.sampled_from(HEADS),
    tail=st.binary(max_size=2048),
    fmt=st.sampled_from(["", "nmap", "nuclei", "zap", "burp", "sarif"]),
)
def test_random_uploads_never_crash(
    world: World, login: Login, head: bytes, tail: bytes, fmt: str
) -> None:
    client = login("engineer")
    other_before = findings_state(world, world.other.engagement_id)
    response: httpx.Response = client.post(
        "/api/v1/findings/import",
        data={"engagement": "JIA", "format": fmt},
        files={"file": ("fuzz.bin", head + tail, "application/octet-stream")},
    )
    assert response.status_code in (200, 400), response.text[:300]
    if response.status_code == 400:
        message = response.json()["error"]
        assert "\n" not in message and "Traceback" not in message and "fuzz.bin" in message
    else:
        assert response.json()["import_id"] >= 1
    # Whatever the file holds, it lands in the named engagement only.
    assert findings_state(world, world.other.engagement_id)[:3] == other_before[:3]


@given(st.text(max_size=300))
def test_upload_names_are_plain_file_names(name: str) -> None:
    cleaned = upload_name(name)
    assert cleaned and len(cleaned) <= 120
    assert "/" not in cleaned and "\\" not in cleaned and "\x00" not in cleaned
    assert not cleaned.startswith(".") and cleaned not in {".", ".."}


def test_upload_name_examples() -> None:
    assert upload_name("../../etc/passwd") == "passwd"
    assert upload_name("C:\\scans\\扫描 结果.xml") == "扫描_结果.xml"
    assert upload_name(None) == "upload"
    assert upload_name("<script>.xml") == "script_.xml"
