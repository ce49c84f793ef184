"""In a real browser, the engagement's core loop: launch a scan of a local target and watch
it finish, move a work order through its states as engineer and client owner, build and
download a report. Screenshots are kept in build/test-artefacts/console/."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.server.conftest import PASSWORD, World
from tests.server.e2e.conftest import shot

pytestmark = pytest.mark.e2e


def login(page: Any, base: str, username: str) -> None:
    """Log in through the form (a fresh context per user)."""
    page.context.clear_cookies()
    page.goto(f"{base}/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


@pytest.fixture
def listener() -> Iterator[int]:
    """A TCP service on 127.0.0.1 that greets like a banner service (the scan's target)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            with conn, contextlib.suppress(OSError):
                conn.sendall(b"220 e2e-target ready\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield int(server.getsockname()[1])
    stop.set()
    thread.join(timeout=2)
    server.close()


def test_launch_a_scan_and_watch_it_finish(
    browser_page: Any, live_server: str, world: World, listener: int
) -> None:
    page = browser_page
    login(page, live_server, "engineer")
    page.goto(f"{live_server}/scans?engagement={world.own.engagement_id}")
    page.fill("#launch-targets", "127.0.0.1")
    page.fill("#launch-ports", str(listener))
    shot(page, "10-scan-launch")
    page.click("button:has-text('启动扫描')")
    page.wait_for_url(f"{live_server}/scans/*")
    # The page polls the API and reloads itself when the scan ends.
    page.wait_for_selector("[data-field=status_label]:has-text('已完成')", timeout=90_000)
    page.reload()
    text = page.inner_text("main")
    assert str(listener) in text
    shot(page, "11-scan-finished")
    assert not page.errors, page.errors


def test_work_order_from_new_to_verified(browser_page: Any, live_server: str, world: World) -> None:
    page = browser_page
    order = world.own.work_order_ids[0]
    url = f"{live_server}/workorders/{order}"
    login(page, live_server, "engineer")
    page.goto(url)
    page.fill("#assignee", "owner")
    page.click("button:has-text('指派')")
    page.wait_for_load_state()
    assert "待修复" in page.inner_text("main")
    shot(page, "20-workorder-assigned")
    login(page, live_server, "owner")
    page.goto(url)
    assert "整改完成后请点击" in page.inner_text("main")
    page.click("button:has-text('标记为已修复')")
    page.wait_for_load_state()
    page.fill("#comment", "已升级组件并重启服务，请复测。")
    page.click("button:has-text('发表留言')")
    page.wait_for_load_state()
    shot(page, "21-workorder-fixed-by-owner")
    # The client owner cannot verify its own fix.
    assert page.locator("button:has-text('标记为已验证')").count() == 0
    login(page, live_server, "engineer")
    page.goto(url)
    page.click("button:has-text('标记为已验证')")
    page.wait_for_load_state()
    history = page.inner_text("main")
    for step in ("待修复", "已修复", "已验证", "已升级组件并重启服务"):
        assert step in history, step
    shot(page, "22-workorder-verified")
    assert not page.errors, page.errors


def test_build_and_download_a_report(
    browser_page: Any, live_server: str, world: World, tmp_path: Path
) -> None:
    page = browser_page
    login(page, live_server, "engineer")
    page.goto(f"{live_server}/reports?engagement={world.own.engagement_id}")
    page.select_option("#report-type", "vuln_scan")
    page.select_option("#report-format", "html")
    page.click("button:has-text('生成报告')")
    page.wait_for_load_state()
    shot(page, "30-report-built")
    with page.expect_download() as info:
        page.click("a:has-text('下载')")
    download = info.value
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    html = saved.read_text(encoding="utf-8")
    assert "漏洞扫描报告" in html and "甲单位" in html and "乙单位" not in html
    assert not page.errors, page.errors
