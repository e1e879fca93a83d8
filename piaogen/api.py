"""The API's shared kernel: error mapping and the reading of bodies; the base view of each
audience (App users, partners) is in accounts/audiences.py.

Every error answers ``{"code", "message", "errors"}``; no input, however malformed, gets
a 500 from the parsing layer.
"""

from __future__ import annotations

import io
import logging

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response

from .errors import ServiceError

logger = logging.getLogger(__name__)


def _flatten(detail) -> dict[str, list[str]]:
    if isinstance(detail, dict):
        out: dict[str, list[str]] = {}
        for key, value in detail.items():
            if isinstance(value, dict):
                for sub, msgs in _flatten(value).items():
                    out[f"{key}.{sub}"] = msgs
            elif isinstance(value, list) and value and isinstance(value[0], dict):
                for i, item in enumerate(value):
                    for sub, msgs in _flatten(item).items():
                        out[f"{key}.{i}.{sub}"] = msgs
            elif isinstance(value, list):
                out[str(key)] = [str(v) for v in value]
            else:
                out[str(key)] = [str(value)]
        return out
    if isinstance(detail, list):
        return {"non_field_errors": [str(v) for v in detail]}
    return {"non_field_errors": [str(detail)]}


def error_response(exc: ServiceError) -> Response:
    response = Response(exc.as_dict(), status=exc.status)
    if exc.retry_after is not None:
        response["Retry-After"] = str(exc.retry_after)
    return response


def exception_handler(exc, context):
    if isinstance(exc, ServiceError):
        return error_response(exc)
    if isinstance(exc, Http404):
        return Response({"code": "not_found", "message": _("找不到该对象。"), "errors": {}}, status=404)
    if isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, exceptions.ValidationError):
        errors = _flatten(exc.detail)
        first = next(iter(errors.values()), [_("请求有误。")])[0]
        return Response({"code": "invalid", "message": first, "errors": errors}, status=400)
    if isinstance(exc, exceptions.Throttled):
        wait = int(exc.wait or 1)
        response = Response(
            {
                "code": "too_many_requests",
                "message": _("请求过于频繁，请 %(s)s 秒后再试。") % {"s": wait},
                "errors": {},
            },
            status=429,
        )
        response["Retry-After"] = str(wait)
        return response
    if isinstance(exc, exceptions.APIException):
        codes = {
            exceptions.NotAuthenticated: ("unauthenticated", _("请提供有效的令牌：Authorization: Bearer <令牌>。")),
            exceptions.AuthenticationFailed: ("unauthenticated", None),
            exceptions.PermissionDenied: ("forbidden", _("无权访问该接口。")),
            exceptions.NotFound: ("not_found", _("找不到该对象。")),
            exceptions.MethodNotAllowed: ("method_not_allowed", _("不支持该请求方法。")),
            exceptions.ParseError: ("malformed", _("请求体不是有效的 JSON。")),
            exceptions.UnsupportedMediaType: ("unsupported_media_type", _("请求体须为 application/json。")),
            exceptions.NotAcceptable: ("not_acceptable", _("无法提供所请求的格式。")),
        }
        code, message = codes.get(type(exc), ("error", None))
        if message is None:
            message = str(exc.detail) if not isinstance(exc.detail, (dict, list)) else _("请求有误。")
        response = Response({"code": code, "message": message, "errors": {}}, status=exc.status_code)
        auth_header = getattr(exc, "auth_header", None)
        if auth_header:
            response["WWW-Authenticate"] = auth_header
        return response
    if isinstance(exc, RequestDataTooBig):
        return error_response(body_too_large(settings.DATA_UPLOAD_MAX_MEMORY_SIZE))
    if isinstance(exc, DatabaseError):
        return database_unavailable(exc, context)
    return None


DATABASE_RETRY_AFTER = 30


def database_unavailable(exc: DatabaseError, context) -> Response:
    """A database error ends the call with a clear 503, never a 500. Services own their
    transactions, so the failed one stored nothing; a partner's bulk write (a view with
    ``batch_write``) is one transaction, so the answer can say that nothing of the batch was
    stored and that sending it again as it is is safe."""
    view = context.get("view") if context else None
    logger.error("database error in %s: %s", type(view).__name__ if view else "api", type(exc).__name__, exc_info=exc)
    if getattr(view, "batch_write", False):
        body = {
            "code": "batch_not_stored",
            "message": _("数据库暂时不可用，本批次没有任何一项被保存。请稍后将本批次原样重新推送（推送是幂等的）。"),
            "errors": {},
            "stored": 0,
        }
    else:
        body = {
            "code": "unavailable",
            "message": _("服务暂时不可用，本次操作没有生效，请稍后重试。"),
            "errors": {},
        }
    response = Response(body, status=503)
    response["Retry-After"] = str(DATABASE_RETRY_AFTER)
    return response


def read_body(request, limit: int) -> None:
    """Reads the body of ``request`` (Django's) into memory when it is at most ``limit`` bytes,
    where Django's own ``body`` would stop at DATA_UPLOAD_MAX_MEMORY_SIZE."""
    if hasattr(request, "_body") or request._read_started:
        return
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > limit:
        raise body_too_large(limit)
    request._body = request.read()
    request._stream = io.BytesIO(request._body)


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))


def _mib(n: int) -> str:
    return f"{n / (1024 * 1024):g} MiB"


def body_too_large(limit: int) -> ServiceError:
    return ServiceError(
        "body_too_large",
        _("请求体超过 %(limit)s（%(bytes)s 字节）的上限；请分批提交。") % {"limit": _mib(limit), "bytes": limit},
        errors={"body": [_("不能超过 %(bytes)s 字节。") % {"bytes": limit}]},
        status=413,
        extra={"limit_bytes": limit},
    )


__all__ = [
    "ErrorSerializer",
    "body_too_large",
    "database_unavailable",
    "error_response",
    "exception_handler",
    "read_body",
    "status",
]
