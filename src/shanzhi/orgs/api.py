"""Organization, alliance, numbers and workbook endpoints; `router` also carries the lists'
(`lists_api`), so app.py mounts one router for the whole package."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request, Response

from shanzhi.accounts.deps import ApiActor
from shanzhi.errors import InvalidInput
from shanzhi.http import DbSession
from shanzhi.orgs import alliances, numbers, service, workbook_export, workbook_import
from shanzhi.orgs.lists_api import router as lists_router
from shanzhi.orgs.schemas import (
    AllianceCreate,
    AllianceUpdate,
    ContactBody,
    LeaveBody,
    MemberBody,
    OrgCreate,
    OrgUpdate,
    RevealBody,
    given,
)

router = APIRouter(prefix="/api/v1", tags=["alliances"])
Page = Annotated[int, Query(ge=1)]
Size = Annotated[int, Query(ge=1, le=500)]
Text = Annotated[str | None, Query(max_length=64)]


def _page(items: list[Any], total: int, page: int, size: int) -> dict[str, Any]:
    return {"items": items, "total": total, "page": page, "size": size}


def _xlsx(data: bytes, filename: str) -> Response:
    return Response(data, media_type=workbook_export.XLSX_TYPE,
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}"})


# -- workbook (before /orgs/{code}) -----------------------------------------------------------


@router.get("/orgs-workbook/template", summary="导入模板（XLSX）The import template")
def workbook_template(actor: ApiActor) -> Response:
    return _xlsx(workbook_export.template(), "组织与清单导入模板.xlsx")


@router.get("/orgs-workbook", summary="导出组织、联建、成员与清单（XLSX）Export")
def workbook_export_(session: DbSession, actor: ApiActor, region: Text = None) -> Response:
    data = workbook_export.export_workbook(session, actor=actor, region=region)
    return _xlsx(data, f"组织与清单-{region or '全部'}.xlsx")


@router.post("/orgs-workbook", summary="导入（XLSX，整体校验，有错则全部不写）Import, all or nothing")
async def workbook_import_(request: Request, session: DbSession, actor: ApiActor) -> dict[str, Any]:
    data = await request.body()
    if not data:
        raise InvalidInput("Send the XLSX file as the request body", "请以请求体上传 XLSX 文件", code="invalid_file")
    return workbook_import.import_workbook(session, actor=actor, data=data).as_dict()


# -- organizations ----------------------------------------------------------------------------


@router.get("/org-kinds", summary="组织类型 Organization kinds")
def org_kinds(actor: ApiActor) -> dict[str, Any]:
    items = service.kinds_catalog()
    return {"items": items, "total": len(items), "page": 1, "size": len(items)}


@router.get("/orgs", summary="组织名录 The directory of organizations")
def list_orgs(
    session: DbSession, actor: ApiActor, q: Text = None, kind: Text = None, region: Text = None,
    village: Text = None, page: Page = 1, size: Size = 50,
) -> dict[str, Any]:
    rows, total = service.list_orgs(session, actor=actor, q=q, kind=kind, region=region, village=village,
                                    page=page, size=size)
    return _page(service.org_dicts(session, rows), total, page, size)


@router.post("/orgs", status_code=201, summary="新建组织 Create an organization")
def create_org(session: DbSession, actor: ApiActor, body: OrgCreate) -> dict[str, Any]:
    fields = body.model_dump(exclude={"contacts"})
    org = service.create_org(session, actor=actor, **fields,
                             contacts=[service.ContactIn(**c.model_dump()) for c in body.contacts])
    return service.org_dicts(session, [service.find(session, org.code)], detail=True)[0]


@router.get("/orgs/{code}", summary="组织详情（电话已脱敏）One organization, phones masked")
def get_org(session: DbSession, actor: ApiActor, code: str) -> dict[str, Any]:
    row = service.get_org(session, actor=actor, code=code)
    org = service.org_dicts(session, [row], detail=True)[0]
    mine, _ = alliances.list_alliances(session, actor=actor, org=code, size=500)
    return org | {"alliances": alliances.alliance_dicts(session, mine)}


@router.patch("/orgs/{code}", summary="修改组织 Change an organization")
def update_org(session: DbSession, actor: ApiActor, code: str, body: OrgUpdate) -> dict[str, Any]:
    service.update_org(session, actor=actor, code=code, **given(body))
    return service.org_dicts(session, [service.find(session, code)], detail=True)[0]


@router.post("/orgs/{code}/contacts", status_code=201, summary="添加联系人 Add a contact")
def add_contact(session: DbSession, actor: ApiActor, code: str, body: ContactBody) -> dict[str, Any]:
    service.add_contact(session, actor=actor, code=code, contact=service.ContactIn(**body.model_dump()))
    return service.org_dicts(session, [service.find(session, code)], detail=True)[0]


@router.delete("/orgs/{code}/contacts/{contact_id}", status_code=204, summary="删除联系人 Remove a contact")
def remove_contact(session: DbSession, actor: ApiActor, code: str, contact_id: int) -> None:
    service.remove_contact(session, actor=actor, code=code, contact_id=contact_id)


@router.post("/orgs/{code}/contacts/{contact_id}/reveal", summary="查看完整电话（须填事由，留痕）Reveal a phone")
def reveal_phone(session: DbSession, actor: ApiActor, code: str, contact_id: int, body: RevealBody) -> dict[str, Any]:
    return {"phone": service.reveal_contact_phone(session, actor=actor, code=code, contact_id=contact_id,
                                                  reason=body.reason)}


# -- alliances --------------------------------------------------------------------------------


@router.get("/alliances", summary="联建与结对（按范围）Alliances and pairings in my scope")
def list_alliances(
    session: DbSession, actor: ApiActor, kind: Text = None, status: Text = None, region: Text = None,
    village: Text = None, org: Text = None, q: Text = None, page: Page = 1, size: Size = 50,
) -> dict[str, Any]:
    rows, total = alliances.list_alliances(session, actor=actor, kind=kind, status=status, region=region,
                                           village=village, org=org, q=q, page=page, size=size)
    return _page(alliances.alliance_dicts(session, rows), total, page, size)


@router.get("/alliances/coverage", summary="各村联建覆盖 Which alliances cover each village")
def coverage(session: DbSession, actor: ApiActor, region: Text = None) -> dict[str, Any]:
    return {"villages": alliances.alliance_coverage(session, actor=actor, region=region)}


@router.post("/alliances", status_code=201, summary="新建联建或结对 Create an alliance or a pairing")
def create_alliance(session: DbSession, actor: ApiActor, body: AllianceCreate) -> dict[str, Any]:
    fields = body.model_dump(exclude={"members"})
    row = alliances.create_alliance(session, actor=actor, **fields,
                                    members=[alliances.MemberIn(**m.model_dump()) for m in body.members])
    return alliances.alliance_dicts(session, [row], detail=True)[0]


@router.get("/alliances/{code}", summary="联建详情（成员与历史）One alliance with members and history")
def get_alliance(session: DbSession, actor: ApiActor, code: str) -> dict[str, Any]:
    return alliances.alliance_dicts(session, [alliances.get_alliance(session, actor=actor, code=code)], detail=True)[0]


@router.patch("/alliances/{code}", summary="修改联建 Change an alliance")
def update_alliance(session: DbSession, actor: ApiActor, code: str, body: AllianceUpdate) -> dict[str, Any]:
    changes = given(body)
    version = changes.pop("version", None)
    row = alliances.update_alliance(session, actor=actor, code=code, expected_version=version, **changes)
    return alliances.alliance_dicts(session, [row], detail=True)[0]


@router.post("/alliances/{code}/members", status_code=201, summary="成员加入 A member joins")
def add_member(session: DbSession, actor: ApiActor, code: str, body: MemberBody) -> dict[str, Any]:
    alliances.add_member(session, actor=actor, code=code, member=alliances.MemberIn(**body.model_dump()))
    return alliances.alliance_dicts(session, [alliances.get_alliance(session, actor=actor, code=code)], detail=True)[0]


@router.post("/alliances/{code}/members/{org}/leave", summary="成员退出（保留历史）A member leaves")
def remove_member(session: DbSession, actor: ApiActor, code: str, org: str,
                  body: LeaveBody | None = None) -> dict[str, Any]:
    alliances.remove_member(session, actor=actor, code=code, org=org, left_on=body.left_on if body else None)
    return alliances.alliance_dicts(session, [alliances.get_alliance(session, actor=actor, code=code)], detail=True)[0]


# -- numbers ----------------------------------------------------------------------------------


@router.get("/alliance-numbers", summary="联建数据（任一区域）Numbers for a region")
def get_numbers(session: DbSession, actor: ApiActor,
                region: Annotated[str | None, Query(max_length=18)] = None) -> dict[str, Any]:
    return numbers.numbers(session, actor=actor, region=region)


@router.get("/village-summary/{code}", summary="村(社区)联建概况 A village's alliances, pairings, needs, projects")
def village_summary(session: DbSession, actor: ApiActor, code: str) -> dict[str, Any]:
    return numbers.village_summary(session, actor=actor, village=code)


router.include_router(lists_router)
