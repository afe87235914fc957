"""The app's request class: a JSON body that cannot be decoded is a client error, always.

msgspec decodes nested arrays and objects recursively, within the interpreter's recursion
limit: a body of a few hundred ``[`` (a few hundred bytes, from anyone signed in) raised
RecursionError out of Litestar's body parsing, which answers only ``DecodeError`` with 400,
and the server answered 500. Here such a body is malformed JSON like any other.
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.exceptions import SerializationException

__all__ = ["StarLevelRequest"]


class StarLevelRequest(Request[Any, Any, Any]):
    async def json(self) -> Any:
        try:
            return await super().json()
        except RecursionError as exc:
            # Litestar turns SerializationException from body parsing into a 400.
            raise SerializationException("JSON is malformed: arrays or objects nested too deeply") from exc
