"""Tests for the event catalog: the shipped policy data and the loader that validates it."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from shanzhi.config import get_settings
from shanzhi.errors import InvalidInput
from shanzhi.events.catalog import TIME_UNITS, Catalog, catalog

MAJORS = {
    "01": "市容环卫", "02": "街面秩序", "03": "城乡建设", "04": "公共设施", "05": "生态环境",
    "06": "安全生产与消防", "07": "矛盾纠纷", "08": "社会治安", "09": "人口与房屋",
    "10": "民生服务", "11": "农业农村", "12": "市场监管", "13": "应急管理",
}

CATEGORIES = {
    "0101": "暴露垃圾/垃圾堆放", "0102": "垃圾分类不规范", "0103": "小广告乱贴乱画",
    "0104": "道路积水/路面不洁", "0105": "乱堆物料/违规晾晒",
    "0201": "占道经营/流动摊贩", "0202": "车辆乱停放", "0203": "店外经营",
    "0301": "违章搭建", "0302": "施工扰民/工地管理", "0303": "房屋安全隐患", "0304": "道路破损",
    "0305": "井盖缺失/破损",
    "0401": "路灯损坏", "0402": "供水漏水/停水", "0403": "排水管道堵塞", "0404": "公共设施损坏",
    "0405": "电力通信线路隐患",
    "0501": "河道水体污染", "0502": "露天焚烧/烟尘污染", "0503": "噪声扰民", "0504": "企业偷排/危废",
    "0601": "消防通道堵塞", "0602": "电动车违规充电/飞线充电", "0603": "出租房消防隐患",
    "0604": "企业安全生产隐患", "0605": "燃气安全隐患",
    "0701": "邻里纠纷", "0702": "婚姻家庭纠纷", "0703": "土地山林权属纠纷", "0704": "劳资纠纷/欠薪",
    "0705": "物业纠纷", "0706": "消费纠纷",
    "0801": "治安隐患/可疑人员", "0802": "涉赌涉黄线索", "0803": "电信诈骗线索",
    "0901": "流动人口未登记", "0902": "出租房屋未登记/变更", "0903": "零星房屋管理",
    "1001": "困难帮扶/社会救助", "1002": "就医需求/巡回医疗", "1003": "养老服务", "1004": "就业需求",
    "1005": "政策咨询",
    "1101": "违规占用耕地", "1102": "畜禽养殖污染", "1103": "农村人居环境", "1104": "农田水利设施损坏",
    "1201": "食品安全", "1202": "无证经营", "1203": "价格计量违规",
    "1301": "地质灾害隐患", "1302": "防汛防台/内涝", "1303": "火灾/突发事故",
}

# Golden routing defaults: a change here is a policy decision, so it must be made on purpose.
GOLDEN = {
    "0101": ("village", "grid_team", True),
    "0103": ("village", "grid_team", True),
    "0202": ("village", "grid_team", True),
    "0301": ("town", "enforcement_team", False),
    "0402": ("district", "utility", False),
    "0504": ("district", "district_ecology", False),
    "0604": ("town", "town_office", False),
    "0701": ("village", "village_mediation", False),
    "0703": ("town", "town_office", False),
    "0704": ("town", "town_office", False),
    "0706": ("town", "market_station", False),
    "0802": ("town", "police_station", False),
    "0803": ("town", "police_station", False),
    "1005": ("village", "village_committee", True),
    "1201": ("town", "market_station", False),
    "1303": ("town", "town_office", False),
}


@pytest.fixture
def fresh_caches() -> Iterator[None]:
    get_settings.cache_clear()
    catalog.cache_clear()
    yield
    get_settings.cache_clear()
    catalog.cache_clear()


def _minimal() -> dict[str, Any]:
    return {
        "version": "t-1",
        "tiers": [{"code": "village", "name": "村(社)级"}, {"code": "town", "name": "镇(街)级"}],
        "handler_types": [
            {"code": "grid_team", "name": "网格团队", "tier": "village"},
            {"code": "enforcement_team", "name": "综合行政执法队", "tier": "town"},
        ],
        "majors": [{"code": "01", "name": "市容环卫"}, {"code": "03", "name": "城乡建设"}],
        "categories": [
            {
                "code": "0101", "name": "暴露垃圾/垃圾堆放", "major": "01",
                "default_tier": "village", "handler_type": "grid_team",
                "accept_standard": "公共区域有暴露垃圾。", "close_standard": "垃圾清理干净。",
                "time_limit": {"amount": 8, "unit": "hours"}, "on_the_spot": True,
            },
            {
                "code": "0301", "name": "违章搭建", "major": "03",
                "default_tier": "town", "handler_type": "enforcement_team",
                "accept_standard": "擅自搭建建筑物。", "close_standard": "违建已拆除。",
                "time_limit": {"amount": 10, "unit": "days"},
            },
        ],
    }


def test_the_minimal_catalog_used_below_is_valid() -> None:
    assert Catalog.model_validate(_minimal()).category("0301").default_tier == "town"


def test_it_ships_exactly_the_thirteen_majors() -> None:
    assert {m.code: m.name for m in catalog().majors()} == MAJORS
    assert [m.code for m in catalog().majors()] == sorted(MAJORS)


def test_it_ships_exactly_the_fifty_four_categories() -> None:
    assert {c.code: c.name for c in catalog().categories} == CATEGORIES
    assert len(catalog().categories) == 54


def test_each_category_is_listed_under_its_major() -> None:
    for major in MAJORS:
        codes = [c.code for c in catalog().categories_of(major)]
        assert codes == sorted(code for code in CATEGORIES if code[:2] == major)
        assert all(catalog().category(code).major == major for code in codes)


def test_tiers_run_from_village_up_to_district() -> None:
    cat = catalog()
    assert [(t.code, t.name) for t in cat.tiers] == [
        ("village", "村(社)级"), ("town", "镇(街)级"), ("district", "区级"),
    ]
    assert cat.tier_rank("village") == 0 < cat.tier_rank("town") == 1 < cat.tier_rank("district") == 2


def test_every_category_has_standards_a_deadline_a_tier_and_a_handler() -> None:
    cat = catalog()
    handlers = {h.code for h in cat.handler_types}
    for c in cat.categories:
        assert c.accept_standard.strip() and c.close_standard.strip(), c.code
        assert c.time_limit.amount > 0 and c.time_limit.unit in TIME_UNITS, c.code
        if c.urgent_time_limit is not None:
            assert c.urgent_time_limit.amount > 0, c.code
        cat.tier_rank(c.default_tier)
        assert c.handler_type in handlers, c.code
        assert cat.handler_type(c.handler_type).tier == c.default_tier, c.code


def test_fire_flood_and_gas_have_round_the_clock_urgent_deadlines() -> None:
    for code in ("0605", "1302", "1303"):
        urgent = catalog().category(code).urgent_time_limit
        assert urgent is not None and urgent.unit == "calendar_hours", code


@pytest.mark.parametrize(("code", "expected"), sorted(GOLDEN.items()))
def test_golden_routing_defaults(code: str, expected: tuple[str, str, bool]) -> None:
    c = catalog().category(code)
    assert (c.default_tier, c.handler_type, c.on_the_spot) == expected


def test_an_unknown_category_is_invalid_input_in_both_languages() -> None:
    with pytest.raises(InvalidInput) as raised:
        catalog().category("9999")
    assert raised.value.code == "unknown_category"
    assert "9999" in raised.value.message and "9999" in raised.value.message_zh
    assert raised.value.to_dict()["error"]["message_zh"].startswith("未知的事件类别")


def test_an_unknown_tier_or_major_is_invalid_input() -> None:
    with pytest.raises(InvalidInput) as raised:
        catalog().tier_rank("province")
    assert raised.value.code == "unknown_tier"
    with pytest.raises(InvalidInput) as raised:
        catalog().categories_of("99")
    assert raised.value.code == "unknown_major"


def _broken(edit: str) -> dict[str, Any]:
    data = copy.deepcopy(_minimal())
    first, second = data["categories"]
    if edit == "duplicate code":
        second.update(code="0101", major="01")
    elif edit == "minor outside its major":
        second["major"] = "01"
    elif edit == "unknown tier":
        first["default_tier"] = "province"
    elif edit == "unknown handler":
        first["handler_type"] = "ufo_squad"
    elif edit == "unknown major":
        second.update(code="9901", major="99")
    elif edit == "zero time limit":
        first["time_limit"]["amount"] = 0
    elif edit == "unknown unit":
        first["time_limit"]["unit"] = "fortnights"
    elif edit == "empty standard":
        first["close_standard"] = "  "
    elif edit == "three-digit code":
        first["code"] = "011"
    elif edit == "handler at another tier":
        first["handler_type"] = "enforcement_team"
    elif edit == "misspelt key":
        first["time_limt"] = first.pop("time_limit")
    return data


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ("duplicate code", "duplicate category code 0101"),
        ("minor outside its major", "category 0301 does not start with its major code 01"),
        ("unknown tier", "category 0101 has unknown tier 'province'"),
        ("unknown handler", "category 0101 has unknown handler type 'ufo_squad'"),
        ("unknown major", "category 9901 refers to unknown major '99'"),
        ("zero time limit", "greater than 0"),
        ("unknown unit", "'calendar_days'"),
        ("empty standard", "category 0101 has an empty close_standard"),
        ("three-digit code", "should match pattern"),
        ("handler at another tier", "its handler type enforcement_team sits at tier town"),
        ("misspelt key", "time_limt"),
    ],
)
def test_it_rejects_bad_catalog_data_with_a_clear_message(edit: str, message: str) -> None:
    with pytest.raises(ValidationError) as raised:
        Catalog.model_validate(_broken(edit))
    assert message in str(raised.value)


OVERRIDE = """
version = "海曙-2027.01"

[[tiers]]
code = "village"
name = "村(社)级"

[[handler_types]]
code = "grid_team"
name = "网格团队"
tier = "village"

[[majors]]
code = "01"
name = "市容环卫"

[[categories]]
code = "0101"
name = "暴露垃圾/垃圾堆放"
major = "01"
default_tier = "village"
handler_type = "grid_team"
time_limit = { amount = 4, unit = "hours" }
on_the_spot = true
accept_standard = "公共区域有暴露垃圾，不论面积大小。"
close_standard = "垃圾清理干净，有处置后照片。"
"""


def test_a_districts_own_catalog_replaces_the_shipped_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_caches: None
) -> None:
    (tmp_path / "catalog.toml").write_text(OVERRIDE, encoding="utf-8")
    monkeypatch.setenv("SHANZHI_POLICY_DIR", str(tmp_path))
    get_settings.cache_clear()
    catalog.cache_clear()

    cat = catalog()
    assert cat.version == "海曙-2027.01"
    assert cat.category("0101").time_limit.amount == 4
    with pytest.raises(InvalidInput):
        cat.category("0301")


def test_a_policy_dir_without_a_catalog_falls_back_to_the_shipped_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_caches: None
) -> None:
    monkeypatch.setenv("SHANZHI_POLICY_DIR", str(tmp_path))
    get_settings.cache_clear()
    catalog.cache_clear()

    assert len(catalog().categories) == 54
