"""What every router shares: the per-request session and the one mapping of errors to HTTP."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException as StarletteHTTPException

from shanzhi.db import transaction
from shanzhi.errors import InvalidInput, ShanzhiError


def _session(request: Request) -> Iterator[Session]:
    """One transaction per request, committed before the response is sent."""
    write = request.method not in ("GET", "HEAD", "OPTIONS")
    with transaction(request.app.state.session_factory, write=write) as session:
        # The audit trail records where a change came from without every call passing it.
        session.info["client_ip"] = request.client.host if request.client else None
        yield session


DbSession = Annotated[Session, Depends(_session, scope="function")]


def error_body(code: str, message: str, message_zh: str, details: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message, "message_zh": message_zh}
    if details is not None:
        body["details"] = details
    return {"error": body}


_HTTP_ZH = {
    404: ("not_found", "页面或资源不存在"),
    405: ("method_not_allowed", "不支持该请求方法"),
}


HtmlErrors = Callable[[Request, ShanzhiError], Response]


def wants_json(request: Request) -> bool:
    path = request.url.path
    return path.startswith(("/api/", "/open311/")) or "application/json" in request.headers.get("accept", "")


def install_error_handlers(app: FastAPI, html: HtmlErrors | None = None) -> None:
    """Domain errors → JSON for the API; pages get `html` (a rendered page or a redirect)."""

    @app.exception_handler(ShanzhiError)
    async def _domain(request: Request, exc: ShanzhiError) -> Response:
        if html is not None and not wants_json(request):
            return html(request, exc)
        return JSONResponse(exc.to_dict(), status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        problems = [
            {"field": ".".join(str(p) for p in e.get("loc", ())[1:]), "reason": e.get("msg", "")}
            for e in exc.errors()
        ]
        fields = ", ".join(p["field"] or "body" for p in problems)
        error = InvalidInput(f"Invalid input: {fields}", f"输入有误：{fields}", details=problems)
        if html is not None and not wants_json(request):
            return html(request, error)
        return JSONResponse(error.to_dict(), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code, zh = _HTTP_ZH.get(exc.status_code, ("http_error", "请求无法处理"))
        return JSONResponse(
            error_body(code, str(exc.detail), zh), status_code=exc.status_code, headers=exc.headers
        )
