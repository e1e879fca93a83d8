"""The OpenAPI schema's shared parts, added once instead of on every view.

Every operation can answer some errors whatever it does: 401 without a valid token, 403 for
a partner of the wrong kind, 429 when throttled, 400 for a body that is not JSON, 413 for a
body over the size limit, 415 for a
body that is not ``application/json``, 503 when the database is unavailable. A view that
documents one of these itself keeps its own description.
"""

from __future__ import annotations

ERROR = {"$ref": "#/components/schemas/Error"}

COMMON = {
    "401": "缺少令牌或令牌无效（Authorization: Bearer <令牌>）",
    "403": "该合作方类型无权调用此接口",
    "400": "请求有误：字段错误、请求体不是有效的 JSON",
    "404": "找不到该对象（或不属于当前账户/合作方）",
    "413": "请求体过大（合作方接口上限 PARTNER_MAX_BODY_BYTES，默认 16 MiB；其他接口 2.5 MiB），本次没有任何一项被保存",
    "415": "请求体须为 application/json",
    "429": "请求过于频繁；Retry-After 头给出需等待的秒数",
    "503": "服务暂时不可用（数据库不可用）；批量写入时本批次没有任何一项被保存，可原样重发",
}
RETRY_AFTER = {
    "Retry-After": {"schema": {"type": "integer"}, "description": "需等待的秒数"},
}


def _error(code: str) -> dict:
    response = {"description": COMMON[code], "content": {"application/json": {"schema": ERROR}}}
    if code in ("429", "503"):
        response["headers"] = RETRY_AFTER
    return response


def document_common_errors(result, generator, request, public):
    for path, methods in result.get("paths", {}).items():
        for _method, operation in methods.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            schemes = {name for requirement in operation.get("security") or [] for name in requirement}
            codes = ["429", "503"]
            if schemes & {"AppToken", "PartnerToken"}:
                codes.append("401")
            if "PartnerToken" in schemes:
                codes.append("403")
            if "requestBody" in operation or operation.get("parameters"):
                codes.append("400")
            if "requestBody" in operation:
                codes += ["413", "415"]
            if "{" in path:
                codes.append("404")
            for code in codes:
                responses.setdefault(code, _error(code))
    return result
