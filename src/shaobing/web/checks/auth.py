"""Login and access checks: weak passwords on login forms, no lockout, pages that answer
without the session.

``web.weak-login`` (active) — for each login form the crawl found (exactly one password
field, no captcha field, same site), at most ``login_forms`` (default 3) per site:

1. Two failures with random passwords for a made-up account give the *failure
   response* and how much it varies by itself (no real account is charged for them).
2. Accounts of ``web/data/login.yaml`` are tried one after another with the short web
   list, then the platform's weak-password dictionary (``scan/credentials``), at most
   ``login_attempts`` requests per form (default 20) and ``login_attempts_per_user``
   failures per account (default 10).
3. A guess succeeds when the answer differs from the failure response in a way a failure
   does not: a redirect to another, non-login page; the password form gone from a page
   that no longer looks like the failure page; a new session-like cookie; or a token in a
   JSON answer. The same guess is repeated once to confirm; the flags of the session
   cookie it won are judged too (``cookie-flags``).
4. A lockout sign (HTTP 423/429, or a text of ``lockout_markers`` — 锁定, 验证码, too many
   attempts … — or a captcha field not in the failure response) stops the form at once.
   When the failure response itself already names a limit ("还可尝试4次"), each account
   gets at most 2 guesses so the scan never locks a real account.
5. ``no-lockout`` is reported when ``lockout_threshold`` (default 6) failures of one
   account were accepted without any lockout sign. When a weak password is found earlier
   the lockout question stays open (more failures would only risk locking the account).

Form tokens (CSRF) are fetched again before each attempt when the form has token-like
hidden fields. Attempts use their own cookies (never the scan's session, and a session a
guess wins is not kept) and passwords are masked as ``******`` in every request kept as
evidence. Requests per login form: at most ``login_attempts`` in all (the form fetch, the
2 baselines, guesses, CSRF refreshes) + 1 confirmation.

``web.broken-access`` (active) — only when the scan is authenticated:

1. every crawled GET page of the site (at most ``access_pages``, default 200) is
   requested once without cookies; those answering with a redirect, 401/403/404 or a
   login form are *protected*;
2. each protected page is requested with the session and its links are collected: the
   pages *behind the login*;
3. pages reachable without a session from the public entry points (scope root, login
   page, robots.txt and sitemap.xml entries) through the anonymous answers — links,
   scripts (at most 50 fetched), GET forms, redirects — are *public*;
4. a page behind the login, not public, whose anonymous answer is a 2xx without a login
   form, is requested with the session once more and reported when both answers are at
   least ``SAME_CONTENT`` alike. An expired session is renewed once (``relogin``);
   without a session nothing is compared.

Requests: one per crawled page, one per protected page, one per candidate, 2 for
robots/sitemap, up to 50 scripts.
"""

from __future__ import annotations

import json
import re
import secrets
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from shaobing.scan.checks import Safety
from shaobing.scan.credentials import dictionaries
from shaobing.web.checks._support import (
    crawled_urls,
    load_data,
    option,
    same_origin,
    scope_root,
    try_send,
)
from shaobing.web.checks.base import ScanState, SiteCheck, register, similarity
from shaobing.web.checks.passive import CookieFlagsCheck, is_session_cookie
from shaobing.web.client import CookieJar, WebResponse
from shaobing.web.crawler import _robots_paths, _sitemap_urls
from shaobing.web.forms import form_request
from shaobing.web.html import Form, is_static, parse_page, script_urls
from shaobing.web.issues import WebIssue
from shaobing.web.request import FORM_TYPE, MASK, WebRequest
from shaobing.web.session import login_request
from shaobing.web.urls import UrlError, normalise

# Failures of one account accepted silently before ``no-lockout`` is reported
# (organisation-defined; 等级保护 asks for a failure limit, commonly 5).
DEFAULT_LOCKOUT_THRESHOLD = 6
# Requests per login form, failures per account and forms per site (organisation-defined:
# a short list is enough for the passwords that are actually guessed first).
DEFAULT_ATTEMPTS = 20
DEFAULT_ATTEMPTS_PER_USER = 10
DEFAULT_FORMS = 3
# Failures per account once the site shows it counts them (organisation-defined: stays
# below the lowest lockout threshold in common use, 3).
GUARDED_ATTEMPTS_PER_USER = 2
# A success must look less like the failure than this (organisation-defined), and less
# than the failure looks like itself minus a margin (pages with tokens or times vary).
SUCCESS_MAX_SIMILARITY = 0.8
STABILITY_MARGIN = 0.1
# Anonymous and authenticated answers at least this alike are the same content
# (organisation-defined: the same page with a different user name or time scores ~0.95).
SAME_CONTENT = 0.9
# Crawled pages re-requested without the session, and public scripts read to find links
# (organisation-defined: bounds the extra requests on large sites).
DEFAULT_ACCESS_PAGES = 200
MAX_PUBLIC_SCRIPTS = 50
_LOGIN_WORDS = re.compile(r"(?i)log_?in|sign_?in|log_?on|auth|登录|passport|sso")
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True)
class LoginData:
    """``login.yaml``, compiled."""

    users: tuple[str, ...]
    passwords: tuple[str, ...]
    markers: tuple[re.Pattern[str], ...]
    captcha: re.Pattern[str]
    token: re.Pattern[str]
    json_keys: frozenset[str]


@cache
def login_data() -> LoginData:
    """The dictionary and the lockout texts (loaded once)."""
    data = load_data("login.yaml")
    passwords = [str(p) for p in data["passwords"]]
    if data.get("common_passwords", True):
        passwords += dictionaries.common_passwords()
    return LoginData(
        users=tuple(str(u) for u in data["users"]),
        passwords=tuple(dict.fromkeys(p for p in passwords if p)),
        markers=tuple(re.compile(str(m), re.IGNORECASE) for m in data["lockout_markers"]),
        captcha=re.compile(str(data["captcha_fields"])),
        token=re.compile(str(data["token_fields"])),
        json_keys=frozenset(str(k).lower() for k in data["success_json_keys"]),
    )


def is_login_form(form: Form) -> bool:
    """Exactly one password field and no captcha (registration and change-password forms
    have two; a captcha cannot be guessed)."""
    if sum(1 for f in form.fields if f.kind == "password") != 1:
        return False
    if "multipart" in form.enctype or form.method not in ("GET", "POST"):
        return False
    return not any(login_data().captcha.search(f.name) for f in form.fields)


def _user_field(form: Form) -> bool:
    return any(f.kind in ("text", "email") for f in form.fields)


def markers_in(text: str) -> set[str]:
    """The lockout/captcha texts present in ``text``."""
    return {m.pattern for m in login_data().markers if m.search(text)}


def _password_form(response: WebResponse) -> Form | None:
    if not response.is_html:
        return None
    page = parse_page(response.url, response.text)
    return next((f for f in page.forms if f.has_password), None)


def _cookie_names(response: WebResponse) -> set[str]:
    names = set()
    for line in response.header_values("set-cookie"):
        name, sep, _ = line.split(";", 1)[0].partition("=")
        if sep and name.strip():
            names.add(name.strip())
    return names


def _location_path(response: WebResponse) -> str | None:
    if response.status not in _REDIRECTS or not response.location:
        return None
    return urlsplit(response.location).path or "/"


def _json_tokens(response: WebResponse, keys: frozenset[str]) -> set[str]:
    if "json" not in response.content_type:
        return set()
    try:
        document = json.loads(response.text)
    except ValueError:
        return set()
    found: set[str] = set()
    stack: list[Any] = [document]
    while stack and len(found) < 10:
        item = stack.pop()
        if isinstance(item, dict):
            for key, value in list(item.items())[:100]:
                if str(key).lower() in keys and isinstance(value, str) and value:
                    found.add(str(key).lower())
                elif isinstance(value, dict | list):
                    stack.append(value)
        elif isinstance(item, list):
            stack.extend(item[:100])
    return found


def _has_captcha(form: Form) -> bool:
    return any(login_data().captcha.search(f.name) for f in form.fields)


@dataclass
class Failure:
    """What a failed login looks like on one form."""

    response: WebResponse
    stability: float
    """How alike two failures are (pages with tokens or times differ from themselves)."""
    markers: set[str]
    form_paths: set[str]
    has_form: bool
    captcha: bool
    cookies: set[str]
    tokens: set[str]

    @property
    def guarded(self) -> bool:
        """Whether the failure already shows a limit (remaining attempts, 423/429)."""
        return bool(self.markers) or self.response.status in (423, 429)


def failure_of(first: WebResponse, second: WebResponse, form: Form) -> Failure:
    """The failure profile of ``form`` from two answers to random passwords."""
    shown = _password_form(first)
    return Failure(
        response=first,
        stability=similarity(first.text, second.text),
        markers=markers_in(first.text) | markers_in(second.text),
        form_paths={urlsplit(form.action).path or "/", urlsplit(first.url).path or "/"},
        has_form=shown is not None,
        captcha=shown is not None and _has_captcha(shown),
        cookies=_cookie_names(first) | _cookie_names(second),
        tokens=_json_tokens(first, login_data().json_keys),
    )


def lockout_sign(response: WebResponse, failure: Failure) -> str | None:
    """Why ``response`` shows a lockout, captcha or rate limit (None when it does not)."""
    if response.status in (423, 429):
        return f"HTTP {response.status}"
    if response.status == 503 and response.header("retry-after"):
        return "HTTP 503 + Retry-After"
    new = markers_in(response.text) - failure.markers
    if new:
        return "响应出现“" + "、".join(sorted(new)) + "”"
    form = _password_form(response)
    if form is not None and not failure.captcha and _has_captcha(form):
        return "登录表单出现验证码"
    return None


def succeeded(response: WebResponse, failure: Failure) -> bool:
    """Whether ``response`` to a guess differs from ``failure`` the way a login does."""
    if response.status >= 400:
        return False
    baseline = failure.response
    target = _location_path(response)
    if target is not None:
        if target in failure.form_paths or _LOGIN_WORDS.search(target):
            return False
        return target != _location_path(baseline)
    if 300 <= response.status < 400:
        return False
    limit = min(SUCCESS_MAX_SIMILARITY, failure.stability - STABILITY_MARGIN)
    if _location_path(baseline) is None and similarity(response.text, baseline.text) >= limit:
        return False
    new_cookies = {n for n in _cookie_names(response) - failure.cookies if is_session_cookie(n)}
    if new_cookies:
        return True
    if _json_tokens(response, login_data().json_keys) - failure.tokens:
        return True
    # The password form is gone from a page that no longer looks like the failure page.
    return response.is_html and failure.has_form and _password_form(response) is None


@dataclass
class _FormRun:
    """Guessing on one form: its own cookies (never the scan's session), fresh tokens."""

    state: ScanState
    form: Form
    jar: CookieJar = field(default_factory=CookieJar)
    refresh: bool = False
    requests: int = 0

    def prime(self) -> None:
        """Fetch the form's page for the cookies a login may need (pre-login session)."""
        self.refresh = any(
            f.kind == "hidden" and login_data().token.search(f.name) for f in self.form.fields
        )
        if self.form.method == "POST":
            self._reload()

    def _reload(self) -> None:
        self.requests += 1
        page = try_send(
            self.state,
            WebRequest("GET", self.form.action, self._cookie_headers()),
            use_cookies=False,
            store_cookies=False,
        )
        if page is None:
            return
        self.jar.update(page.url, page.header_values("set-cookie"))
        fresh = _password_form(page)
        if fresh is None or fresh.action != self.form.action:
            return
        if {f.name for f in self.form.fields} == {f.name for f in fresh.fields}:
            self.form = fresh

    def _cookie_headers(self) -> tuple[tuple[str, str], ...]:
        header = self.jar.header_for(self.form.action)
        return (("Cookie", header),) if header else ()

    def attempt(self, username: str, password: str) -> WebResponse | None:
        """Submit the form with these credentials. Cookies the answer sets are not kept:
        a session won by one guess must not make the next one look successful."""
        if self.refresh:
            self._reload()
        request = login_request(self.form, username, password)
        for name, value in self._cookie_headers():
            request = request.with_header(name, value)
        self.requests += 1
        return try_send(self.state, request, use_cookies=False, store_cookies=False)


def mask_password(request: WebRequest, form: Form, password: str) -> WebRequest:
    """``request`` with the password field's value replaced by the mask (evidence)."""
    names = {f.name for f in form.fields if f.kind == "password"}

    def masked(pairs: list[tuple[str, str]]) -> str:
        """The pairs url-encoded with the password values masked."""
        return urlencode([(k, MASK if k in names else v) for k, v in pairs], safe="*")

    if request.method == "GET":
        parts = urlsplit(request.url)
        query = masked(parse_qsl(parts.query, keep_blank_values=True))
        return replace(request, url=parts._replace(query=query).geturl())
    if request.content_type == FORM_TYPE:
        return replace(request, body=masked(request.form()).encode())
    if password:
        return replace(request, body=request.body.replace(password.encode(), MASK.encode()))
    return request


def _masked_response(response: WebResponse, form: Form, password: str) -> WebResponse:
    return replace(response, request=mask_password(response.request, form, password))


def _random_password() -> str:
    # Long and mixed: no real account has it, no complexity rule refuses it.
    return "Sb#" + secrets.token_urlsafe(12)


class WeakLoginCheck(SiteCheck):
    """Short-dictionary guessing on login forms, with lockout awareness."""

    id = "web.weak-login"
    kinds = ("weak-login", "no-lockout")
    safety = Safety.ACTIVE

    def run(self, base: str, state: ScanState) -> Iterator[WebIssue]:
        """Every login form of ``base`` (at most ``login_forms``)."""
        limit = option(state, self.id, "login_forms", DEFAULT_FORMS, 0)
        seen: set[tuple[str, str, tuple[str, ...]]] = set()
        forms: list[Form] = []
        for form in state.forms():
            key = (form.method, form.action, tuple(sorted(f.name for f in form.fields)))
            if key in seen or not same_origin(form.action, base) or not is_login_form(form):
                continue
            if not state.client.scope.allows(form.action):
                continue
            seen.add(key)
            forms.append(form)
        for form in forms[:limit]:
            yield from self._test_form(state, form)

    def _test_form(self, state: ScanState, form: Form) -> Iterator[WebIssue]:
        data = login_data()
        # At least the form fetch and the two baselines.
        cap = option(state, self.id, "login_attempts", DEFAULT_ATTEMPTS, 3)
        per_user = option(state, self.id, "login_attempts_per_user", DEFAULT_ATTEMPTS_PER_USER, 1)
        # One failure is no pattern: a threshold needs at least two.
        threshold = option(state, self.id, "lockout_threshold", DEFAULT_LOCKOUT_THRESHOLD, 2)
        run = _FormRun(state, form)
        run.prime()
        named = _user_field(form)
        users = list(data.users) if named else [""]
        # Failures are measured with a made-up account, so no real one is charged for
        # them (a form without a user name field has only the one account).
        probe_user = "sb" + secrets.token_hex(5) if named else ""
        first = run.attempt(probe_user, _random_password())
        second = run.attempt(probe_user, _random_password()) if first is not None else None
        if first is None or second is None or first.status >= 500:
            return
        failure = failure_of(first, second, form)
        if failure.captcha or lockout_sign(second, failure) is not None:
            return  # a captcha or a limit after two failures: guessing is not possible
        failures: dict[str, int] = {} if named else {"": 2}
        if failure.guarded:
            per_user = min(per_user, GUARDED_ATTEMPTS_PER_USER)
        reported_lockout = False
        for user in users:
            for password in data.passwords:
                if run.requests >= cap or failures.get(user, 0) >= per_user:
                    break
                if state.client.ctx.should_stop():
                    return
                response = run.attempt(user, password)
                if response is None:
                    continue
                if lockout_sign(response, failure) is not None:
                    return  # stop at once: never push a lockout further
                if succeeded(response, failure):
                    again = run.attempt(user, password)
                    if again is not None and succeeded(again, failure):
                        yield self._weak(form, user, password, response)
                        # The scan's own login is never watched by the passive checks:
                        # the session cookie this guess won is judged here.
                        masked = _masked_response(response, form, password)
                        yield from CookieFlagsCheck().observe(masked, state)
                        return
                failures[user] = failures.get(user, 0) + 1
                if not failure.guarded and not reported_lockout and failures[user] >= threshold:
                    reported_lockout = True
                    yield self._no_lockout(form, user, failures[user], response, password)
            if run.requests >= cap:
                break

    def _weak(self, form: Form, user: str, password: str, response: WebResponse) -> WebIssue:
        shown = _masked_response(response, form, password)
        name = next(f.name for f in form.fields if f.kind == "password")
        account = f"用户名 {user}，" if _user_field(form) else ""
        return WebIssue(
            kind="weak-login",
            url=form.action,
            method=form.method,
            parameter=f"{'query' if form.method == 'GET' else 'form'}:{name}",
            detail=(
                f"登录表单 {form.action} 使用弱口令登录成功（{account}口令 {MASK}），"
                f"两次提交均得到登录成功的响应（HTTP {response.status}）。"
            ),
            request=shown.request,
            response=shown,
            extra={"username": user if _user_field(form) else None},
        )

    def _no_lockout(
        self, form: Form, user: str, count: int, response: WebResponse, password: str
    ) -> WebIssue:
        shown = _masked_response(response, form, password)
        return WebIssue(
            kind="no-lockout",
            url=form.action,
            method=form.method,
            detail=(
                f"{'账号 ' + user + ' ' if user else ''}连续 {count} 次登录失败后，表单仍照常受理，"
                "响应中没有锁定、"
                "验证码或限速提示。"
            ),
            request=shown.request,
            response=shown,
            confidence="firm",
            extra={"failures": count, "username": user},
        )


# --------------------------------------------------------------------------- access


def _norm(url: str) -> str | None:
    try:
        return normalise(url)
    except UrlError:
        return None


def looks_protected(response: WebResponse, login_url: str | None) -> bool:
    """Whether an answer refuses or asks to log in: any status from 300 up (redirects,
    401, 403, 404), the login page, or a password form."""
    if response.status >= 300:
        return True
    if login_url and _norm(response.url) == _norm(login_url):
        return True
    return _password_form(response) is not None


def page_links(response: WebResponse) -> list[str]:
    """URLs an answer leads to: its redirect target, or the links, scripts and GET-form
    targets of an HTML page, or the URLs in a script."""
    if response.status in _REDIRECTS and response.location:
        return [response.location]
    if response.status != 200:
        return []
    if "javascript" in response.content_type:
        return script_urls(response.url, response.text)
    if not response.is_html:
        return []
    page = parse_page(response.url, response.text)
    links = [*page.links, *page.scripts]
    for form in page.forms:
        request = form_request(form)
        if request is not None and request.method == "GET":
            links.append(request.url)
    return links


class BrokenAccessCheck(SiteCheck):
    """Pages linked only from the session's pages that answer the same without it."""

    id = "web.broken-access"
    kinds = ("broken-access",)
    safety = Safety.ACTIVE

    def run(self, base: str, state: ScanState) -> Iterator[WebIssue]:
        """See the module docstring for the steps and their requests."""
        if not state.authenticated:
            return
        limit = option(state, self.id, "access_pages", DEFAULT_ACCESS_PAGES, 0)
        login = _norm(state.login_url) if state.login_url else None
        pages = [
            url
            for url in dict.fromkeys(_norm(u) for u in crawled_urls(state, base))
            if url and url != login and not is_static(url)
        ][:limit]
        anonymous: dict[str, WebResponse] = {}
        for url in pages:
            if state.client.ctx.should_stop():
                return
            answer = _anonymous(state, url)
            if answer is not None:
                anonymous[url] = answer
        protected = [u for u, a in anonymous.items() if looks_protected(a, state.login_url)]
        behind: set[str] = set()
        for url in protected:
            inside = self._with_session(state, url)
            if inside is not None:
                behind.update(u for u in (_norm(v) for v in page_links(inside)) if u)
        public = _public_reach(state, base, anonymous)
        for url, answer in anonymous.items():
            if url not in behind or url in public or looks_protected(answer, state.login_url):
                continue
            if state.client.ctx.should_stop():
                return
            issue = self._compare(state, url, answer)
            if issue is not None:
                yield issue

    @staticmethod
    def _with_session(state: ScanState, url: str) -> WebResponse | None:
        answer = try_send(state, WebRequest("GET", url))
        if (
            answer is not None
            and looks_protected(answer, state.login_url)
            and state.relogin is not None
            and state.relogin()
        ):
            answer = try_send(state, WebRequest("GET", url))
        if answer is None or looks_protected(answer, state.login_url):
            return None  # the session itself is refused here: nothing to learn
        return answer

    def _compare(self, state: ScanState, url: str, anonymous: WebResponse) -> WebIssue | None:
        inside = self._with_session(state, url)
        if inside is None:
            return None
        score = similarity(anonymous.text, inside.text)
        if score < SAME_CONTENT:
            return None
        return WebIssue(
            kind="broken-access",
            url=url,
            detail=(
                f"{urlsplit(url).path} 只从登录后的页面链接，不携带会话（不带 Cookie）请求时"
                f"返回 HTTP {anonymous.status}，内容与登录后一致（相似度 {score:.2f}），"
                "没有跳转登录页或返回 401/403。"
            ),
            request=anonymous.request,
            response=anonymous,
            extra={"similarity": round(score, 3)},
        )


def _anonymous(state: ScanState, url: str) -> WebResponse | None:
    if not state.client.scope.allows(url):
        return None
    return try_send(state, WebRequest("GET", url), use_cookies=False, store_cookies=False)


def _public_reach(state: ScanState, base: str, anonymous: dict[str, WebResponse]) -> set[str]:
    """URLs reachable without a session from the public entry points (scope root, login
    page, robots.txt and sitemap.xml entries), following the anonymous answers of crawled
    pages and of the scripts they load (at most :data:`MAX_PUBLIC_SCRIPTS` fetched)."""
    answers = dict(anonymous)
    entries = [scope_root(state, base), *([state.login_url] if state.login_url else [])]
    origin_root = base.rstrip("/") + "/"
    for name, parse in (("robots.txt", "robots"), ("sitemap.xml", "sitemap")):
        answer = _anonymous(state, origin_root + name)
        if answer is None or answer.status != 200:
            continue
        found = (
            _robots_paths(answer.url, answer.text)[0]
            if parse == "robots"
            else _sitemap_urls(answer.body)[0]
        )
        entries += found
    fetched_scripts = 0
    reached: set[str] = set()
    starts = {u for u in (_norm(e) for e in entries) if u}
    queue = deque(sorted(starts))
    while queue:
        url = queue.popleft()
        if url in reached or not same_origin(url, base):
            continue
        reached.add(url)
        answer = answers.get(url)
        if answer is None:
            script = urlsplit(url).path.endswith((".js", ".mjs"))
            if url not in starts and not (script and fetched_scripts < MAX_PUBLIC_SCRIPTS):
                continue  # not crawled: it only counts as reached
            fetched_scripts += int(script)
            fetched = _anonymous(state, url)
            if fetched is None:
                continue
            answers[url] = answer = fetched
        if looks_protected(answer, state.login_url) and answer.status not in _REDIRECTS:
            continue
        queue.extend(u for u in (_norm(v) for v in page_links(answer)) if u and u not in reached)
    return reached


for _check in (WeakLoginCheck(), BrokenAccessCheck()):
    register(_check)
