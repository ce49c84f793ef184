"""A cap on request bodies, checked before any route reads (or spools) the upload.

The largest legitimate body is a ledger workbook (the ledger reader's 50 MiB limit); 64 MiB
leaves room for multipart framing (organisation-defined).
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shaobing.core.i18n import t

MAX_BODY_BYTES = 64 * 1024 * 1024


class BodyTooLarge(Exception):
    """Raised inside ``receive`` when a streamed body passes the cap."""


class BodyLimit:
    """ASGI middleware answering 413 to bodies over ``limit`` (declared or streamed)."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse early on Content-Length; count streamed chunks otherwise."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await self._refuse(send)
            return
        seen = 0
        exceeded = False
        replaced = False

        async def counted() -> Message:
            nonlocal seen, exceeded
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    exceeded = True
                    raise BodyTooLarge
            return message

        async def watched(message: Message) -> None:
            # Whatever the app made of the interrupted body (a parse error, usually), the
            # caller learns the real reason.
            nonlocal replaced
            if not exceeded:
                await send(message)
            elif message["type"] == "http.response.start" and not replaced:
                replaced = True
                await self._refuse(send)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLarge:
            if not replaced:
                replaced = True
                await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        mib = self.limit // (1024 * 1024)
        body = json.dumps({"error": t("server.body_too_large", mib=mib)}, ensure_ascii=False)
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json; charset=utf-8"),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body.encode("utf-8")})
