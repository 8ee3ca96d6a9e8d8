"""XLSX: the template, a district's filled-in file imported and exported back unchanged, and a
file with bad rows rejected whole, each problem named by sheet, row and column."""

from __future__ import annotations

import io

from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from orgs_world import TOWN1, V1, V2, make_org
from shanzhi.orgs.alliance_models import Alliance, AllianceMember
from shanzhi.orgs.list_models import Need, Resource
from shanzhi.orgs.models import Organization, OrgContact
from shanzhi.orgs.workbook_sheets import BY_KEY

XLSX = {"Content-Type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}

FILLED = {
    "组织": [
        ["DW-T1", "中共第1镇委员会", "党组织", "town", TOWN1, None, None, None, None, None, None, None, None],
        ["DW-V1", "中共1村委员会", "party_org", "village", V1, None, None, None, None, "陈书记", "书记", "13905741234",
         None],
        ["QY-1", "甬新电器有限公司", "民营企业", None, V1, 121.32, 29.81, "1村工业区 8 号", f"{V1}、{V2}", "周经理", "经理",
         "13812345678", "家电制造"],
        ["ZX-1", "政协委员·陈海", "cppcc_member", None, "330203", None, None, None, None, None, None, None, None],
    ],
    "联建": [
        ["LJ-A", "alliance", "第1镇党建联建", "DW-T1", None, f"{V1}、{V2}", "2024-01-01", None, "active", "共建共治共享"],
        ["JD-A", "结对", "陈海委员结对2村", None, None, V2, "2024-03-01", None, None, None],
    ],
    "成员": [
        ["LJ-A", "QY-1", "2024-01-01", "2024-06-30", "就业岗位"],
        ["LJ-A", "QY-1", "2025-01-01", None, "就业岗位"],
        ["JD-A", "ZX-1", "2024-03-01", None, None],
    ],
    "资源": [
        [None, "QY-1", "employment", "装配工岗位", 20, "个", "2024-01-01", "2099-12-31", None, None, "包吃住"],
    ],
    "需求": [
        [None, "就业岗位", "返乡青年就业", "group", "返乡青年", V1, 6, "high", "6 名返乡青年求职", None, None],
    ],
}


def workbook(sheets: dict[str, list[list]], *, drop: tuple[str, ...] = ()) -> bytes:
    wb = Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        sheet = next(s for s in BY_KEY.values() if s.name == name)
        ws = wb.create_sheet(name)
        ws.append([c.title for c in sheet.columns if c.key not in drop])
        for row in rows:
            ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def rows_of(data: bytes, name: str) -> list[list]:
    """The sheet's rows, each as wide as the header (read-only mode drops trailing empty cells)."""
    ws = load_workbook(io.BytesIO(data), read_only=True)[name]
    rows = [list(r) for r in ws.iter_rows(values_only=True)]
    return [r + [None] * (len(rows[0]) - len(r)) for r in rows]


def counts(session) -> tuple[int, ...]:
    return tuple(session.scalar(select(func.count()).select_from(m)) for m in
                 (Organization, OrgContact, Alliance, AllianceMember, Resource, Need))


def test_the_template_has_every_importable_sheet_with_its_headers_and_the_allowed_values(client, world):
    r = client.get("/api/v1/orgs-workbook/template", headers=world.headers["cadre"])
    assert r.status_code == 200 and r.headers["content-type"].startswith(XLSX["Content-Type"])
    wb = load_workbook(io.BytesIO(r.content), read_only=True)
    assert wb.sheetnames == ["组织", "联建", "成员", "资源", "需求", "说明", "可选值"]
    assert rows_of(r.content, "成员") == [["联建编码*", "组织编码*", "加入日期*", "退出日期", "共建内容"]]
    values = rows_of(r.content, "可选值")
    assert ["组织·类型", "cppcc_member", "政协委员"] in values and ["组织·类型", "new_local_elite", "新乡贤"] in values


def test_a_filled_in_workbook_imports_and_exports_back_the_same_rows(client, world):
    before = counts(world.session)
    r = client.post("/api/v1/orgs-workbook", content=workbook(FILLED), headers={**world.headers["admin"], **XLSX})
    assert r.status_code == 200, r.text
    assert r.json()["created"] == {"organizations": 4, "alliances": 2, "members": 3, "resources": 1, "needs": 1}
    assert counts(world.session) == tuple(b + n for b, n in zip(before, (4, 2, 2, 3, 1, 1)))
    history = world.session.scalars(select(AllianceMember.left_on).order_by(AllianceMember.joined_on)).all()
    assert [str(d) if d else None for d in history] == ["2024-06-30", None, None]

    exported = client.get("/api/v1/orgs-workbook", params={"region": TOWN1}, headers=world.headers["admin"])
    assert exported.status_code == 200
    data = exported.content
    orgs = {r[0]: r for r in rows_of(data, "组织")[1:]}
    assert orgs["QY-1"] == ["QY-1", "甬新电器有限公司", "private_enterprise", None, V1, 121.32, 29.81, "1村工业区 8 号",
                            f"{V1}、{V2}", "周经理", "经理", "138****5678", "家电制造"]
    assert rows_of(data, "联建")[1:] == [
        ["JD-A", "pairing", "陈海委员结对2村", None, V2, V2, "2024-03-01", None, "active", None],
        ["LJ-A", "alliance", "第1镇党建联建", "DW-T1", TOWN1, f"{V1}、{V2}", "2024-01-01", None, "active", "共建共治共享"]]
    assert rows_of(data, "成员")[1:] == FILLED["成员"][2:] + FILLED["成员"][:2]
    resource = rows_of(data, "资源")[1]
    assert resource[1:] == ["QY-1", "employment", "装配工岗位", 20, "个", "2024-01-01", "2099-12-31", V1, "open", "包吃住"]
    need = rows_of(data, "需求")[1]
    assert need[1:9] == ["employment", "返乡青年就业", "group", "返乡青年", V1, 6, "high", "6 名返乡青年求职"]

    # The export imports back unchanged: masked phones keep the stored numbers, nothing doubles.
    again = client.post("/api/v1/orgs-workbook", content=data, headers={**world.headers["admin"], **XLSX})
    assert again.status_code == 200, again.text
    assert again.json()["created"] == {} and again.json()["updated"] == {}
    assert counts(world.session) == tuple(b + n for b, n in zip(before, (4, 2, 2, 3, 1, 1)))
    reveal = world.session.scalar(select(OrgContact).where(OrgContact.name == "周经理"))
    from shanzhi.accounts.crypto import decrypt_text

    assert decrypt_text(reveal.phone_encrypted) == "13812345678"


def test_a_file_with_bad_rows_is_rejected_whole_and_each_problem_names_its_row_and_column(client, world):
    make_org(world.session, "QY-OLD", region=V1)
    before = counts(world.session)
    bad = {
        "组织": [
            FILLED["组织"][2],  # a good row: must not be written either
            ["QY-2", "某公司", "外星企业", None, V1] + [None] * 8,                    # row 3, C: unknown kind
            ["DW-X", "中共某委员会", "party_org", None, V1] + [None] * 8,             # row 4, D: party org without level
            ["QY-3", "某公司", "private_enterprise", None, "330203999"] + [None] * 8,  # row 5, E: no such region
            ["QY-4", "某公司", "private_enterprise", None, V1] + [None] * 4 + ["王五", None, "12345", None],  # 6, L
            ["QY-5", "某公司", "private_enterprise", None, V1] + [None] * 6 + ["13812345678", None],  # 7, J: whose phone?
        ],
        "成员": [["LJ-NONE", "QY-OLD", "2024-01-01", None, None],  # row 2, A: no such alliance
                 ["LJ-NONE", "QY-OLD", "去年", None, None]],       # row 3, C: not a date
        "资源": [[None, "QY-OLD", "employment", "岗位", "很多", None, None, None, None, None, None]],  # row 2, E
    }
    r = client.post("/api/v1/orgs-workbook", content=workbook(bad), headers={**world.headers["admin"], **XLSX})
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "invalid_rows" and "未写入任何数据" in error["message_zh"]
    found = {(d["sheet"], d["row"], d["column"]) for d in error["details"]}
    assert found == {("组织", 3, "C"), ("组织", 4, "D"), ("组织", 5, "E"), ("组织", 6, "L"), ("组织", 7, "J"),
                     ("成员", 2, "A"), ("成员", 3, "C"), ("资源", 2, "E")}
    first = next(d for d in error["details"] if d["row"] == 3 and d["sheet"] == "组织")
    assert first["reason_zh"].startswith("“组织”第 3 行，C 列“类型”：") and first["header"] == "类型"
    assert counts(world.session) == before  # nothing half-imported


def test_a_sheet_without_a_required_column_is_reported_at_its_header(client, world):
    data = workbook({"需求": [[None, "employment", "岗位", None, None, 6]]}, drop=("region",))
    r = client.post("/api/v1/orgs-workbook", content=data, headers={**world.headers["admin"], **XLSX})
    assert r.status_code == 422
    assert [(d["sheet"], d["row"], d["header"]) for d in r.json()["error"]["details"]] == [("需求", 1, "区域编码")]
    assert client.post("/api/v1/orgs-workbook", content=b"not a workbook",
                       headers={**world.headers["admin"], **XLSX}).json()["error"]["code"] == "invalid_file"


def test_rows_outside_the_importers_scope_are_refused_like_any_other_change(client, world):
    data = workbook({"组织": [["QY-9", "外镇企业", "private_enterprise", None, "330203102"] + [None] * 8]})
    r = client.post("/api/v1/orgs-workbook", content=data, headers={**world.headers["dispatcher"], **XLSX})
    assert r.status_code == 422
    assert [(d["row"], d["column"]) for d in r.json()["error"]["details"]] == [(2, None)]
    assert "不在您的管辖范围内" in r.json()["error"]["details"][0]["reason_zh"]
