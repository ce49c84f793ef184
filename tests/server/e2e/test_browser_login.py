"""In a real browser: log in, see the dashboards with their charts, no script errors."""

from __future__ import annotations

from typing import Any

import pytest

from shaobing.server.pages.render import ECHARTS
from tests.server.conftest import PASSWORD
from tests.server.e2e.conftest import shot

pytestmark = pytest.mark.e2e


def login(page: Any, base: str, username: str) -> None:
    """Log in through the form."""
    page.goto(f"{base}/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def test_login_dashboard_and_posture(browser_page: Any, live_server: str) -> None:
    page = browser_page
    page.goto(f"{live_server}/login")
    page.fill("#username", "engineer")
    page.fill("#password", "wrong-password")
    page.click("button[type=submit]")
    assert "再失败 4 次" in page.inner_text("[role=alert]")
    shot(page, "01-login-warning")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/")
    assert page.inner_text("h1") == "综合态势"
    page.wait_for_selector("#sev-chart[data-drawn]")
    drawn = page.get_attribute("#sev-chart", "data-drawn")
    shot(page, "02-overview")
    page.click("nav >> text=脆弱性态势")
    page.wait_for_selector("#age-chart[data-drawn]")
    shot(page, "03-posture")
    # make test installs ECharts (scripts/fetch-web-assets.sh); without it: tables.
    assert drawn == ("echarts" if ECHARTS.exists() else "table")
    assert not page.errors, page.errors  # type: ignore[attr-defined]


def test_client_user_sees_only_its_own_client(browser_page: Any, live_server: str) -> None:
    page = browser_page
    login(page, live_server, "viewer")
    text = page.inner_text("main")
    assert "甲单位" in text and "乙单位" not in text
    nav = page.inner_text("nav")
    assert "用户与角色" not in nav and "审计日志" not in nav
    shot(page, "04-client-overview")
