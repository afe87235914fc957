"""How the server's HTTP connections are set up.

With ``--workers`` above one, uvicorn binds the listening socket itself with protocol
number 0, and asyncio then skips TCP_NODELAY on the connections it accepts (it sets the
option only on sockets whose protocol reads as TCP). Without it, Nagle's algorithm holds
back the last small segment of every response until the client's delayed ACK arrives, and
each keep-alive request waits about 40 ms: at 8 concurrent clients even the sign-in page
answered in 44 ms instead of 12 ms. The protocols below set the option on every connection,
whatever socket it came from.
"""

from __future__ import annotations

import asyncio
import socket

from uvicorn.protocols.http.h11_impl import H11Protocol


def set_no_delay(transport: asyncio.BaseTransport) -> None:
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:  # the peer is already gone; the protocol finds out on its own
            pass


class NoDelayH11Protocol(H11Protocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        set_no_delay(transport)
        super().connection_made(transport)


try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # pragma: no cover - httptools is a declared dependency, but optional to uvicorn
    HttpToolsProtocol = None  # type: ignore[assignment,misc]
else:

    class NoDelayHttpToolsProtocol(HttpToolsProtocol):  # type: ignore[no-redef]
        """The C parser (httptools): a quarter less CPU per request than h11."""

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            set_no_delay(transport)
            super().connection_made(transport)


def http_protocol() -> str:
    """What ``uvicorn --http`` should load for this app."""
    name = "NoDelayHttpToolsProtocol" if HttpToolsProtocol is not None else "NoDelayH11Protocol"
    return f"{__name__}:{name}"
