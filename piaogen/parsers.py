"""The API's request parser."""

from __future__ import annotations

import io

from django.utils.translation import gettext as _
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class StrictJSONParser(JSONParser):
    """JSON, refusing a NUL character anywhere in it (400 ``malformed``): no legitimate input
    carries one, and PostgreSQL can neither store nor compare text that does."""

    def parse(self, stream, media_type=None, parser_context=None):
        raw = stream.read() if stream is not None else b""
        if b"\x00" in raw or b"\\u0000" in raw.lower():
            raise ParseError(_("请求中含有不允许的空字符（NUL）。"))
        return super().parse(io.BytesIO(raw), media_type, parser_context)
