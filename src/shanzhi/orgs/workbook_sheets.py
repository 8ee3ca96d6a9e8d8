"""The workbook's sheets and columns, and reading one cell: shared by the template, the export
and the import so the three cannot drift apart.

Headers are Chinese (a trailing * marks a required column); the English key is accepted too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from openpyxl.utils import get_column_letter

from shanzhi.orgs.policy import orgs_policy

TEXT, INT, FLOAT, DATE, CODES, WORD = "text", "int", "float", "date", "codes", "word"


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    kind: str = TEXT
    required: bool = False
    help: str = ""
    words: str | None = None  # for WORD: the policy table whose keys (or labels) are allowed
    limit: int = 200

    @property
    def title(self) -> str:
        return self.header + ("*" if self.required else "")


@dataclass(frozen=True)
class Sheet:
    key: str
    name: str
    columns: tuple[Column, ...]
    importable: bool = True
    help: str = ""

    def column(self, key: str) -> Column:
        return next(c for c in self.columns if c.key == key)


SHEETS: tuple[Sheet, ...] = (
    Sheet("organizations", "组织", (
        Column("code", "组织编码", required=True, help="唯一编码（至多 32 位）；已存在则更新", limit=32),
        Column("name", "名称", required=True, limit=120),
        Column("kind", "类型", WORD, required=True, words="kinds", help="见“可选值”，填编码或中文名"),
        Column("level", "层级", WORD, words="levels",
               help="党组织必填：district 区 / town 镇(街道) / village 村(社区)"),
        Column("region", "区域编码", help="所在区域；与经纬度至少填一项", limit=18),
        Column("lon", "经度", FLOAT, help="WGS84"),
        Column("lat", "纬度", FLOAT, help="WGS84"),
        Column("address", "地址", limit=200),
        Column("villages", "服务村社", CODES, help="村(社区)编码，多个用顿号、逗号或空格分隔"),
        Column("contact_name", "联系人", limit=64),
        Column("contact_title", "联系人职务", limit=64),
        Column("contact_phone", "联系电话", limit=20,
               help="手机 11 位或区号-座机；导出时已脱敏（含 *），原样导回不改号码"),
        Column("description", "简介", limit=2000),
    ), help="组织：党组织、机关、事业单位、企业、社会组织、政协委员、新乡贤及各处置单位"),
    Sheet("alliances", "联建", (
        Column("code", "联建编码", required=True, help="唯一编码；已存在则更新", limit=40),
        Column("kind", "类型", WORD, required=True, words="arrangements",
               help="alliance 党建联建（1+X）/ pairing 结对"),
        Column("name", "名称", required=True, limit=120),
        Column("lead", "牵头组织编码", help="党建联建必填：镇(街道)或村(社区)党组织", limit=40),
        Column("region", "区域编码", help="不填则取牵头组织所在区域（结对取所结对的村）", limit=18),
        Column("villages", "覆盖村社", CODES, help="村(社区)编码，多个用顿号、逗号或空格分隔"),
        Column("started_on", "成立日期", DATE, help="如 2024-03-01"),
        Column("ended_on", "结束日期", DATE),
        Column("status", "状态", WORD, words="alliance_statuses", help="默认 active 运行中"),
        Column("charter", "章程", limit=10_000),
    ), help="1+X 党建联建与结对，一种机制"),
    Sheet("members", "成员", (
        Column("alliance", "联建编码", required=True, limit=40),
        Column("org", "组织编码", required=True, limit=40),
        Column("joined_on", "加入日期", DATE, required=True),
        Column("left_on", "退出日期", DATE, help="已退出的填写；同一单位再次加入另起一行"),
        Column("role", "共建内容", limit=64),
    ), help="成员单位加入、退出的每一段记录（历史保留）"),
    Sheet("resources", "资源", (
        Column("code", "资源编号", help="留空为新增；填已有编号（如 ZY000012）则更新", limit=20),
        Column("org", "组织编码", required=True, limit=40),
        Column("kind", "类型", WORD, required=True, words="resource_kinds"),
        Column("title", "名称", required=True, limit=120),
        Column("capacity", "容量", INT, required=True, help="可提供的总量（整数）"),
        Column("unit", "计量单位", help="默认 人次", limit=16),
        Column("available_from", "起始日期", DATE),
        Column("available_until", "截止日期", DATE),
        Column("region", "区域编码", help="不填则取组织所在区域", limit=18),
        Column("status", "状态", WORD, words="resource_statuses", help="默认 open 可对接"),
        Column("description", "说明", limit=2000),
    ), help="资源清单：单位可提供的服务、岗位、资金、物资等"),
    Sheet("needs", "需求", (
        Column("code", "需求编号", help="留空为新增；填已有编号（如 XQ000034）则更新", limit=20),
        Column("kind", "类型", WORD, required=True, words="resource_kinds"),
        Column("title", "名称", required=True, limit=120),
        Column("requester", "需求主体", WORD, words="requesters", help="village 村(社区) / grid 网格 / group 居民群体"),
        Column("group_name", "群体名称", limit=64),
        Column("region", "区域编码", required=True, help="村(社区)、网格或微网格编码", limit=18),
        Column("quantity", "数量", INT),
        Column("urgency", "紧急程度", WORD, words="urgencies", help="默认 normal 一般"),
        Column("description", "描述", limit=2000),
        Column("status", "状态", WORD, words="need_statuses", help="仅导出；导入时忽略"),
        Column("raised_at", "提出日期", DATE, help="仅导出；导入时忽略"),
    ), help="需求清单：村(社区)、网格或居民群体提出"),
    Sheet("projects", "项目", (
        Column("code", "项目编号"), Column("need", "需求编号"), Column("title", "名称"),
        Column("owner", "牵头单位编码"), Column("owner_name", "负责人"), Column("status", "状态"),
        Column("resources", "对接资源"), Column("started_on", "开始日期", DATE), Column("due_on", "计划完成", DATE),
        Column("finished", "结束日期", DATE), Column("beneficiaries", "受益人数", INT), Column("rating", "评价", INT),
        Column("outcome", "成效"),
    ), importable=False, help="项目清单（仅导出：项目由协调人确认对接后生成）"),
)
BY_KEY = {s.key: s for s in SHEETS}
BY_NAME = {s.name: s for s in SHEETS} | {s.key: s for s in SHEETS}
LEVEL_WORDS = {"district": "区", "town": "镇(街道)", "village": "村(社区)"}


def words(table: str) -> dict[str, str]:
    """A column's allowed values: key → label."""
    policy = orgs_policy()
    if table == "kinds":
        return {k: v.label for k, v in policy.kinds().items()}
    if table == "arrangements":
        return {k: v.label for k, v in policy.arrangements.items()}
    if table == "levels":
        return LEVEL_WORDS
    return getattr(policy, table)


def letter(index: int) -> str:
    return get_column_letter(index + 1)


class CellError(ValueError):
    """A cell that cannot be read; the message is Chinese, for the row's report."""


_SPLIT = re.compile(r"[\s,，、;；]+")


def read_cell(column: Column, value: Any) -> Any:
    """The cell as the service wants it (None when empty), or CellError."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if column.required:
            raise CellError("必填")
        return None
    if column.kind == INT:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            value = int(value.strip())
        if isinstance(value, bool) or not isinstance(value, int):
            raise CellError(f"应为整数，而不是“{value}”")
        return value
    if column.kind == FLOAT:
        try:
            return float(value)
        except (TypeError, ValueError):
            raise CellError(f"应为数字，而不是“{value}”") from None
    if column.kind == DATE:
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        try:
            return datetime.strptime(str(value).strip().replace("/", "-").replace(".", "-"), "%Y-%m-%d").date()
        except ValueError:
            raise CellError(f"应为日期（如 2024-03-01），而不是“{value}”") from None
    text = _text(value)
    if column.kind == CODES:
        return [c for c in _SPLIT.split(text) if c]
    if column.kind == WORD:
        table = words(column.words or "")
        by_label = {label: key for key, label in table.items()}
        if text in table:
            return text
        if text in by_label:
            return by_label[text]
        raise CellError(f"“{text}”不是可选值（{'、'.join(f'{k} {v}' for k, v in list(table.items())[:12])}…）")
    if len(text) > column.limit:
        raise CellError(f"过长（最多 {column.limit} 字）")
    return text


def _text(value: Any) -> str:
    # Codes typed into Excel come back as numbers: 330203105201 → "330203105201".
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()
