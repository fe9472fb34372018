"""Request size limit: a body over the configured size gets a 413 without being read whole."""

from __future__ import annotations

from typing import Any

import orjson

from loyalty_engine.errors import PayloadTooLarge


class BodySizeLimit:
    def __init__(self, app: Any, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            # The server holds the body to its declared length, so the header is enough.
            if declared.isdigit() and int(declared) > self.max_bytes:
                await self._refuse(send)
                return
            await self.app(scope, receive, send)
            return
        # No declared length (chunked): read the body here, at most max_bytes of it. Refusing
        # from inside the app instead would not do: FastAPI turns body errors into a 400.
        messages = await self._read_within_limit(receive)
        if messages is None:
            await self._refuse(send)
            return
        await self.app(scope, _replay(messages, receive), send)

    async def _read_within_limit(self, receive: Any) -> list[Any] | None:
        """The body's messages, or None as soon as they pass max_bytes."""
        messages: list[Any] = []
        seen = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":  # the client left; the app will see it
                return messages
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                return None
            if not message.get("more_body", False):
                return messages

    async def _refuse(self, send: Any) -> None:
        error = PayloadTooLarge(
            f"request body exceeds {self.max_bytes} bytes", details={"max_bytes": self.max_bytes}
        )
        body = orjson.dumps(error.envelope())
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _replay(messages: list[Any], receive: Any) -> Any:
    """A `receive` that hands out the messages already read, then the connection's own."""
    pending = list(messages)

    async def replaying_receive() -> Any:
        if pending:
            return pending.pop(0)
        return await receive()

    return replaying_receive
