"""The app's request class and its one check before every handler: malformed input is a
client error (400), never a crash deeper down.

- A JSON body nested deeper than the decoder can follow (msgspec recurses per level, within
  the interpreter's recursion limit: a few hundred ``[`` from anyone signed in) raised
  RecursionError out of Litestar's body parsing, which answers only ``DecodeError`` with 400.
- A multipart form field that is not UTF-8 text raised UnicodeDecodeError from Litestar's
  form parsing (in the CSRF middleware, before any handler).
- The NUL character (U+0000) in a path, a query, a form field or a JSON string: PostgreSQL
  refuses it in any text it is compared with or stores, so it answered 500 there wherever a
  value reached the database (a search, an id, a contact reference, a login name). It is
  never part of real text, so the request is refused before any handler runs.
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.exceptions import SerializationException, ValidationException

from starlevel.web.auth import SAFE_METHODS
from starlevel.web.i18n import gettext_for
from starlevel.web.render import lang_of

__all__ = ["StarLevelRequest", "refuse_nul_characters"]

NUL = "\x00"


class StarLevelRequest(Request[Any, Any, Any]):
    async def form(self) -> Any:
        try:
            return await super().form()
        except UnicodeDecodeError as exc:
            # Litestar decodes a multipart text field as UTF-8 without a fallback: a field of
            # other bytes raised out of the CSRF middleware (a 500 before any handler).
            raise ValidationException("a form field is not UTF-8 text") from exc

    async def json(self) -> Any:
        try:
            return await super().json()
        except RecursionError as exc:
            # Litestar turns SerializationException from body parsing into a 400.
            raise SerializationException("JSON is malformed: arrays or objects nested too deeply") from exc


def _holds_nul(value: Any) -> bool:
    """Whether a decoded JSON value holds NUL in any string, key or value."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if NUL in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _refused(request: Request[Any, Any, Any]) -> ValidationException:
    return ValidationException(gettext_for(lang_of(request))("Text may not contain the NUL character (U+0000)."))


async def refuse_nul_characters(request: Request[Any, Any, Any]) -> None:
    """``before_request``: refuse NUL anywhere in the request's text (400: the API's shape
    for API routes, the page "Bad request" in the user's language for the others).
    Uploaded files are not text here: their importer checks every cell."""
    if NUL in request.scope["path"] or b"%00" in request.scope["query_string"] or b"\x00" in request.scope["query_string"]:
        raise _refused(request)
    if request.method in SAFE_METHODS:
        return
    content_type, _ = request.content_type
    if content_type == RequestEncodingType.JSON:
        body = await request.body()
        # A NUL reaches a JSON string only escaped, as \u0000; decode only then (decoded once,
        # cached for the handler).
        if b"\\u0000" in body and _holds_nul(await request.json()):
            raise _refused(request)
    elif content_type in (RequestEncodingType.URL_ENCODED, RequestEncodingType.MULTI_PART):
        form = await request.form()
        for key, value in form.multi_items():
            if NUL in key or (not isinstance(value, UploadFile) and NUL in str(value)):
                raise _refused(request)
