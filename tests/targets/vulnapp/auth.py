"""Logins and the protected area.

- ``/login``: admin/admin123 guessable, unlimited attempts, password over plain HTTP, a
  session cookie without flags; ``/v2/login``: a strong password and a lock after 5
  failures (said on the page), flagged cookie; ``/v2/sms-login``: no password field.
- ``/admin/``: the back office behind the old login. Its session ends after the configured
  number of seconds or requests. ``/admin/api/users`` and ``/admin/export`` forget to check
  the session (broken access control); their ``/v2`` twins redirect to the login.
- Destructive links and forms (删除, 退出登录, 清空缓存, 注销账户) record that they were
  triggered, so tests can tell whether a crawler followed them.
"""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.targets.vulnapp.db import USERS
from tests.targets.vulnapp.site import (
    LOCKOUT_AFTER,
    Builder,
    Handler,
    Site,
    both,
    esc,
    form_fields,
    link_list,
    page,
    prefix,
)

#: Accounts of the old site (weak) and of the new site (strong).
OLD_ACCOUNTS = {"admin": "admin123", "zhangsan": "zs123456"}
NEW_ACCOUNTS = {"admin": "Yz#Portal-2024!kQ7", "zhangsan": "Zs&Window-2024!p9"}

OLD_COOKIE = "SESSIONID"
NEW_COOKIE = "V2SESSION"


def login_form(action: str, message: str = "") -> str:
    """The username/password form."""
    note = f"<p class='error'>{esc(message)}</p>" if message else ""
    return (
        f'{note}<form method="post" action="{action}">'
        '<label>用户名：<input type="text" name="username"></label>'
        '<label>密码：<input type="password" name="password"></label>'
        '<button type="submit">登录</button></form>'
    )


def routes(site: Site) -> list[Route]:
    """Login, back office and destructive actions."""

    def old_user(request: Request) -> str | None:
        return site.session_user(request.cookies.get(OLD_COOKIE), "old")

    def new_user(request: Request) -> str | None:
        return site.session_user(request.cookies.get(NEW_COOKIE), "v2")

    def to_login(request: Request, *, v2: bool) -> Response:
        target = quote(request.url.path)
        expired = "&expired=1" if request.cookies.get(NEW_COOKIE if v2 else OLD_COOKIE) else ""
        return RedirectResponse(f"{prefix(v2)}/login?next={target}{expired}", status_code=302)

    async def login(request: Request) -> Response:
        if request.method == "GET":
            message = "登录已过期，请重新登录。" if request.query_params.get("expired") else ""
            return page(site, "用户登录", login_form("/login", message))
        fields = await form_fields(request)
        username, password = fields.get("username", ""), fields.get("password", "")
        if OLD_ACCOUNTS.get(username) != password or not username:
            return page(site, "用户登录", login_form("/login", "用户名或密码错误。"))
        response = RedirectResponse("/admin/", status_code=302)
        token = site.new_session(username, "old")
        response.set_cookie(OLD_COOKIE, token, path="/", samesite=None)
        return response

    async def login_v2(request: Request) -> Response:
        if request.method == "GET":
            body = login_form("/v2/login") + '<p><a href="/v2/sms-login">短信验证码登录</a></p>'
            return page(site, "用户登录", body, v2=True)
        fields = await form_fields(request)
        username, password = fields.get("username", ""), fields.get("password", "")
        with site.state.lock:
            locked = site.state.failures[username] >= LOCKOUT_AFTER
        if locked:
            message = f"账户已锁定：连续{LOCKOUT_AFTER}次登录失败，请30分钟后再试。"
            return page(site, "用户登录", login_form("/v2/login", message), v2=True, status=423)
        if not username or NEW_ACCOUNTS.get(username) != password:
            with site.state.lock:
                site.state.failures[username] += 1
                left = LOCKOUT_AFTER - site.state.failures[username]
            message = f"用户名或密码错误，还可尝试{left}次。" if left > 0 else "账户已锁定。"
            return page(site, "用户登录", login_form("/v2/login", message), v2=True)
        with site.state.lock:
            site.state.failures.pop(username, None)
        response = RedirectResponse("/v2/admin/", status_code=302)
        token = site.new_session(username, "v2")
        response.set_cookie(
            NEW_COOKIE, token, path="/v2", httponly=True, secure=True, samesite="strict"
        )
        return response

    async def sms_login(request: Request) -> Response:
        body = (
            '<form method="post" action="/v2/sms-login">'
            '<label>手机号：<input type="tel" name="phone"></label>'
            '<label>验证码：<input type="text" name="code" autocomplete="one-time-code"></label>'
            "<button>登录</button></form>"
        )
        if request.method == "POST":
            body = "<p class='error'>验证码错误或已过期。</p>" + body
        return page(site, "短信验证码登录", body, v2=True)

    def admin_index(v2: bool) -> Handler:
        base = prefix(v2)

        async def handle(request: Request) -> Response:
            user = new_user(request) if v2 else old_user(request)
            if user is None:
                return to_login(request, v2=v2)
            items = [
                (f"{base}/admin/profile", "个人资料"),
                (f"{base}/admin/users/manage", "用户管理"),
                (f"{base}/admin/logs", "操作日志"),
                (f"{base}/admin/export?type=users", "数据导出"),
                (f"{base}/admin/cache/drop", "清空缓存（drop）"),
                (f"{base}/logout", "退出登录"),
            ]
            script = (
                f'<script src="/static/js/admin.js"></script><script>'
                f"fetch('{base}/admin/api/users').then(function (r) {{ return r.json(); }});"
                "</script>"
            )
            body = f"<p>欢迎您，{esc(user)}。</p>" + link_list(items) + script
            return page(site, "后台管理", body, v2=v2)

        return handle

    def admin_page(title: str, content: str) -> Builder:
        def build(v2: bool) -> Handler:
            async def handle(request: Request) -> Response:
                user = new_user(request) if v2 else old_user(request)
                if user is None:
                    return to_login(request, v2=v2)
                return page(site, title, content.replace("{base}", prefix(v2)), v2=v2)

            return handle

        return build

    def users_manage(v2: bool) -> Handler:
        base = prefix(v2)

        async def handle(request: Request) -> Response:
            if (new_user(request) if v2 else old_user(request)) is None:
                return to_login(request, v2=v2)
            rows = "".join(
                f"<tr><td>{name}</td><td>{real}</td><td>{role}</td>"
                f'<td><a href="{base}/admin/users/delete?id={ident}">删除</a></td></tr>'
                for ident, name, real, _phone, role in USERS
            )
            return page(site, "用户管理", f"<table>{rows}</table>", v2=v2)

        return handle

    def users_api(v2: bool) -> Handler:
        async def handle(request: Request) -> Response:
            if v2 and new_user(request) is None:
                return to_login(request, v2=True)
            users = [
                {"id": i, "username": u, "real_name": r, "phone": p, "role": role}
                for i, u, r, p, role in USERS
            ]
            return JSONResponse({"code": 0, "total": len(users), "data": users})

        return handle

    def export(v2: bool) -> Handler:
        async def handle(request: Request) -> Response:
            if v2 and new_user(request) is None:
                return to_login(request, v2=True)
            lines = ["id,username,real_name,phone,role"]
            lines += [",".join(str(c) for c in row) for row in USERS]
            return PlainTextResponse(
                "\n".join(lines) + "\n",
                headers={"Content-Disposition": "attachment; filename=users.csv"},
            )

        return handle

    def destructive(action: str, *, needs_login: bool) -> Builder:
        def build(v2: bool) -> Handler:
            async def handle(request: Request) -> Response:
                site.state.record(action, request)
                if needs_login and (new_user(request) if v2 else old_user(request)) is None:
                    return to_login(request, v2=v2)
                return page(site, "操作成功", "<p>操作已完成。</p>", v2=v2)

            return handle

        return build

    def logout(v2: bool) -> Handler:
        async def handle(request: Request) -> Response:
            site.state.record("logout", request)
            site.end_session(request.cookies.get(NEW_COOKIE if v2 else OLD_COOKIE))
            response = RedirectResponse(f"{prefix(v2)}/", status_code=302)
            response.delete_cookie(NEW_COOKIE if v2 else OLD_COOKIE, path=prefix(v2) or "/")
            return response

        return handle

    profile = (
        "<p>用户名：admin · 部门：市政务服务局</p>"
        '<form method="post" action="{base}/account/close">'
        '<input type="hidden" name="confirm" value="yes">'
        "<button>注销账户</button></form>"
    )
    logs = "<ul><li>2024-03-01 09:00 admin 登录</li><li>2024-03-01 09:05 admin 修改事项</li></ul>"

    result: list[Route] = [
        Route("/login", login, methods=["GET", "POST"]),
        Route("/v2/login", login_v2, methods=["GET", "POST"]),
        Route("/v2/sms-login", sms_login, methods=["GET", "POST"]),
    ]
    result += both("/admin/", ["GET"], admin_index)
    result += both("/admin/profile", ["GET"], admin_page("个人资料", profile))
    result += both("/admin/logs", ["GET"], admin_page("操作日志", logs))
    result += both("/admin/users/manage", ["GET"], users_manage)
    result += both("/admin/api/users", ["GET"], users_api)
    result += both("/admin/export", ["GET"], export)
    result += both("/admin/users/delete", ["GET"], destructive("user-delete", needs_login=True))
    result += both("/admin/cache/drop", ["GET"], destructive("cache-drop", needs_login=True))
    result += both("/account/close", ["POST"], destructive("account-close", needs_login=True))
    result += both("/logout", ["GET"], logout)
    return result
