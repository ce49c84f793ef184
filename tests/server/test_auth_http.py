"""The platform's own security over HTTP (J2): login, lockout warnings, rate limits, CSRF,
cookies, headers, session timeout, logout, forced password change, open redirects."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from shaobing.auth.models import User
from shaobing.auth.policy import AuthContext
from shaobing.core.audit import AuditEvent
from shaobing.core.db import session_scope
from shaobing.server.app import create_app
from shaobing.server.ratelimit import LoginLimiter, SlidingWindow
from shaobing.server.security import SESSION_COOKIE
from tests.server.conftest import CHEAP, PASSWORD, World


def _login(client: TestClient, username: str, password: str) -> tuple[int, dict[str, object]]:
    response = client.post("/api/v1/auth/login", json={"username": username, "password": password})
    return response.status_code, response.json()


def test_login_sets_a_strict_httponly_cookie_and_returns_a_token(world: World) -> None:
    client = TestClient(world.app())
    response = client.post(
        "/api/v1/auth/login", json={"username": "engineer", "password": PASSWORD}
    )
    assert response.status_code == 200
    cookie = response.headers["set-cookie"]
    assert f"{SESSION_COOKIE}=" in cookie
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain HTTP test server
    data = response.json()
    assert data["user"]["username"] == "engineer" and "password_hash" not in data["user"]
    assert len(data["token"]) >= 40 and len(data["csrf_token"]) == 64


def test_https_app_marks_cookies_secure_and_sends_hsts(world: World) -> None:
    app = create_app(world.engine, auth=world.auth, https=True)
    client = TestClient(app, base_url="https://testserver")
    response = client.post(
        "/api/v1/auth/login", json={"username": "engineer", "password": PASSWORD}
    )
    assert "Secure" in response.headers["set-cookie"]
    assert response.headers["strict-transport-security"].startswith("max-age=31536000")


def test_failed_logins_warn_then_lock_and_are_audited(world: World) -> None:
    client = TestClient(world.app())
    remaining = []
    for _ in range(4):
        status, data = _login(client, "viewer", "wrong-password")
        assert status == 401
        remaining.append(data["remaining_attempts"])
        assert f"再失败 {data['remaining_attempts']} 次" in str(data["error"])
    assert remaining == [4, 3, 2, 1]
    status, data = _login(client, "viewer", "wrong-password")
    assert status == 401 and data["reason"] == "locked_now" and data["locked_until"]
    # Locked: even the right password is refused now.
    status, data = _login(client, "viewer", PASSWORD)
    assert status == 401 and data["reason"] == "locked"
    with session_scope(world.engine, readonly=True) as db:
        outcomes = list(
            db.scalars(
                select(AuditEvent.outcome).where(
                    AuditEvent.action == "auth.login", AuditEvent.target == "viewer"
                )
            )
        )
        locks = list(db.scalars(select(AuditEvent.seq).where(AuditEvent.action == "auth.lock")))
    assert outcomes.count("failure") == 6
    assert locks


def test_unknown_user_gets_the_same_answers_as_a_real_account(world: World) -> None:
    client = TestClient(world.app())
    for _ in range(6):
        unknown = _login(client, "nobody", "wrong-password")
        real = _login(client, "engineer", "wrong-password")
        assert unknown[0] == real[0] == 401
        assert {k: v for k, v in unknown[1].items() if k != "locked_until"} == {
            k: v for k, v in real[1].items() if k != "locked_until"
        }
        assert ("locked_until" in unknown[1]) == ("locked_until" in real[1])


def test_login_rate_limit_answers_429_with_retry_after(world: World) -> None:
    limiter = LoginLimiter(SlidingWindow(3, 60.0), SlidingWindow(100, 60.0))
    client = TestClient(world.app(limiter=limiter))
    for _ in range(3):
        assert _login(client, "nobody", "x")[0] == 401
    response = client.post(
        "/api/v1/auth/login", json={"username": "engineer", "password": PASSWORD}
    )
    assert response.status_code == 429
    assert int(response.headers["retry-after"]) >= 1
    assert "秒后再试" in response.json()["error"]


def test_per_username_limit_slows_guessing_from_many_addresses(world: World) -> None:
    limiter = LoginLimiter(SlidingWindow(1000, 60.0), SlidingWindow(2, 60.0))
    client = TestClient(world.app(limiter=limiter))
    assert _login(client, "ghost", "a")[0] == 401
    assert _login(client, "GHOST ", "b")[0] == 401
    assert _login(client, "ghost", "c")[0] == 429


def test_cookie_writes_need_the_csrf_token(
    login: Callable[[str], TestClient], world: World
) -> None:
    client = login("engineer")
    order = world.own.work_order_ids[0]
    token = client.headers.pop("X-CSRF-Token")
    refused = client.post(f"/api/v1/workorders/{order}/comment", json={"text": "无令牌"})
    assert refused.status_code == 403 and "CSRF" in refused.json()["error"]
    wrong = client.post(
        f"/api/v1/workorders/{order}/comment",
        json={"text": "错令牌"},
        headers={"X-CSRF-Token": "0" * 64},
    )
    assert wrong.status_code == 403
    foreign = client.post(
        f"/api/v1/workorders/{order}/comment",
        json={"text": "跨站"},
        headers={"X-CSRF-Token": token, "Origin": "https://evil.example"},
    )
    assert foreign.status_code == 403 and "evil.example" in foreign.json()["error"]
    ok = client.post(
        f"/api/v1/workorders/{order}/comment",
        json={"text": "有令牌"},
        headers={"X-CSRF-Token": token},
    )
    assert ok.status_code == 200


def test_bearer_writes_need_no_csrf_token(
    bearer: Callable[[str], TestClient], world: World
) -> None:
    client = bearer("engineer")
    order = world.own.work_order_ids[0]
    assert (
        client.post(f"/api/v1/workorders/{order}/comment", json={"text": "脚本"}).status_code == 200
    )


def test_security_headers_on_pages_api_and_static(login: Callable[[str], TestClient]) -> None:
    client = login("engineer")
    for path in ("/", "/api/v1/auth/me", "/login", "/static/css/app.css"):
        headers = client.get(path).headers
        assert "default-src 'self'" in headers["content-security-policy"]
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "same-origin"
    assert client.get("/api/v1/auth/me").headers["cache-control"] == "no-store"
    assert "server" not in {
        k.lower() for k in client.get("/login").headers if k.lower() == "x-powered-by"
    }


def test_idle_and_absolute_session_timeouts(world: World) -> None:
    moment = [datetime.now(UTC)]
    auth = AuthContext(config=world.auth.config, hasher=CHEAP, clock=lambda: moment[0])
    client = TestClient(create_app(world.engine, auth=auth))
    assert _login(client, "engineer", PASSWORD)[0] == 200
    idle = world.auth.config.session.idle_minutes
    moment[0] += timedelta(minutes=idle - 1)
    assert client.get("/api/v1/auth/me").status_code == 200  # activity refreshes the idle timer
    moment[0] += timedelta(minutes=idle - 1)
    assert client.get("/api/v1/auth/me").status_code == 200
    moment[0] += timedelta(minutes=idle + 1)
    response = client.get("/api/v1/auth/me")
    assert response.status_code == 401 and response.json()["reason"] == "idle"
    assert client.get("/", follow_redirects=False).headers["location"].startswith("/login")


def test_logout_ends_the_session_for_good(login: Callable[[str], TestClient]) -> None:
    client = login("auditor")
    token = client.cookies.get(SESSION_COOKIE)
    assert client.post("/api/v1/auth/logout").status_code == 200
    replay = TestClient(client.app, headers={"Authorization": f"Bearer {token}"})
    response = replay.get("/api/v1/auth/me")
    assert response.status_code == 401 and response.json()["reason"] == "revoked"


def test_a_reset_password_must_be_changed_before_anything_else(world: World) -> None:
    with session_scope(world.engine) as db:
        db.scalars(
            select(User).where(User.username == "engineer")
        ).one().must_change_password = True
    client = TestClient(world.app())
    status, data = _login(client, "engineer", PASSWORD)
    assert status == 200 and data["must_change_password"] is True
    client.headers["X-CSRF-Token"] = str(data["csrf_token"])
    assert client.get("/api/v1/dashboard").status_code == 403
    assert client.get("/", follow_redirects=False).headers["location"] == "/password"
    assert client.get("/password").status_code == 200
    changed = client.post(
        "/api/v1/auth/password",
        json={"current_password": PASSWORD, "new_password": "Harbor$Quill7781"},
    )
    assert changed.status_code == 200
    # Every session ended with the change: log in again with the new password.
    assert client.get("/api/v1/auth/me").status_code == 401
    fresh = TestClient(world.app())
    assert _login(fresh, "engineer", "Harbor$Quill7781")[0] == 200
    assert fresh.get("/api/v1/dashboard").status_code == 200


def test_login_page_flow_with_login_csrf_and_no_open_redirect(world: World) -> None:
    client = TestClient(world.app())
    page = client.get("/login?next=//evil.example/steal")
    assert page.status_code == 200 and "哨兵" in page.text
    assert 'value="/"' in page.text  # the foreign "next" was dropped
    token = page.text.split('name="login_csrf" value="')[1].split('"')[0]
    # Without the login CSRF field the form is refused.
    bad = client.post(
        "/login", data={"username": "engineer", "password": PASSWORD, "login_csrf": "x"}
    )
    assert bad.status_code == 400
    page = client.get("/login?next=/findings")
    token = page.text.split('name="login_csrf" value="')[1].split('"')[0]
    done = client.post(
        "/login",
        data={
            "username": "engineer",
            "password": PASSWORD,
            "login_csrf": token,
            "next": "https://evil.example/",
        },
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == "/"


def test_login_page_shows_the_remaining_attempts(world: World) -> None:
    client = TestClient(world.app())
    page = client.get("/login")
    token = page.text.split('name="login_csrf" value="')[1].split('"')[0]
    failed = client.post(
        "/login", data={"username": "owner", "password": "nope", "login_csrf": token}
    )
    assert failed.status_code == 401
    assert "4" in failed.text and 'role="alert"' in failed.text


def test_unauthenticated_pages_redirect_to_login_and_api_answers_401(world: World) -> None:
    client = TestClient(world.app())
    page = client.get("/posture?engagement=1", follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=/posture%3Fengagement%3D1"
    api = client.get("/api/v1/findings?engagement=1")
    assert api.status_code == 401 and api.json()["error"] == "请先登录"


def test_errors_are_one_chinese_line_not_a_traceback(login: Callable[[str], TestClient]) -> None:
    client = login("engineer")
    missing = client.get("/api/v1/findings/999999")
    assert missing.status_code == 404 and "\n" not in missing.json()["error"]
    invalid = client.get("/api/v1/findings?engagement=1&limit=100000")
    assert invalid.status_code == 422 and "输入有误" in invalid.json()["error"]
    page = client.get("/no/such/page")
    assert page.status_code == 404 and "页面不存在" in page.text


def test_oversized_bodies_are_refused_before_they_are_read(
    login: Callable[[str], TestClient],
) -> None:
    import asyncio

    from shaobing.server.bodylimit import MAX_BODY_BYTES, BodyLimit

    reached: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        reached.append(scope["path"])

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    scope = {
        "type": "http",
        "path": "/api/v1/assets/import",
        "headers": [(b"content-length", str(MAX_BODY_BYTES + 1).encode())],
    }
    asyncio.run(BodyLimit(app)(scope, receive, send))
    assert not reached and sent[0]["status"] == 413

    client = login("engineer")

    def chunks() -> Any:  # no Content-Length: streamed and counted
        yield b'--b0\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n\r\n'
        block = b"y" * (1024 * 1024)
        for _ in range(MAX_BODY_BYTES // len(block) + 2):
            yield block

    streamed = client.post(
        "/api/v1/assets/import",
        content=chunks(),
        headers={"Content-Type": "multipart/form-data; boundary=b0"},
    )
    assert streamed.status_code == 413 and "MiB" in streamed.json()["error"]
