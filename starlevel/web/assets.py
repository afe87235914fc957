"""/favicon.ico: browsers ask for it on every site; answer with the star icon (SVG)."""

from __future__ import annotations

from functools import lru_cache

from litestar import Response, get

from starlevel.paths import static_dir


@lru_cache(maxsize=1)
def _icon() -> bytes:
    return (static_dir() / "favicon.svg").read_bytes()


@get("/favicon.ico", name="favicon", sync_to_thread=False, include_in_schema=False)
def favicon() -> Response[bytes]:
    return Response(_icon(), media_type="image/svg+xml", headers={"Cache-Control": "public, max-age=86400"})
