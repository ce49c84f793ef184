"""``shaobing serve``: the web console and REST API (uvicorn)."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated

import typer

from shaobing.cli.output import err_console, initialised_engine
from shaobing.core.errors import ValidationError
from shaobing.core.i18n import t


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host == "localhost"


def serve(
    host: Annotated[str, typer.Option("--host", help=t("server.serve.help_host"))] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", min=1, max=65535, help=t("server.serve.help_port"))
    ] = 8000,
    tls_cert: Annotated[
        Path | None, typer.Option("--tls-cert", help=t("server.serve.help_tls_cert"))
    ] = None,
    tls_key: Annotated[
        Path | None, typer.Option("--tls-key", help=t("server.serve.help_tls_key"))
    ] = None,
    proxy: Annotated[
        bool,
        typer.Option("--behind-proxy", help=t("server.serve.help_proxy")),
    ] = False,
) -> None:
    """Start the web console and the REST API."""
    # Imported here: every other command would otherwise pay for loading the web stack.
    import uvicorn  # noqa: PLC0415

    from shaobing.server.app import create_app  # noqa: PLC0415

    if (tls_cert is None) != (tls_key is None):
        raise ValidationError(t("server.serve.tls_pair"))
    https = tls_cert is not None
    engine = initialised_engine()
    if not https and not proxy and not _loopback(host):
        err_console.print(t("server.serve.plain_http", host=host), markup=False, soft_wrap=True)
    scheme = "https" if https else "http"
    shown = f"[{host}]" if ":" in host else host
    err_console.print(
        t("server.serve.listening", url=f"{scheme}://{shown}:{port}/"), markup=False, soft_wrap=True
    )
    app = create_app(engine, https=https or proxy)
    uvicorn.run(
        app,
        host=host,
        port=port,
        ssl_certfile=str(tls_cert) if tls_cert else None,
        ssl_keyfile=str(tls_key) if tls_key else None,
        proxy_headers=proxy,
        forwarded_allow_ips="127.0.0.1,::1" if proxy else None,
        server_header=False,
        log_level="info",
    )
