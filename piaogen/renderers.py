"""A JSON renderer for the API's large answers: the same bytes as DRF's ``JSONRenderer`` with the
project's settings (compact, UTF-8, U+2028/U+2029 escaped), written by orjson, several times
faster on lists of hundreds of invoices. Values orjson does not take as they are (dates, times,
decimals, lazy strings) go through DRF's own encoder, so they come out as before; an indented
answer (``Accept: application/json; indent=4``) is left to DRF."""

from __future__ import annotations

import orjson
from rest_framework.renderers import JSONRenderer
from rest_framework.utils.encoders import JSONEncoder

_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_NON_STR_KEYS
_default = JSONEncoder().default


class FastJSONRenderer(JSONRenderer):
    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        if self.get_indent(accepted_media_type, renderer_context or {}):
            return super().render(data, accepted_media_type, renderer_context)
        try:
            out = orjson.dumps(data, default=_default, option=_OPTIONS)
        except (orjson.JSONEncodeError, TypeError, ValueError):
            return super().render(data, accepted_media_type, renderer_context)
        # as DRF does: JSON allows these two raw, JavaScript source does not
        if b"\xe2\x80\xa8" in out or b"\xe2\x80\xa9" in out:
            out = out.replace(b"\xe2\x80\xa8", b"\\u2028").replace(b"\xe2\x80\xa9", b"\\u2029")
        return out
