"""Every page of the navigation, as administrator and as client owner, on a desktop and a
phone-sized screen: no script error, no missing asset, no server error; screenshots kept."""

from __future__ import annotations

from typing import Any

import pytest

from tests.server.conftest import World
from tests.server.e2e.test_browser_workflow import login

pytestmark = pytest.mark.e2e

PAGES = [
    "/",
    "/posture",
    "/engagements",
    "/engagements/{eng}",
    "/assets",
    "/scans",
    "/findings?engagement={eng}",
    "/findings/{finding}",
    "/workorders?engagement={eng}",
    "/workorders/{order}",
    "/baseline",
    "/assessment?engagement={eng}",
    "/reports?engagement={eng}",
    "/users",
    "/audit",
]


@pytest.mark.parametrize(("username", "width"), [("admin", 1366), ("owner", 390)])
def test_tour_of_every_page(
    browser_page: Any, live_server: str, world: World, username: str, width: int
) -> None:
    from tests.server.e2e.conftest import shot

    page = browser_page
    page.set_viewport_size({"width": width, "height": 900})
    login(page, live_server, username)
    nav = page.inner_text("nav")
    for template in PAGES:
        path = template.format(
            eng=world.own.engagement_id,
            finding=world.own.finding_ids[0],
            order=world.own.work_order_ids[0],
        )
        response = page.goto(f"{live_server}{path}")
        assert response is not None
        if username == "owner" and path in ("/users", "/audit"):
            assert response.status == 403 and "无权访问" in page.inner_text("main")
            continue
        assert response.status == 200, (path, response.status)
        assert page.locator("h1").count() >= 1, path
        # Nothing wider than the screen except inside scrollable cards.
        overflow = page.evaluate("document.documentElement.scrollWidth") - width
        assert overflow <= 1, (path, overflow)
        name = path.strip("/").split("?")[0].replace("/", "-") or "overview"
        shot(page, f"tour-{username}-{width}-{name}")
    if username == "owner":
        assert "用户与角色" not in nav and "审计日志" not in nav
    assert not page.errors, page.errors  # type: ignore[attr-defined]
