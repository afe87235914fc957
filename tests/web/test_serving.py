"""Every connection the server accepts has Nagle's algorithm off, however the socket was bound.

``uvicorn --workers N`` binds the listening socket with protocol number 0 and asyncio then
leaves TCP_NODELAY unset on accepted connections, which cost every keep-alive request about
40 ms (the peer's delayed ACK). The test binds its socket the same way.
"""

from __future__ import annotations

import asyncio
import gc
import socket
import weakref
from concurrent.futures import ThreadPoolExecutor

import pytest
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

from starlevel.settings import Settings
from starlevel.web import serving


async def _app(scope, receive, send):  # type: ignore[no-untyped-def]
    raise AssertionError("no request is sent: the option is set when the connection is accepted")


def _no_delay_on_accepted_connection(protocol_class: type) -> int:
    async def main() -> int:
        config = uvicorn.Config(_app, log_level="warning")
        config.load()
        state = ServerState()
        made: list[asyncio.Protocol] = []

        def factory() -> asyncio.Protocol:
            p = protocol_class(config=config, server_state=state, app_state={})
            made.append(p)
            return p

        listener = socket.socket(family=socket.AF_INET)  # as uvicorn's Config.bind_socket does: proto 0
        listener.bind(("127.0.0.1", 0))
        server = await asyncio.get_running_loop().create_server(factory, sock=listener)
        try:
            _, writer = await asyncio.open_connection(*listener.getsockname())
            for _ in range(500):  # the server side accepts on its next loop turns
                if made:
                    break
                await asyncio.sleep(0.01)
            accepted = made[0].transport.get_extra_info("socket")
            value = accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
            made[0].transport.close()
            writer.close()
            return value
        finally:
            server.close()
            await server.wait_closed()

    # On a loop of its own, in a thread: the browser tests leave one running in this one.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(main())).result()


def test_plain_uvicorn_protocol_leaves_nagle_on_for_such_a_socket():
    """The control: without the fix the option is off, so the test below can fail."""
    assert _no_delay_on_accepted_connection(H11Protocol) == 0


@pytest.mark.parametrize("name", ["NoDelayH11Protocol", "NoDelayHttpToolsProtocol"])
def test_our_protocols_turn_nagle_off(name: str):
    assert _no_delay_on_accepted_connection(getattr(serving, name)) != 0


def test_serve_uses_the_no_delay_protocol(monkeypatch):  # type: ignore[no-untyped-def]
    from starlevel import cli as cli_module

    seen: dict[str, object] = {}
    run_args: list[object] = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: (run_args.extend(a), seen.update(kw)))
    monkeypatch.setattr("starlevel.db.migrate.upgrade", lambda url: None)
    cli_module._serve(Settings(database_url="sqlite:///unused.db"), "127.0.0.1", 8000, workers=2)
    assert seen["http"] == "starlevel.web.serving:NoDelayHttpToolsProtocol"
    assert seen["workers"] == 2
    assert seen["factory"] is True and run_args == ["starlevel.web.serving:create_served_app"]


# ---------------------------------------------------------------- the heap frozen after start-up

class _Marker:
    pass


def test_the_served_app_freezes_its_heap_once_its_start_up_hooks_have_run(monkeypatch, tmp_path):  # type: ignore[no-untyped-def]
    from starlevel.db.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'served.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    upgrade(url)
    app = serving.create_served_app()
    try:
        assert app.on_startup[-1] is serving.freeze_startup_heap  # after the worker has started
    finally:
        for hook in app.on_shutdown:  # the app's engines (nothing else was started)
            hook(app)


def test_freezing_collects_garbage_first_and_then_hides_the_live_heap_from_the_collector():
    kept = _Marker()
    cycle = _Marker()
    cycle.self = cycle  # type: ignore[attr-defined]  # unreachable once dropped: only the collector frees it
    gone = weakref.ref(cycle)
    del cycle
    assert any(o is kept for o in gc.get_objects())
    before = gc.get_freeze_count()
    try:
        frozen = serving.freeze_startup_heap()
        assert gone() is None  # collected, not frozen
        assert frozen == gc.get_freeze_count() > before
        walked = gc.get_objects()
        assert not any(o is kept for o in walked)  # a full collection no longer visits it
    finally:
        gc.unfreeze()  # the rest of the suite keeps an ordinary collector
    assert any(o is kept for o in gc.get_objects())
