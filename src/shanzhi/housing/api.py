"""Housing registry endpoints: buildings and units, residents and registrations, inspections,
reports, import and export. Thin: parse, call one service function, shape the answer."""

from __future__ import annotations

import io
import math
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Response, UploadFile

from shanzhi.accounts.deps import ApiActor
from shanzhi.errors import InvalidInput, PayloadTooLarge
from shanzhi.events import photos
from shanzhi.events.service import event_dict
from shanzhi.housing import (
    export,
    households,
    importer,
    inspections,
    people,
    registrations,
    reports,
    service,
    views,
)
from shanzhi.housing.dates import today_local
from shanzhi.housing.policy import checklist, housing_policy
from shanzhi.housing.schemas import (
    BuildingIn,
    BuildingPatch,
    EndIn,
    EscalateIn,
    HouseholdIn,
    InspectionIn,
    LeaveIn,
    MemberIn,
    PersonPatch,
    RegistrationIn,
    RenewIn,
    RevealIn,
    UnitIn,
    UnitPatch,
)
from shanzhi.http import DbSession

router = APIRouter(prefix="/api/v1/housing", tags=["housing"])
Page = Annotated[int, Query(ge=1)]
Size = Annotated[int, Query(ge=1, le=500)]
MAX_IMPORT_BYTES = 20 * 1024 * 1024
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def parse_bbox(text: str) -> tuple[float, float, float, float]:
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) == 4 and all(math.isfinite(v) for v in values) and values[0] < values[2] and values[1] < values[3]:
        return values[0], values[1], values[2], values[3]
    raise InvalidInput("bbox must be min_lon,min_lat,max_lon,max_lat (WGS84)",
                       "bbox 应为“最小经度,最小纬度,最大经度,最大纬度”（WGS84）", code="invalid_bbox")


# -- buildings and units -----------------------------------------------------------------------


@router.get("/buildings", summary="查找房屋（地图范围或地址）Find buildings by map box or address")
def find_buildings(
    session: DbSession, actor: ApiActor,
    bbox: Annotated[str | None, Query(max_length=200, description="min_lon,min_lat,max_lon,max_lat")] = None,
    q: Annotated[str | None, Query(max_length=100, description="地址关键词或房屋编号")] = None,
    region: Annotated[str | None, Query(max_length=18)] = None,
    use: Annotated[str | None, Query(max_length=16)] = None,
    page: Page = 1, size: Size = 50,
) -> dict[str, Any]:
    rows, total = service.find_buildings(session, actor=actor, bbox=parse_bbox(bbox) if bbox else None, q=q,
                                         region=region, use=use, page=page, size=size)
    return {"items": service.building_summaries(session, rows), "total": total, "page": page, "size": size}


@router.post("/buildings", status_code=201, summary="登记房屋（可含房间）Register a building")
def create_building(session: DbSession, actor: ApiActor, body: BuildingIn) -> dict[str, Any]:
    building = service.create_building(session, actor=actor, data=body.to_input(),
                                       units=[u.to_input() for u in body.units])
    return service.building_detail(session, actor=actor, building_id=building.id)


@router.get("/buildings/{building_id}", summary="房屋详情：房间、在住人员（脱敏）、问题 Building detail")
def building_detail(session: DbSession, actor: ApiActor, building_id: int) -> dict[str, Any]:
    return service.building_detail(session, actor=actor, building_id=building_id)


@router.patch("/buildings/{building_id}", summary="修改房屋 Change a building")
def update_building(session: DbSession, actor: ApiActor, building_id: int, body: BuildingPatch) -> dict[str, Any]:
    service.update_building(session, actor=actor, building_id=building_id, expected_version=body.version,
                            lon=body.lon, lat=body.lat, crs=body.crs,
                            owner=body.owner.to_input() if body.owner else None,
                            manager=body.manager.to_input() if body.manager else None, **body.changes())
    return service.building_detail(session, actor=actor, building_id=building_id)


@router.get("/buildings/{building_id}/history", summary="变更记录 Who changed what, when")
def building_history(session: DbSession, actor: ApiActor, building_id: int) -> dict[str, Any]:
    items = service.history(session, actor=actor, building_id=building_id)
    return {"items": items, "total": len(items), "page": 1, "size": len(items)}


@router.post("/buildings/{building_id}/units", status_code=201, summary="新增房间 Add a unit")
def add_unit(session: DbSession, actor: ApiActor, building_id: int, body: UnitIn) -> dict[str, Any]:
    return views.unit_dict(service.add_unit(session, actor=actor, building_id=building_id, data=body.to_input()))


@router.patch("/units/{unit_id}", summary="修改房间（出租状态等）Change a unit")
def update_unit(session: DbSession, actor: ApiActor, unit_id: int, body: UnitPatch) -> dict[str, Any]:
    unit = service.update_unit(session, actor=actor, unit_id=unit_id, expected_version=body.version,
                               landlord=body.landlord.to_input() if body.landlord else None, **body.changes())
    return views.unit_dict(unit)


# -- residents and registrations ---------------------------------------------------------------


@router.post("/registrations", status_code=201, summary="居住登记（租客入住）Register a resident in a unit")
def register(session: DbSession, actor: ApiActor, body: RegistrationIn) -> dict[str, Any]:
    reg = registrations.register(session, actor=actor, unit_id=body.unit_id, person=body.person.to_input(),
                                 start_date=body.start_date, end_date=body.end_date, purpose=body.purpose)
    return registrations.as_dicts(session, [reg])[0]


@router.get("/registrations", summary="居住登记列表（可筛逾期）Registrations in my reach")
def list_registrations(
    session: DbSession, actor: ApiActor,
    region: Annotated[str | None, Query(max_length=18)] = None,
    status: Annotated[str | None, Query(max_length=10)] = None,
    overdue: bool = False, page: Page = 1, size: Size = 50,
) -> dict[str, Any]:
    rows, total = registrations.list_registrations(session, actor=actor, region=region, status=status,
                                                   overdue=overdue, page=page, size=size)
    return {"items": registrations.as_dicts(session, rows), "total": total, "page": page, "size": size}


@router.post("/registrations/{registration_id}/end", summary="注销登记（搬离）End a registration")
def end_registration(session: DbSession, actor: ApiActor, registration_id: int, body: EndIn) -> dict[str, Any]:
    reg = registrations.end_registration(session, actor=actor, registration_id=registration_id, reason=body.reason,
                                         ended_on=body.ended_on, expected_version=body.version)
    return registrations.as_dicts(session, [reg])[0]


@router.post("/registrations/{registration_id}/renew", status_code=201, summary="续期 Renew a registration")
def renew_registration(session: DbSession, actor: ApiActor, registration_id: int, body: RenewIn) -> dict[str, Any]:
    reg = registrations.renew_registration(session, actor=actor, registration_id=registration_id,
                                           end_date=body.end_date, expected_version=body.version)
    return registrations.as_dicts(session, [reg])[0]


@router.get("/people", summary="按证件、手机号或姓名查找人员（脱敏）Find people")
def search_people(
    session: DbSession, actor: ApiActor,
    id_number: Annotated[str | None, Query(max_length=24)] = None,
    id_type: Annotated[str | None, Query(max_length=24, description="证件类型 (housing.toml id_types)")] = None,
    phone: Annotated[str | None, Query(max_length=24)] = None,
    name: Annotated[str | None, Query(max_length=64)] = None,
) -> dict[str, Any]:
    rows = people.search(session, actor=actor, id_number=id_number, phone=phone, name=name, id_type=id_type)
    return {"items": [views.person_dict(p) for p in rows], "total": len(rows), "page": 1, "size": len(rows)}


@router.get("/people/{person_id}", summary="人员与居住登记（脱敏）A person and their registrations")
def person_detail(session: DbSession, actor: ApiActor, person_id: int) -> dict[str, Any]:
    return registrations.person_detail(session, actor=actor, person_id=person_id)


@router.patch("/people/{person_id}", summary="修改人员信息 Change a person's details")
def update_person(session: DbSession, actor: ApiActor, person_id: int, body: PersonPatch) -> dict[str, Any]:
    person = people.update_person(session, actor=actor, person_id=person_id, phone=body.phone, name=body.name,
                                  registered_address=body.registered_address, expected_version=body.version)
    return views.person_dict(person)


@router.post("/people/{person_id}/reveal", summary="查看完整证件号码/手机号（须说明原因，留痕）Reveal, audited")
def reveal(session: DbSession, actor: ApiActor, person_id: int, body: RevealIn) -> dict[str, Any]:
    return people.reveal(session, actor=actor, person_id=person_id, fields=list(body.fields), reason=body.reason)


@router.post("/households", status_code=201, summary="建户（指定户主）Create a household")
def create_household(session: DbSession, actor: ApiActor, body: HouseholdIn) -> dict[str, Any]:
    household = households.create_household(session, actor=actor, kind=body.kind, head_person_id=body.head_person_id,
                                            unit_id=body.unit_id)
    return households.household_detail(session, actor=actor, household_id=household.id)


@router.post("/households/{household_id}/members", summary="添加户成员 Add a member")
def add_member(session: DbSession, actor: ApiActor, household_id: int, body: MemberIn) -> dict[str, Any]:
    households.add_member(session, actor=actor, household_id=household_id, person_id=body.person_id,
                          relation=body.relation)
    return households.household_detail(session, actor=actor, household_id=household_id)


@router.post("/households/{household_id}/members/{person_id}/leave", summary="移出户成员（留痕）A member leaves")
def remove_member(session: DbSession, actor: ApiActor, household_id: int, person_id: int,
                  body: LeaveIn) -> dict[str, Any]:
    households.remove_member(session, actor=actor, household_id=household_id, person_id=person_id,
                             reason=body.reason)
    return households.household_detail(session, actor=actor, household_id=household_id)


@router.get("/households/{household_id}", summary="户及成员（脱敏）A household and its members")
def household_detail(session: DbSession, actor: ApiActor, household_id: int) -> dict[str, Any]:
    return households.household_detail(session, actor=actor, household_id=household_id)


# -- inspections -------------------------------------------------------------------------------


@router.get("/checklist", summary="出租房屋安全检查项 The inspection checklist")
def get_checklist(actor: ApiActor) -> dict[str, Any]:
    policy = checklist()
    return {"version": policy.version, "occupancy": policy.occupancy.model_dump(),
            "items": [i.model_dump() for i in policy.items], "words": housing_policy().model_dump(
                include={"uses", "constructions", "unit_kinds", "rental_statuses", "manager_duties", "purposes"})}


@router.post("/inspections", status_code=201, summary="记录检查（含复查）Record an inspection")
def record_inspection(session: DbSession, actor: ApiActor, body: InspectionIn) -> dict[str, Any]:
    inspection, _, _ = inspections.record_inspection(
        session, actor=actor, building_id=body.building_id, unit_id=body.unit_id, answers=body.answer_inputs(),
        occupants=body.occupants, notes=body.notes, reinspection_of=body.reinspection_of, deadline=body.deadline)
    return inspections.inspection_detail(session, actor=actor, inspection_id=inspection.id)


@router.get("/inspections/{inspection_id}", summary="检查记录 An inspection with findings and photos")
def inspection_detail(session: DbSession, actor: ApiActor, inspection_id: int) -> dict[str, Any]:
    return inspections.inspection_detail(session, actor=actor, inspection_id=inspection_id)


@router.post("/inspections/{inspection_id}/photos", status_code=201, summary="上传检查照片 Attach a photo")
async def upload_photo(session: DbSession, actor: ApiActor, inspection_id: int, file: UploadFile,
                       item: Annotated[str | None, Form(max_length=32)] = None) -> dict[str, Any]:
    data = await file.read(photos.MAX_BYTES + 1)
    photo = inspections.add_photo(session, actor=actor, inspection_id=inspection_id, data=data, item=item)
    return {"id": photo.id, "item": photo.item, "width": photo.width, "height": photo.height,
            "url": f"/api/v1/housing/inspections/{inspection_id}/photos/{photo.id}"}


@router.get("/inspections/{inspection_id}/photos/{photo_id}", summary="检查照片 A photo")
def photo(session: DbSession, actor: ApiActor, inspection_id: int, photo_id: int, thumb: bool = False) -> Response:
    found = inspections.get_photo(session, actor=actor, inspection_id=inspection_id, photo_id=photo_id)
    return Response(found.thumbnail if thumb else found.content, media_type=found.mime,
                    headers={"Cache-Control": "private, max-age=86400"})


@router.post("/findings/{finding_id}/event", status_code=201, summary="未整改问题转为事件 Finding → event")
def escalate(session: DbSession, actor: ApiActor, finding_id: int, body: EscalateIn | None = None) -> dict[str, Any]:
    event = inspections.escalate_finding(session, actor=actor, finding_id=finding_id,
                                         text=body.text if body else None)
    return event_dict(event)


# -- reports, density, import and export -------------------------------------------------------


@router.get("/report", summary="区域房屋与流动人口统计 Figures per region")
def region_report(session: DbSession, actor: ApiActor,
                  region: Annotated[str, Query(max_length=18)]) -> dict[str, Any]:
    return reports.region_report(session, actor=actor, region=region)


@router.get("/density", summary="在住人员密度点（热力图）Residents per building for a heat layer")
def density(session: DbSession, actor: ApiActor, bbox: Annotated[str, Query(max_length=200)],
            cell: Annotated[float | None, Query(gt=0, le=1, description="网格边长（度），省略则按楼栋")] = None,
            ) -> dict[str, Any]:
    points = reports.density_points(session, actor=actor, bbox=parse_bbox(bbox), cell_deg=cell)
    return {"points": points, "total": len(points)}


@router.post("/import", summary="XLSX 导入房屋（房屋表）与人员（人员表），整体校验 Import a workbook")
async def import_workbook(session: DbSession, actor: ApiActor, file: UploadFile) -> dict[str, Any]:
    data = await file.read(MAX_IMPORT_BYTES + 1)
    if len(data) > MAX_IMPORT_BYTES:
        raise PayloadTooLarge("The workbook may be at most 20 MB", "文件不能超过 20 MB")
    result = importer.import_workbook(session, actor=actor, data=data)
    return {"buildings": result.buildings, "units": result.units, "registrations": result.registrations,
            "skipped": result.skipped}


@router.post("/export", summary="导出 XLSX（默认脱敏；完整信息须查看权限与原因）Export a region")
def export_workbook(session: DbSession, actor: ApiActor, region: Annotated[str, Form(max_length=18)],
                    reveal: Annotated[bool, Form()] = False,
                    reason: Annotated[str | None, Form(max_length=200)] = None) -> Response:
    out = io.BytesIO()
    export.write_xlsx(session, out, actor=actor, region=region, reveal=reveal, reason=reason)
    name = f"housing-{region}-{today_local().isoformat()}.xlsx"
    return Response(out.getvalue(), media_type=XLSX, headers={"Content-Disposition": f'attachment; filename="{name}"'})
