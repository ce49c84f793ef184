"""An authenticated session: form login, noticing when it has expired, logging in again.

The login form is found on the page the user names (the form with a password field); the
user-name field is the one whose name says so (user, name, account, login, 账号…) or the
first text field; hidden fields (CSRF tokens) are kept as served. Success means a redirect
away from the login page, or an answer without a password form. Expiry is noticed on a 401
or a redirect to the login page.
"""

from __future__ import annotations

import re
import threading
from urllib.parse import quote, urlencode, urlsplit

from shaobing.web.client import WebClient, WebResponse
from shaobing.web.forms import sample_value
from shaobing.web.html import Form, parse_page
from shaobing.web.request import FORM_TYPE, WebRequest

_USER_FIELD = re.compile(r"(?i)(user|name|account|login|email|mail|uid|账号|用户)")
# Most logins in one scan (organisation-defined): a session that expires at once must not
# turn the scan into a login loop.
MAX_LOGINS = 50


class LoginFailed(Exception):
    """The login form was not found or the credentials were refused."""


def _password_form(response: WebResponse) -> Form | None:
    if not response.is_html:
        return None
    page = parse_page(response.url, response.text)
    return next((form for form in page.forms if form.has_password), None)


def login_request(form: Form, username: str, password: str) -> WebRequest:
    """The request submitting ``form`` with the credentials (other fields as served)."""
    user_field = next(
        (f for f in form.fields if f.kind in ("text", "email") and _USER_FIELD.search(f.name)),
        None,
    ) or next((f for f in form.fields if f.kind in ("text", "email")), None)
    values: list[tuple[str, str]] = []
    for field in form.fields:
        if field.kind == "password":
            values.append((field.name, password))
        elif user_field is not None and field is user_field:
            values.append((field.name, username))
        elif field.kind == "checkbox":
            continue
        else:
            values.append((field.name, sample_value(field)))
    if form.method == "GET":
        parts = urlsplit(form.action)
        query = urlencode(values, quote_via=quote)
        return WebRequest("GET", parts._replace(query=query).geturl())
    body = urlencode(values, quote_via=quote).encode()
    return WebRequest("POST", form.action, (("Content-Type", FORM_TYPE),), body)


class FormLogin:
    """Logs in through an HTML form and logs in again when the session expires."""

    def __init__(self, client: WebClient, login_url: str, username: str, password: str) -> None:
        self.client = client
        self.login_url = login_url
        self.username = username
        self.password = password
        self.logins = 0
        self._lock = threading.Lock()

    def login(self, stale: str | None = None) -> bool:
        """Log in (fresh cookies); raises LoginFailed with the reason. ``stale`` is the
        Cookie header of a request that found the session expired: when the jar already
        holds other cookies, another thread has logged in meanwhile and nothing is sent."""
        with self._lock:
            if stale is not None and self.client.cookies.header_for(self.login_url) != stale:
                return True
            if self.logins >= MAX_LOGINS:
                raise LoginFailed(f"session keeps expiring ({MAX_LOGINS} logins)")
            self.client.cookies.clear()
            page = self.client.send(WebRequest("GET", self.login_url), follow=True)
            form = _password_form(page)
            if form is None:
                raise LoginFailed(f"no login form at {self.login_url}")
            # Not followed: the page after the login would spend a use of a session that
            # some applications limit, and a redirect away from the login page says enough.
            answer = self.client.send(login_request(form, self.username, self.password))
            location = answer.location
            if location is not None and 300 <= answer.status < 400:
                refused = urlsplit(location).path == self._login_path()
            else:
                refused = answer.status >= 400 or _password_form(answer) is not None
            if refused:
                raise LoginFailed(f"login refused at {form.action} (HTTP {answer.status})")
            self.logins += 1
            return True

    def _login_path(self) -> str:
        return urlsplit(self.login_url).path

    def expired(self, response: WebResponse) -> bool:
        """Whether ``response`` shows the session has ended: a 401, or a redirect (followed
        or not) to the login page from another page."""
        if response.status == 401:
            return True
        login_path = self._login_path()
        original = response.history[0] if response.history else response.request.url
        if urlsplit(original).path == login_path:
            return False
        reached = [*response.history[1:], response.url, response.location or ""]
        return any(url and urlsplit(url).path == login_path for url in reached)

    def retry(self, response: WebResponse) -> bool:
        """When ``response`` shows an expired session: log in again and say so (the caller
        repeats the request once)."""
        if not self.expired(response):
            return False
        try:
            return self.login(stale=response.request.header("cookie") or "")
        except LoginFailed:
            return False
