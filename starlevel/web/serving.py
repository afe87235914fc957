"""How the server's processes and HTTP connections are set up.

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
import gc
import socket
from typing import Any

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


# ---------------------------------------------------------------- the served app

def freeze_startup_heap(_app: Any = None) -> int:
    """Take what a server process holds once it has started (modules, classes, routes, the
    rulebook cache, compiled statements: about 160,000 objects) out of the cyclic garbage
    collector's view, so that its full collections walk only what requests made since.

    Those objects live as long as the process. The collector still walked them all on each
    full collection, every few seconds under load: 73–140 ms with the interpreter lock held,
    during which that process answered nothing, and a save in it held SQLite's write gate
    for as long, so every writer of the other process waited too (clusters of saves at
    150–250 ms). Frozen, a full collection takes about 10 ms. Garbage is collected first, so
    nothing unreachable is kept. Returns how many objects are frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


# What ``starlevel serve`` hands uvicorn as its app factory (the benchmark starts the same).
APP_FACTORY = f"{__name__}:create_served_app"


def create_served_app() -> Any:
    """The app as ``starlevel serve`` runs it in each server process (uvicorn's factory):
    :func:`starlevel.app.create_app`, with the heap frozen once its start-up hooks have run.
    Tests and embedders call ``create_app`` and keep their collector as it is."""
    from starlevel.app import create_app

    app = create_app()
    app.on_startup.append(freeze_startup_heap)
    return app
