"""The ward board's static files (server/board/: index.html, board.js, board.css), served at
/board with headers that keep the page to its own origin. The page is a client of the public
GraphQL API like any other: it has no server side of its own and no build step."""

from __future__ import annotations

from pathlib import Path

from starlette.datastructures import MutableHeaders
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

BOARD_DIRECTORY = Path(__file__).parent / "board"

# The page shows patients' names and vitals: no script, style or connection from elsewhere (so
# an injected name cannot run code or send data away), and no framing by another site.
# 'self' covers the same origin's ws:/wss: for the subscription socket.
BOARD_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


class BoardFiles:
    """Static files of the board with BOARD_HEADERS on every answer."""

    def __init__(self) -> None:
        self.files: ASGIApp = StaticFiles(directory=BOARD_DIRECTORY, html=True)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in BOARD_HEADERS.items():
                    headers[name] = value
            await send(message)

        await self.files(scope, receive, send_with_headers)
