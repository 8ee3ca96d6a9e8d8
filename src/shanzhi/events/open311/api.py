"""The Open311 GeoReport v2 endpoints under /open311/v2/."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from shanzhi.errors import InvalidInput
from shanzhi.events.catalog import catalog
from shanzhi.events.open311.requests import (
    create_request,
    find_requests,
    find_updates,
    one_request,
    request_dicts,
)
from shanzhi.events.open311.wire import (
    CHANGESET,
    FORMATS,
    SPECIFICATION,
    Doc,
    Open311Error,
    answer,
    comma_list,
    error_doc,
    jurisdiction,
    reader,
    render,
    window,
)
from shanzhi.http import DbSession

router = APIRouter(prefix="/open311/v2", include_in_schema=True, tags=["open311"])
Jurisdiction = Annotated[str | None, Query(description="区划代码，如 330203 (the district code)")]
ApiKey = Annotated[str | None, Query(description="shanzhi 个人 API 令牌 (a personal API token)")]


async def form_fields(request: Request) -> tuple[dict[str, str], list[str]]:
    """Every posted field (FixMyStreet adds `attribute[…]` ones, which are ignored) and the media URLs."""
    form = await request.form()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    media = [v for v in form.getlist("media_url") if isinstance(v, str)]
    return fields, media


@router.get("/discovery.{fmt}", summary="服务发现 Discovery")
def discovery(request: Request, fmt: str) -> Response:
    if fmt not in FORMATS:
        return render(error_doc(404, f"unknown format {fmt!r}: use .json or .xml"), "json")
    url = str(request.base_url).rstrip("/") + router.prefix
    body = {
        "changeset": CHANGESET,
        "contact": "请联系区社会治理指挥中心 (the district command center)",
        "key_service": "登录后在「我的账户 › 接口令牌」创建个人 API 令牌，作为 api_key 使用 "
                       "(create a personal API token under /account and send it as api_key)",
        "endpoints": [{"specification": SPECIFICATION, "url": url, "changeset": CHANGESET, "type": "production",
                       "formats": ["text/xml", "application/json"]}],
    }
    return render(Doc("discovery", body), fmt)


@router.get("/services.{fmt}", summary="服务（事件小类）列表 Service list")
def services(session: DbSession, fmt: str, jurisdiction_id: Jurisdiction = None) -> Response:
    def work() -> Doc:
        jurisdiction(session, jurisdiction_id)
        cat = catalog()
        majors = {m.code: m.name for m in cat.majors()}
        items = [{"service_code": c.code, "service_name": c.name, "description": c.accept_standard,
                  "metadata": False, "type": "realtime", "keywords": ",".join(c.keywords),
                  "group": majors[c.major]} for c in cat.categories]
        return Doc("services", items, item="service")

    return answer(session, fmt, work)


@router.get("/services/{service_code}.{fmt}", summary="服务定义 Service definition")
def service_definition(session: DbSession, service_code: str, fmt: str,
                       jurisdiction_id: Jurisdiction = None) -> Response:
    def work() -> Doc:
        jurisdiction(session, jurisdiction_id)
        try:
            category = catalog().category(service_code)
        except InvalidInput:
            raise Open311Error(404, f"未知的 service_code：{service_code} (unknown service_code)") from None
        return Doc("service_definition", {"service_code": category.code, "attributes": []})

    return answer(session, fmt, work)


@router.post("/requests.{fmt}", summary="提交诉求 Create a service request (api_key required)")
def post_request(
    request: Request, session: DbSession, fmt: str,
    form: Annotated[tuple[dict[str, str], list[str]], Depends(form_fields)],
) -> Response:
    fields, media = form
    return answer(session, fmt, lambda: create_request(session, fields=fields, media=media, path=request.url.path))


@router.get("/requests.{fmt}", summary="诉求列表 Service requests (public fields)")
def get_requests(
    request: Request, session: DbSession, fmt: str, jurisdiction_id: Jurisdiction = None, api_key: ApiKey = None,
    service_request_id: str | None = None, service_code: str | None = None,
    start_date: str | None = None, end_date: str | None = None, status: str | None = None,
) -> Response:
    def work() -> Doc:
        actor, district = reader(session, request, api_key, jurisdiction_id)
        statuses = sorted(set(comma_list(status)))
        if any(s not in ("open", "closed") for s in statuses):
            raise Open311Error(400, "status 应为 open 或 closed (status must be open or closed)")
        start, end = window(start_date, end_date)
        events = find_requests(session, actor=actor, district=district, ids=comma_list(service_request_id),
                               service_codes=comma_list(service_code), start=start, end=end,
                               statuses=statuses)
        return Doc("service_requests", request_dicts(session, events), item="request")

    return answer(session, fmt, work)


@router.get("/requests/{service_request_id}.{fmt}", summary="单个诉求 One service request")
def get_request(
    request: Request, session: DbSession, service_request_id: str, fmt: str,
    jurisdiction_id: Jurisdiction = None, api_key: ApiKey = None,
) -> Response:
    def work() -> Doc:
        actor, district = reader(session, request, api_key, jurisdiction_id)
        event = one_request(session, actor=actor, district=district, code=service_request_id)
        return Doc("service_requests", request_dicts(session, [event]), item="request")

    return answer(session, fmt, work)


@router.get("/tokens/{token}.{fmt}", summary="凭 token 查询诉求编号 Request id from a token")
def get_token(
    request: Request, session: DbSession, token: str, fmt: str,
    jurisdiction_id: Jurisdiction = None, api_key: ApiKey = None,
) -> Response:
    # Requests are created synchronously, so the token handed out is the request id itself.
    def work() -> Doc:
        actor, district = reader(session, request, api_key, jurisdiction_id)
        event = one_request(session, actor=actor, district=district, code=token)
        return Doc("service_requests", [{"service_request_id": event.code, "token": token}], item="request")

    return answer(session, fmt, work)


@router.get("/servicerequestupdates.{fmt}", summary="诉求进展（FixMyStreet 扩展）Service request updates")
def get_updates(
    request: Request, session: DbSession, fmt: str, jurisdiction_id: Jurisdiction = None, api_key: ApiKey = None,
    start_date: str | None = None, end_date: str | None = None,
) -> Response:
    def work() -> Doc:
        actor, district = reader(session, request, api_key, jurisdiction_id)
        start, end = window(start_date, end_date)
        updates = find_updates(session, actor=actor, district=district, start=start, end=end)
        return Doc("service_request_updates", updates, item="request_update")

    return answer(session, fmt, work)

