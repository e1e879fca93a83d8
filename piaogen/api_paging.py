"""Optional keyset pagination of the App's lists, an extension of the contract that keeps its
shapes: the answer is still the JSON array, and a ``Link: <…>; rel="next"`` header names the
next page when there is one. ``?limit=`` sets the page size, ``?cursor=`` (copied from that
header) continues; a list with a default maximum sends the header whenever it stopped short."""

from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter
from rest_framework.response import Response

from .cursors import decode_cursor
from .errors import ServiceError
from .paging import Page

LINK_HEADER = OpenApiParameter(
    "Link",
    str,
    location=OpenApiParameter.HEADER,
    response=[200],
    description='下一页：`<URL>; rel="next"`，仅在还有更多时返回（URL 中带 cursor）',
)


def parameters(default: int | None, maximum: int) -> list[OpenApiParameter]:
    default_text = f"默认 {default}" if default else "缺省返回全部"
    return [
        OpenApiParameter("limit", int, required=False, description=f"每页条数，1–{maximum}，{default_text}"),
        OpenApiParameter("cursor", str, required=False, description='上一页响应头 Link rel="next" 中的 cursor'),
    ]


def page_request(
    request, *, default: int | None, maximum: int, kinds: tuple[type, ...]
) -> tuple[int | None, tuple | None]:
    """(limit, decoded cursor) of the request; 400 ``invalid`` for a malformed one."""
    raw = request.query_params.get("limit")
    limit = default
    if raw not in (None, ""):
        try:
            limit = int(raw)
        except ValueError:
            limit = 0
        if not 1 <= limit <= maximum:
            message = _("limit 须为 1–%(max)s 的整数。") % {"max": maximum}
            raise ServiceError("invalid", message, errors={"limit": [message]})
    cursor = request.query_params.get("cursor")
    after = None
    if cursor:
        try:
            after = decode_cursor(cursor, kinds)
        except ValueError:
            message = _("cursor 无效，请使用上一页响应头 Link 中的链接。")
            raise ServiceError("invalid", message, errors={"cursor": [_("无效。")]}) from None
        if limit is None:
            limit = maximum
    return limit, after


def paged_response(request, body: list | dict, page: Page | None, limit: int | None) -> Response:
    """The answer (an array, or an object holding the page such as App cards' ``results``),
    and the next page's link when ``page`` has one."""
    response = Response(body)
    if page is not None and page.next:
        query = request.query_params.copy()
        query["cursor"] = page.next
        if limit is not None:
            query["limit"] = str(limit)
        response["Link"] = f'<{request.build_absolute_uri(request.path)}?{query.urlencode()}>; rel="next"'
    return response
