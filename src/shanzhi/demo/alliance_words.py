"""The words of the demo alliances: unit names by kind, people's names, resource, need, project
and outcome phrasing. Picked with a seeded `random.Random`, so the same seed says the same."""

from __future__ import annotations

import random

from shanzhi.demo.names import SURNAMES

GIVEN = tuple("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰建国海波红梅志明晓东晨雪立新春燕斌浩宇婷佳怡")

DEPARTMENTS = (
    ("司法局", "司法所"), ("税务局", "税务所"), ("人力资源和社会保障局", "就业服务站"),
    ("自然资源和规划局", "自然资源所"),
    ("农业农村局", "农技服务站"), ("卫生健康局", "计生协会"), ("教育局", "教育办"), ("文化和广电旅游体育局", "文化站"),
    ("民政局", "社会事务站"), ("退役军人事务局", "退役军人服务站"), ("科学技术局", "科技服务站"),
    ("商务局", "商贸服务站"),
    ("交通运输局", "交通管理站"), ("公安分局", "警务室"), ("法院", "人民法庭"), ("检察院", "检察联络室"),
)
TOWN_INSTITUTIONS = ("中心小学", "初级中学", "中心幼儿园", "卫生院", "成人文化技术学校", "文化站", "农业综合服务站",
                     "敬老院", "图书分馆")
VILLAGE_INSTITUTIONS = ("卫生服务站", "幼儿园", "居家养老服务中心", "文化礼堂")
STATE_FIRMS = ("中国工商银行宁波海曙{s}支行", "中国农业银行宁波海曙{s}支行", "中国建设银行宁波海曙{s}支行",
               "中国银行宁波海曙{s}支行", "宁波银行海曙{s}支行", "宁波鄞州农村商业银行{s}支行",
               "中国邮政储蓄银行{s}营业所",
               "国网宁波市海曙区供电公司{s}供电所", "宁波市自来水有限公司{s}营业所", "中国移动宁波海曙{s}营业厅",
               "中国联通宁波海曙{s}营业部", "中国电信宁波海曙{s}营业部", "中国石化宁波{s}加油站",
               "宁波交通投资集团{s}项目部", "宁波城建投资集团{s}项目部", "宁波市粮食收储有限公司{s}粮库",
               "宁波公交{s}公交站务所", "宁波水务环境集团{s}水厂",
               "浙江省邮政{s}邮政支局", "宁波轨道交通{s}站务中心")
BRAND_A = tuple("甬海曙明华恒瑞鸿天宏新嘉欣兴盛金宝创佳永昌博远立志凯德安信通鑫利泰")
BRAND_B = tuple("丰达茂源成祥隆辉耀诚盛和隆发泰恒升腾宇洋杰翔锦程峰润欣")
INDUSTRIES = ("电器", "服饰", "机械", "科技", "食品", "建设", "物流", "纺织", "模具", "汽配", "塑业", "农业开发",
              "文化传媒", "电子", "新材料", "五金", "家居", "印务", "生物科技", "环保科技", "餐饮管理", "物业服务",
              "医疗器械", "文具", "包装", "智能装备", "园林绿化", "水产", "茶业", "旅游开发")
SOCIAL_TOWN = ("商会", "慈善分会", "志愿者协会", "红十字会", "老年人体育协会", "乡贤联谊会", "青年创业协会",
               "妇女儿童服务中心", "社会工作服务站", "应急救援队")
SOCIAL_VILLAGE = ("老年协会", "志愿服务队", "乡贤参事会", "文体队", "巾帼志愿队")
PROFESSIONS = (("医生", "medical"), ("律师", "legal_aid"), ("企业家", "employment"), ("教师", "education"),
               ("农业专家", "agritech"), ("电商从业者", "sales"))
ELITE_ROLES = ("退休教师", "返乡企业家", "老党员", "乡村医生", "返乡创业青年", "退伍军人")
ALLIANCE_WORDS = ("共富", "同心", "红联", "先锋", "和美", "善治", "振兴", "连心", "聚力", "红色引擎", "幸福", "共建")

# Resource kinds each kind of unit offers (weights), and how each kind is phrased and counted.
OFFERS: dict[str, dict[str, int]] = {
    "government_agency": {"legal_aid": 3, "training": 3, "employment": 2, "funding": 2, "agritech": 2},
    "public_institution": {"medical": 4, "education": 3, "culture": 2, "elderly_care": 2, "training": 1},
    "state_enterprise": {"funding": 3, "equipment": 2, "employment": 2, "volunteers": 2, "training": 1},
    "private_enterprise": {"employment": 5, "sales": 3, "funding": 2, "equipment": 2, "training": 1, "volunteers": 1},
    "social_organization": {"volunteers": 4, "elderly_care": 3, "culture": 2, "education": 2, "legal_aid": 1},
}
RESOURCE_TITLES: dict[str, tuple[str, ...]] = {
    "legal_aid": ("法律顾问进村", "法治讲座", "矛盾纠纷调解支持", "公益法律咨询"),
    "medical": ("专家义诊进村", "慢病随访服务", "健康体检", "健康知识讲座"),
    "training": ("电商直播培训", "家政服务技能培训", "农业实用技术培训", "电工焊工技能培训"),
    "employment": ("普工岗位", "保洁保安岗位", "仓储物流岗位", "技术工岗位", "灵活就业岗位"),
    "funding": ("乡村振兴帮扶资金", "困难家庭结对帮扶金", "村级公益项目资金"),
    "sales": ("农产品直播带货", "食堂农产品采购", "特色农产品展销"),
    "equipment": ("捐赠电脑", "防汛应急物资", "适老化改造器材", "路灯设备"),
    "volunteers": ("志愿服务队", "环境整治志愿者", "助老志愿者"),
    "education": ("暑期托管班", "助学结对", "课后辅导"),
    "elderly_care": ("老年食堂助餐", "上门助浴理发", "居家养老探访"),
    "culture": ("送戏下乡", "村晚节目指导", "书画进礼堂"),
    "agritech": ("果树栽培指导", "稻田综合种养技术", "茶园病虫害防治"),
}
UNITS: dict[str, tuple[str, int, int]] = {  # unit, smallest and largest capacity
    "legal_aid": ("次", 12, 48), "medical": ("场", 6, 24), "training": ("人次", 30, 200), "employment": ("个", 5, 40),
    "funding": ("万元", 5, 50), "sales": ("万元", 10, 80), "equipment": ("件", 10, 100),
    "volunteers": ("人次", 20, 200), "education": ("人次", 20, 100), "elderly_care": ("人次", 50, 300),
    "culture": ("场", 2, 12), "agritech": ("次", 4, 20),
}
# Needs by the villages' kind, and their phrasing.
NEEDS_BY_TYPE: dict[str, dict[str, int]] = {
    "mountain": {"agritech": 4, "sales": 4, "medical": 3, "elderly_care": 3, "funding": 2, "equipment": 2,
                 "education": 1, "volunteers": 1, "culture": 1, "legal_aid": 1, "employment": 1, "training": 1},
    "suburban": {"employment": 4, "training": 3, "elderly_care": 3, "education": 2, "medical": 2, "legal_aid": 2,
                 "volunteers": 2, "funding": 1, "equipment": 1, "culture": 1, "sales": 1, "agritech": 1},
    "urban": {"employment": 4, "legal_aid": 3, "culture": 2, "volunteers": 3, "education": 2, "elderly_care": 2,
              "training": 2, "medical": 1, "equipment": 1, "funding": 1},
}
NEED_TITLES: dict[str, tuple[tuple[str, str | None], ...]] = {  # (title, resident group)
    "legal_aid": (("土地流转合同法律把关", None), ("外来务工人员法律咨询", "外来务工人员"), ("家庭矛盾调解指导", None)),
    "medical": (("留守老人慢病随访", "留守老人"), ("村民健康体检", None), ("残疾人康复指导", "残疾人")),
    "training": (("返乡青年电商技能培训", "返乡青年"), ("妇女家政技能培训", "留守妇女"), ("村干部数字化培训", None)),
    "employment": (("低收入农户就业帮扶", "低收入农户"), ("返乡青年求职", "返乡青年"),
                   ("大龄劳动力灵活就业", "大龄劳动力")),
    "funding": (("村道路灯改造资金", None), ("困难家庭助学资金", "困难家庭"), ("文化礼堂修缮资金", None)),
    "sales": (("杨梅滞销找销路", "种植户"), ("竹笋销售渠道", "种植户"), ("民宿客源推广", "民宿经营户")),
    "equipment": (("防汛物资补充", None), ("老年食堂厨具", None), ("村级监控设备", None)),
    "volunteers": (("河道保洁志愿者", None), ("垃圾分类督导志愿者", None), ("独居老人结对探访", "独居老人")),
    "education": (("留守儿童暑期托管", "留守儿童"), ("课后作业辅导", "留守儿童"), ("老年大学课程", "老年人")),
    "elderly_care": (("高龄老人助餐", "高龄老人"), ("失能老人上门照护", "失能老人"), ("老年人助浴理发", "留守老人")),
    "culture": (("村晚节目排练指导", None), ("文化礼堂送戏", None), ("村史馆布展", None)),
    "agritech": (("茶园病虫害防治", "种植户"), ("水稻新品种推广", "种植户"), ("果树修剪技术", "种植户")),
}
OUTCOMES: dict[str, str] = {
    "legal_aid": "审查合同 {n} 份，化解纠纷隐患，村民法律意识明显提升",
    "medical": "开展义诊随访，服务村民 {n} 人次，建立健康档案",
    "training": "完成培训 {n} 人次，部分学员已实现就业或开店",
    "employment": "推荐岗位并促成 {n} 人稳定就业",
    "funding": "资金到位并完成项目建设，惠及村民 {n} 人",
    "sales": "打通销售渠道，带动 {n} 户增收",
    "equipment": "物资设备到位并投入使用，惠及 {n} 人",
    "volunteers": "组织志愿服务 {n} 人次，环境与服务明显改善",
    "education": "服务儿童和学员 {n} 人次，家长满意",
    "elderly_care": "为老人提供服务 {n} 人次，解决助餐照护难题",
    "culture": "组织文化活动，观众和参与村民 {n} 人次",
    "agritech": "技术指导覆盖 {n} 户，亩产和品质提升",
}
MILESTONES = ("需求对接会", "方案确定", "首次服务", "中期回访", "总结验收")
NOTES = ("已与村两委对接，明确服务对象和时间", "完成第一批服务，群众反映良好", "根据村民意见调整服务安排",
         "阶段性服务完成，正在整理台账", "回访服务对象，满意度较高")


def person(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))


def phone(rng: random.Random) -> str:
    return rng.choice(("139", "138", "137", "136", "135", "158", "159", "188", "189", "133", "153")) + \
        f"{rng.randrange(10**8):08d}"


def weighted(rng: random.Random, table: dict[str, int]) -> str:
    return rng.choices(list(table), weights=list(table.values()))[0]


def short(name: str) -> str:
    for suffix in ("街道", "镇", "乡"):
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def enterprise(rng: random.Random) -> str:
    head = rng.choice(("宁波", "宁波", "宁波海曙", "浙江"))
    return f"{head}{rng.choice(BRAND_A)}{rng.choice(BRAND_B)}{rng.choice(INDUSTRIES)}" + \
        rng.choice(("有限公司", "有限公司", "有限公司", "股份有限公司"))


def village_party_org(village: str, population: int | None) -> str:
    size = population or 0
    body = "委员会" if size >= 3000 else "总支部委员会" if size >= 1500 else "支部委员会"
    return f"中共{village}{body}"


def town_party_org(town: str) -> str:
    return f"中共宁波市海曙区{town}{'工作委员会' if town.endswith('街道') else '委员会'}"


def charter(name: str, lead: str, focus: list[str]) -> str:
    return (f"{name}由{lead}牵头，联合辖区机关、企事业单位和社会组织，坚持“党建引领、资源共享、优势互补、共建共赢”，"
            f"重点在{'、'.join(focus)}等方面开展共建。成员单位按年度认领需求清单、发布资源清单，每季度召开联席会议，"
            "年底开展成效评议。")
