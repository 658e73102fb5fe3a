"""接口错误 One error shape for every API error: ``{"code", "message", "errors": [{"field", "message"}]}``.

``message`` is Chinese (with the field named); ``errors`` lists each invalid field by its path in the
body (``total_amount``, ``referred``) so a hospital system can point at it. Pydantic's English
messages are replaced by Chinese ones by error type.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError

# Session-authenticated API paths (the offline app): they need the session, CSRF and user middleware.
SESSION_API_PREFIXES = ("/api/v1/offline/",)

# Chinese field names of the request bodies, for messages ("总费用 total_amount：…").
FIELD_LABELS = {
    "claim_id": "结算申请号",
    "id_number": "身份证号",
    "admitted_on": "入院日期",
    "discharged_on": "出院日期",
    "total_amount": "医疗总费用",
    "out_of_scope_amount": "目录外费用",
    "referred": "转诊备案",
    "reason": "冲销原因",
}

# Pydantic error types → Chinese messages (the ones a hospital system can trigger).
PYDANTIC_MESSAGES = {
    "missing": "必填，未提供",
    "extra_forbidden": "不是本接口的字段",
    "string_type": "应为文本",
    "string_too_short": "不能为空",
    "string_too_long": "过长",
    "string_pattern_mismatch": "格式不对",
    "date_type": "应为日期 YYYY-MM-DD",
    "date_parsing": "应为日期 YYYY-MM-DD",
    "date_from_datetime_parsing": "应为日期 YYYY-MM-DD",
    "date_from_datetime_inexact": "应为日期 YYYY-MM-DD",
    "bool_type": "应为 true 或 false",
    "bool_parsing": "应为 true 或 false",
    "json_invalid": "请求体不是合法的 JSON",
    "model_attributes_type": "请求体应为 JSON 对象",
    "dict_type": "请求体应为 JSON 对象",
}

# Amount fields (``*_amount``) get a message saying how to write an amount.
AMOUNT_MESSAGES = {
    "string_type": '应为带两位小数的金额文本（字符串，不能是数字），如 "1234.50"',
    "string_pattern_mismatch": '应为带两位小数的金额文本，如 "1234.50"',
}

# The ID number's format (the schema's pattern); its check digit is the validator's (校验码).
ID_NUMBER_MESSAGES = {
    "string_pattern_mismatch": "应为18位身份证号：17位数字加1位校验码（数字或X）",
}

ERR_TOO_LARGE = "请求体过大（上限 {limit} 字节） / the request body is too large"
# Any other error status of a path under /api/ that did not come from a handler (a wrong method, an
# unknown path, a server error): the one shape, never Django's HTML page.
STATUS_ERRORS = {
    400: ("bad_request", "请求有误 / bad request"),
    404: ("not_found", "未找到 / not found"),
    405: ("method_not_allowed", "不支持此请求方法 / method not allowed"),
    413: ("too_large", "请求体过大 / the request body is too large"),
    500: ("server_error", "服务器内部错误，请稍后重试或联系县卫健局 / server error"),
}

ERR_UNAUTHORIZED = "缺少或无效的接口令牌（Authorization: Bearer <令牌>） / missing or invalid API token"
ERR_NOT_JSON = "请求体不是合法的 JSON / the request body is not JSON"
ERR_NOT_FOUND = "未找到 / not found"
ERR_SESSION = "登录已过期或尚未登录，请重新登录 / not logged in"
ERR_CSRF = "安全校验（CSRF）失败，请刷新页面后重试 / CSRF check failed"


class FieldErrorOut(Schema):
    """字段错误 One invalid field: its path in the request and a Chinese message."""

    field: str
    message: str


class ErrorOut(Schema):
    """错误 The one error shape of the API."""

    code: str
    message: str
    errors: list[FieldErrorOut] = []


class ApiError(Exception):
    """接口错误 An error a handler raises to answer with ``status`` and the one error shape."""

    def __init__(
        self, status: int, code: str, message: str, errors: list[dict[str, str]] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors or []


def field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    """字段路径 ``("body", "payload", "total_amount")`` → ``total_amount``; path params keep their name."""
    parts = [str(p) for p in loc]
    if parts[:1] == ["body"]:
        parts = parts[2:] if len(parts) > 2 else []
    elif parts[:1] in (["path"], ["query"]):
        parts = parts[1:]
    return ".".join(parts)


def field_error(field: str, message: str) -> dict[str, str]:
    """字段错误 ``{"field", "message"}`` with the field's Chinese name leading the message."""
    label = FIELD_LABELS.get(field.split(".")[0], "")
    return {"field": field, "message": f"{label}（{field}）：{message}" if label else f"{field}：{message}"}


def validation_errors(raw: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Chinese field errors from ninja's (pydantic's) error list."""
    out = []
    for error in raw:
        kind = str(error.get("type", ""))
        path = field_path(error.get("loc", ()))
        if path.endswith("_amount") and kind in AMOUNT_MESSAGES:
            text = AMOUNT_MESSAGES[kind]
        elif path == "id_number" and kind in ID_NUMBER_MESSAGES:
            text = ID_NUMBER_MESSAGES[kind]
        elif kind in PYDANTIC_MESSAGES:
            text = PYDANTIC_MESSAGES[kind]
        elif kind == "value_error" or kind.startswith("jkfp_"):
            # Our own validators raise PydanticCustomError with a Chinese message.
            text = str(error.get("msg", "")).removeprefix("Value error, ")
        else:
            text = f"不合法（{error.get('msg', kind)}）"
        out.append(field_error(path, text))
    return out


def error_response(status: int, code: str, message: str, errors: list[Any] | None = None) -> JsonResponse:
    """错误应答 The one error shape as a response, outside a handler (middleware, fast path)."""
    body = {"code": code, "message": message, "errors": errors or []}
    return JsonResponse(body, status=status, json_dumps_params={"ensure_ascii": False})


def as_api_error(response: HttpResponseBase) -> HttpResponseBase:
    """接口错误形状 An error response of an /api/ path that is not JSON (Django's HTML 404, a bare 405,
    a 400 or 500 page) replaced by the one shape with the same status and headers."""
    status = response.status_code
    if status < 400 or response.get("Content-Type", "").startswith("application/json"):
        return response
    code, message = STATUS_ERRORS.get(status, ("error", f"HTTP {status}"))
    replaced = error_response(status, code, message)
    for header, value in response.items():  # Allow, and the security headers already set
        if header.lower() not in ("content-type", "content-length"):
            replaced[header] = value
    return replaced


def install(api: NinjaAPI) -> None:
    """为接口安装错误处理 Give ``api`` the one error shape for 401, 404, 409, 422 and ``HttpError``."""

    def respond(
        request: HttpRequest, status: int, code: str, message: str, errors: list[Any]
    ) -> HttpResponse:
        return api.create_response(
            request, {"code": code, "message": message, "errors": errors}, status=status
        )

    @api.exception_handler(ApiError)
    def _api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
        return respond(request, exc.status, exc.code, exc.message, exc.errors)

    @api.exception_handler(ValidationError)
    def _invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
        errors = validation_errors(exc.errors)
        message = "请求内容有误：" + "；".join(e["message"] for e in errors)
        return respond(request, 422, "invalid", message, errors)

    @api.exception_handler(AuthenticationError)
    def _unauthorized(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        if request.path_info.startswith(SESSION_API_PREFIXES):
            return respond(request, 401, "unauthorized", ERR_SESSION, [])
        response = respond(request, 401, "unauthorized", ERR_UNAUTHORIZED, [])
        response["WWW-Authenticate"] = "Bearer"
        return response

    @api.exception_handler(RequestDataTooBig)
    def _too_large(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        message = ERR_TOO_LARGE.format(limit=limit)
        return respond(request, 413, "too_large", message, [{"field": "", "message": message}])

    @api.exception_handler(Http404)
    def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
        return respond(request, 404, "not_found", ERR_NOT_FOUND, [])

    @api.exception_handler(HttpError)
    def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        if exc.status_code == 400 and str(exc).startswith("Cannot parse request body"):
            # ninja answers 400 to a body that is not JSON; the API's rule is 422 for every bad body.
            return respond(request, 422, "invalid", ERR_NOT_JSON, [{"field": "", "message": ERR_NOT_JSON}])
        if exc.status_code == 403 and "CSRF" in str(exc):
            return respond(request, 403, "csrf", ERR_CSRF, [])
        return respond(request, exc.status_code, "error", str(exc), [])
