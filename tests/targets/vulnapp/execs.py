"""Code and command execution: OS command injection (an echoing ping page and a blind
nslookup page), emulated SSI processing, and Jinja2 server-side template injection.

The careless pages paste the input into a ``/bin/sh -c`` command line. ``ping`` and
``nslookup`` are shell functions printing canned answers, so no packet ever leaves the
machine whatever the host; the *injected* commands (``; id``, ``| sleep 1``) run for real.
The twins run a fixed argv without a shell. The SSTI page renders in Jinja2's sandbox: the
template syntax is evaluated (``{{7*7}}`` gives 49) but Python internals are not reachable.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import time
from email.utils import formatdate
from typing import Any

from jinja2 import Environment, TemplateError
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.targets.vulnapp.site import Handler, Site, both, esc, link_list, page, prefix

COMMAND_TIMEOUT = 15.0

#: Shell functions standing in for the network tools (canned output, no traffic).
SHELL_STUBS = (
    'ping() { for a; do h="$a"; done; echo "PING $h ($h) 56(84) bytes of data."; '
    'echo "64 bytes from $h: icmp_seq=1 ttl=64 time=0.045 ms"; '
    'echo "--- $h ping statistics ---"; '
    'echo "1 packets transmitted, 1 received, 0% packet loss, time 0ms"; }; '
    'nslookup() { echo "Server: 127.0.0.53"; echo "Name: $1"; }; '
)

PING_FORMAT = (
    "PING %s (%s) 56(84) bytes of data.\n64 bytes from %s: icmp_seq=1 ttl=64 time=0.045 ms\n"
    "--- %s ping statistics ---\n1 packets transmitted, 1 received, 0%% packet loss, time 0ms\n"
)


def run_command(argv: list[str], timeout: float = COMMAND_TIMEOUT) -> str:
    """Run ``argv`` in its own process group; kill the whole group on timeout."""
    process = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
    return output.decode("utf-8", "replace")


def shell(command: str) -> str:
    """``command`` run by ``/bin/sh -c`` with the network-tool stubs defined."""
    return run_command(["/bin/sh", "-c", SHELL_STUBS + command])


# --- SSI ----------------------------------------------------------------------------------

SSI_DIRECTIVE = re.compile(r"<!--#(\w+)\s*(.*?)\s*-->", re.DOTALL)
SSI_ATTRIBUTE = re.compile(r"(\w+)\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|(\S+))")
SSI_ERROR = "[an error occurred while processing this directive]"
#: Commands the emulated ``exec cmd`` runs (argv, no shell); anything else is an error.
SSI_COMMANDS = frozenset({"id", "whoami", "echo", "uname", "date", "pwd"})


def ssi_process(text: str, variables: dict[str, str]) -> str:
    """Process Apache ``mod_include`` directives in ``text`` (echo, exec, printenv)."""

    def directive(match: re.Match[str]) -> str:
        name = match.group(1).lower()
        attributes = {
            m.group(1).lower(): next(g for g in m.groups()[1:] if g is not None)
            for m in SSI_ATTRIBUTE.finditer(match.group(2))
        }
        if name == "echo" and "var" in attributes:
            return variables.get(attributes["var"], "(none)")
        if name == "printenv":
            return "\n".join(f"{k}={v}" for k, v in variables.items())
        if name == "exec" and "cmd" in attributes:
            try:
                argv = shlex.split(attributes["cmd"])
            except ValueError:
                return SSI_ERROR
            if not argv or argv[0] not in SSI_COMMANDS:
                return SSI_ERROR
            return run_command(argv, timeout=3.0)
        return SSI_ERROR

    return SSI_DIRECTIVE.sub(directive, text)


def ssi_variables(request: Request) -> dict[str, str]:
    """The variables ``<!--#echo var=... -->`` can show."""
    now = time.time()
    return {
        "DATE_LOCAL": time.strftime("%A, %d-%b-%Y %H:%M:%S CST", time.localtime(now)),
        "DATE_GMT": formatdate(now, usegmt=True),
        "DOCUMENT_NAME": "wish.shtml",
        "DOCUMENT_URI": request.url.path,
        "LAST_MODIFIED": "Friday, 01-Mar-2024 10:00:00 CST",
        "QUERY_STRING_UNESCAPED": request.url.query,
        "REMOTE_ADDR": request.client.host if request.client else "",
        "SERVER_SOFTWARE": "Apache/2.4.29 (Ubuntu)",
    }


# --- SSTI ---------------------------------------------------------------------------------


class _Sandbox(SandboxedEnvironment):
    """Jinja2's sandbox, also refusing huge powers (``{{ 9**9**9 }}`` would hang)."""

    intercepted_binops = frozenset({"**"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, int) and right > 64:
            raise SecurityError("exponent too large")
        return super().call_binop(context, operator, left, right)


SANDBOX = _Sandbox()
AUTOESCAPE = Environment(autoescape=True)
CARD_TEMPLATE = "<div class='card'><h3>尊敬的{{ name }}：</h3><p>您的电子证照已生成。</p></div>"


def render_card(name: str, *, safe: bool) -> str:
    """The e-licence card: the careless one makes ``name`` part of the template."""
    if safe:
        return AUTOESCAPE.from_string(CARD_TEMPLATE).render(name=name)
    source = CARD_TEMPLATE.replace("{{ name }}", name)
    return SANDBOX.from_string(source).render()


def routes(site: Site) -> list[Route]:
    """The execution pages, old and new."""

    def tools_index(safe: bool) -> Handler:
        base = prefix(safe)

        async def handle(request: Request) -> Response:
            items = [
                (f"{base}/tools/ping?host=127.0.0.1", "网络诊断（Ping）"),
                (f"{base}/tools/nslookup?domain=www.yunzhou.gov.cn", "域名解析检测"),
                (f"{base}/tools/calendar?year=2024", "办事日历"),
                (f"{base}/services", "网站服务"),
            ]
            return page(site, "便民工具", link_list(items), v2=safe)

        return handle

    def ping(safe: bool) -> Handler:
        async def handle(request: Request) -> Response:
            host = request.query_params.get("host", "127.0.0.1")
            if safe:
                argv = ["printf", PING_FORMAT, host, host, host, host]
                output = await run_in_threadpool(run_command, argv)
            else:
                output = await run_in_threadpool(shell, f"ping -c 1 -W 1 {host}")
            body = (
                f'<form method="get" action="{prefix(safe)}/tools/ping">'
                f'<input type="text" name="host" value="{esc(host)}"> <button>诊断</button></form>'
                f"<pre class='output'>{esc(output)}</pre>"
            )
            return page(site, "网络诊断", body, v2=safe)

        return handle

    def nslookup(safe: bool) -> Handler:
        async def handle(request: Request) -> Response:
            domain = request.query_params.get("domain", "www.yunzhou.gov.cn")
            if safe:
                await run_in_threadpool(run_command, ["printf", "%s\n", domain])
            else:
                await run_in_threadpool(shell, f"nslookup {domain} >/dev/null 2>&1")
            body = (
                f'<form method="get" action="{prefix(safe)}/tools/nslookup">'
                '<input type="text" name="domain"> <button>检测</button></form>'
                "<p>检测任务已完成，结果已发送至管理员邮箱。</p>"
            )
            return page(site, "域名解析检测", body, v2=safe)

        return handle

    def wish(safe: bool) -> Handler:
        async def handle(request: Request) -> Response:
            name = request.query_params.get("name", "市民朋友")
            template = (
                "<p>{name}，云州市人民政府祝您新春快乐！</p>"
                '<p>当前时间：<!--#echo var="DATE_LOCAL" --></p>'
            )
            variables = ssi_variables(request)
            if safe:
                text = ssi_process(template, variables).replace("{name}", esc(name))
            else:
                text = await run_in_threadpool(
                    ssi_process, template.replace("{name}", name), variables
                )
            body = (
                f'<form method="get" action="{prefix(safe)}/zt/wish.shtml">'
                '<input type="text" name="name"> <button>生成贺卡</button></form>' + text
            )
            return page(site, "新春贺卡", body, v2=safe)

        return handle

    def card(safe: bool) -> Handler:
        async def handle(request: Request) -> Response:
            name = request.query_params.get("name", "市民")
            try:
                text = render_card(name, safe=safe)
            except TemplateError as exc:
                message = f"jinja2.exceptions.{type(exc).__name__}: {exc}"
                return page(site, "电子证照", f"<pre>{esc(message)}</pre>", v2=safe, status=500)
            return page(site, "电子证照", text, v2=safe)

        return handle

    result: list[Route] = []
    result += both("/tools/", ["GET"], tools_index)
    result += both("/tools/ping", ["GET"], ping)
    result += both("/tools/nslookup", ["GET"], nslookup)
    result += both("/zt/wish.shtml", ["GET"], wish)
    result += both("/zt/card", ["GET"], card)
    return result
