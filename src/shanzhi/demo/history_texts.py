"""Words for the demo history: report texts per category, places, results, reasons, comments.

The data, and `Words`, which picks from it for each event. `{p}` in a template is the place
("藕缆桥村文化礼堂东侧", "中山西路与解放南路交叉口"). Every category of the shipped catalog has
its templates (a test checks it); a category a district adds gets a generic sentence.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from shanzhi.demo.history_plan import CHANNELS, rng_for
from shanzhi.events.codes import SECRET_ALPHABET, SECRET_LENGTH

REPORT_TEMPLATES: dict[str, tuple[str, ...]] = {
    "0101": ("{p}有一堆生活垃圾无人清运，已经发臭，苍蝇很多", "{p}垃圾桶满了溢出来，周边散落大量垃圾",
             "{p}有人倾倒装修垃圾和旧家具，堆了好几天没人管", "{p}绿化带里堆着塑料袋、饭盒等垃圾，影响环境"),
    "0102": ("{p}分类垃圾桶混投严重，厨余垃圾和其他垃圾混在一起", "{p}垃圾投放点桶边散落垃圾，督导员不在岗",
             "{p}沿街商户的垃圾没有分类，直接扔进其他垃圾桶"),
    "0103": ("{p}墙面上贴满办证、开锁的小广告", "{p}电线杆和配电箱上被喷涂了电话号码",
             "{p}楼道里到处是疏通管道的牛皮癣广告"),
    "0104": ("{p}路面有大片油污，电动车经过容易打滑", "{p}渣土车撒漏，路面上全是泥浆",
             "{p}下雨后路面积水，行人只能绕行"),
    "0105": ("{p}有人在公共区域乱堆建材和杂物", "{p}居民在护栏和树上拉绳晾晒衣被，影响市容",
             "{p}门前堆放大量废品纸板，占用公共空间"),
    "0201": ("{p}有流动摊贩推三轮车卖水果，占用车行道", "{p}早上有人摆地摊卖菜，造成交通拥堵",
             "{p}晚上有夜宵摊占道经营，桌椅摆到人行道上"),
    "0202": ("{p}有车辆长期乱停，堵住了小区出入口", "{p}人行道上停满电动车和汽车，行人只能走机动车道",
             "{p}有一辆僵尸车停放半年多，车身积满灰尘", "{p}大货车占道停放，挡住了转弯视线"),
    "0203": ("{p}店铺把商品摆到门外人行道上，越门经营", "{p}饭店在门口洗菜切菜，污水流到路面",
             "{p}汽修店在店门外修车，油污满地"),
    "0301": ("{p}有人正在屋顶加盖一层，疑似违章建筑", "{p}有住户在院子里私自搭建彩钢棚",
             "{p}有人在河边空地上搭棚，已经打好地基"),
    "0302": ("{p}工地夜间施工到凌晨，噪声很大影响休息", "{p}工地围挡破损，扬尘很大，没有洒水降尘",
             "{p}渣土车进出工地没有冲洗，带泥上路"),
    "0303": ("{p}一幢老房子墙体出现明显裂缝，担心有倒塌危险", "{p}楼房外墙瓷砖脱落，差点砸到行人",
             "{p}一间老宅屋顶塌了一角，里面还住着老人"),
    "0304": ("{p}路面塌陷出现一个大坑，晚上容易摔倒", "{p}人行道地砖松动破损，下雨踩上去溅水",
             "{p}道路开裂坑洼不平，车辆经过颠簸严重"),
    "0305": ("{p}有个窨井盖不见了，非常危险", "{p}井盖松动，车辆压过去哐哐响",
             "{p}雨水井盖破损下陷，已经有人差点掉下去"),
    "0401": ("{p}路灯连续几天不亮，晚上一片漆黑", "{p}有一排路灯一闪一闪，时亮时灭",
             "{p}有一根灯杆被车撞歪了，有倒下的危险"),
    "0402": ("{p}地下自来水管爆了，水一直往外冒", "{p}从早上开始停水，没有接到任何通知",
             "{p}这几天水压很低，楼上几乎没有水"),
    "0403": ("{p}下水道堵了，污水漫到路面上，很臭", "{p}窨井冒水，化粪池满了没人清理",
             "{p}一下雨就返水，排水管道不通"),
    "0404": ("{p}健身器材坏了，螺丝松动，老人孩子使用有危险", "{p}河边护栏断了一截，晚上路过很危险",
             "{p}公交站的座椅和宣传栏损坏"),
    "0405": ("{p}电线下垂很低，快碰到行人头顶了", "{p}电线杆倾斜严重，担心倒下来",
             "{p}通信光缆掉落在路面上，缠成一团"),
    "0501": ("{p}河道里漂浮着大量垃圾和水葫芦", "{p}河水发黑发臭，还有死鱼浮在水面",
             "{p}有一个排污口往河里排放浑浊的污水"),
    "0502": ("{p}有人在田边焚烧秸秆，烟很大", "{p}有人在空地上烧垃圾，冒黑烟呛人",
             "{p}有人焚烧废旧电线，气味刺鼻"),
    "0503": ("{p}晚上广场舞音响声音太大，影响居民休息", "{p}商铺门口用大喇叭循环播放促销广告",
             "{p}楼上装修电钻声从早响到晚，周末也不停"),
    "0504": ("{p}附近一家厂晚上偷偷排放废水，有刺鼻气味", "{p}有企业把危险废物桶随意堆放在露天",
             "{p}一家小作坊用暗管往河里排废液"),
    "0601": ("{p}消防车道被私家车和杂物堵死", "{p}楼道里堆满纸箱和旧家具，安全出口被堵",
             "{p}安全出口被商户上锁，发生火灾无法疏散"),
    "0602": ("{p}有人从楼上拉电线给电动车飞线充电", "{p}电瓶车停在楼道里充电，存在火灾隐患",
             "{p}有住户把电动车推进电梯带回家充电"),
    "0603": ("{p}一处出租房隔成十几个小间，住了很多人，没有灭火器", "{p}出租房一楼开店、二楼住人，属于三合一场所",
             "{p}群租房内私拉电线，烟感报警器也没有装"),
    "0604": ("{p}一家企业违规动火作业，旁边就是易燃物品", "{p}一家企业车间内危化品存放混乱，没有防护措施",
             "{p}工厂工人在高处作业没有系安全带"),
    "0605": ("{p}闻到很重的煤气味，怀疑有地方漏气", "{p}饭店液化气钢瓶放在厨房内，软管老化开裂",
             "{p}有人在出租房里使用液化气钢瓶，没有装报警器"),
    "0701": ("{p}楼上空调滴水到楼下阳台，双方多次吵架", "{p}邻居在公共楼道养狗，狗叫扰民，双方发生争执",
             "{p}两户邻居因为新建房屋挡住采光发生纠纷"),
    "0702": ("{p}一户家庭子女互相推诿，不愿赡养老人", "{p}一对夫妻经常吵架，女方反映遭受家暴",
             "{p}兄弟姐妹因父母遗产继承问题发生争执"),
    "0703": ("{p}两户村民因宅基地界址问题发生争吵", "{p}村民之间承包地地界不清，互不相让",
             "{p}山林权属有争议，一方擅自砍伐林木"),
    "0704": ("{p}一家企业拖欠十几名工人三个月工资", "{p}工地包工头拖欠工钱后失联，工人讨薪无门",
             "{p}一家厂老板跑路，员工工资和社保都没发"),
    "0705": ("{p}小区电梯坏了半个月，物业一直不修", "{p}业主和物业因物业费上涨发生纠纷",
             "{p}小区地面车位被外来车辆占用，物业不管"),
    "0706": ("{p}一家健身房关门，预付卡无法退款", "{p}在商店买到假货，商家拒绝退换",
             "{p}理发店办卡后商家不按约定提供服务"),
    "0801": ("{p}最近有陌生人夜里在周边转悠，形迹可疑", "{p}监控坏了很久，最近有电动车被偷",
             "{p}有人撬车库门锁，居民很担心"),
    "0802": ("{p}有一家棋牌室疑似聚众赌博，夜里人进人出", "{p}一家按摩店营业到深夜，疑似有违法活动",
             "{p}一处出租房内经常有人打麻将赌钱，赌资较大"),
    "0803": ("{p}一位老人接到冒充客服的电话，准备转账", "{p}有居民被拉进刷单群，已经转了几千元",
             "{p}有人挨家挨户推销网贷，要求提供验证码"),
    "0901": ("{p}新搬来几户外地人员，还没有登记居住信息", "{p}一处出租房住进多名外来务工人员，未办理居住登记",
             "{p}有外来人员暂住超过一个月，未申领居住证"),
    "0902": ("{p}有房东出租房屋未登记，租客已经换了几批", "{p}出租房租客变更，房东没有及时更新信息",
             "{p}一幢民房改成群租房对外出租，未报备"),
    "0903": ("{p}一处闲置老屋长期无人居住，门窗破损", "{p}一间附属用房空置，被人堆放杂物",
             "{p}几间临时用房年久失修，需要登记核查"),
    "1001": ("{p}一户居民因病致贫，希望申请低保救助", "{p}一位残疾人生活困难，家里没有经济来源",
             "{p}一位孤寡老人独居，生活无人照料"),
    "1002": ("{p}一位老人行动不便，需要上门配药", "{p}几位慢性病老人希望家庭医生上门随访",
             "{p}老人看病不方便，希望安排巡回医疗"),
    "1003": ("{p}独居老人希望参加老年食堂助餐服务", "{p}一位高龄老人需要居家养老上门护理",
             "{p}老人反映居家养老服务中心活动太少"),
    "1004": ("{p}有居民失业在家，想找一份工作", "{p}几位居民希望参加技能培训，提高就业能力",
             "{p}有退役军人咨询灵活就业和招聘信息"),
    "1005": ("{p}有居民咨询城乡居民医保怎么缴费", "{p}有居民咨询养老保险补贴需要什么材料",
             "{p}有居民咨询居住证怎么办理"),
    "1101": ("{p}有人在基本农田里堆土建房", "{p}有人占用耕地挖塘养鱼",
             "{p}农田里堆放大量建筑材料，疑似要建厂房"),
    "1102": ("{p}有人在禁养区内养猪，粪污直接排到沟渠", "{p}养殖场臭味很大，附近居民无法开窗",
             "{p}鸡鸭散养，粪便污染周边环境"),
    "1103": ("{p}房前屋后杂草丛生，柴堆乱放", "{p}旱厕还没有拆除，污水横流",
             "{p}村道两边堆满杂物，影响村容村貌"),
    "1104": ("{p}灌溉水渠破损漏水，影响农田灌溉", "{p}机埠泵站设备坏了，无法抽水",
             "{p}沟渠淤堵严重，闸门也锈死了"),
    "1201": ("{p}一家小吃店后厨卫生脏乱，有老鼠出没", "{p}一家超市在卖过期食品",
             "{p}一家小作坊生产糕点，没有任何卫生措施"),
    "1202": ("{p}有一家小饭店没有营业执照就开业了", "{p}一处黑作坊无证生产，晚上开工",
             "{p}有人在家里无证开小卖部卖烟酒"),
    "1203": ("{p}菜场摊主的电子秤有问题，缺斤短两", "{p}一处停车场乱收费，没有公示收费标准",
             "{p}店铺商品没有明码标价，结账时乱要价"),
    "1301": ("{p}山坡上有落石滚下来，道路有危险", "{p}连续下雨后山体出现裂缝，担心滑坡",
             "{p}房屋后面的边坡塌方，泥土冲到了路上"),
    "1302": ("{p}暴雨后道路积水很深，车辆无法通行", "{p}台风天，地下车库开始进水",
             "{p}河堤有渗水现象，水位还在上涨"),
    "1303": ("{p}有房屋着火冒烟，情况紧急", "{p}发生一起车祸，有人受伤",
             "{p}一处仓库突然冒出浓烟，还有爆炸声"),
}
GENERIC_TEMPLATES = ("{p}发现问题，请相关部门核实处理",)

# What the handler writes when done, by major.
RESULTS: dict[str, tuple[str, ...]] = {
    "01": ("已安排保洁人员清理完毕，现场恢复整洁", "已清除完毕，并提醒周边商户居民规范投放"),
    "02": ("已劝离摊贩/督促车主挪车，现场恢复通行", "已教育整改，当事人承诺不再占道，纳入日常巡查"),
    "03": ("已现场勘查并责令停工整改，后续跟踪", "已完成修复，设置警示标志，消除隐患"),
    "04": ("已联系维修单位修复，设施恢复正常使用", "已完成抢修并恢复供应，告知居民注意事项"),
    "05": ("已现场制止并清理，对当事人进行教育", "已会同相关部门调查，责令整改并复查"),
    "06": ("已现场检查并督促整改，隐患已消除", "已清理通道、拆除飞线，张贴安全提示"),
    "07": ("经调解双方达成一致，签订调解协议", "已组织双方当面沟通，矛盾化解，后续回访"),
    "08": ("已移交派出所核查处置，加强周边巡逻", "已核实情况并开展防范宣传，未发现异常"),
    "09": ("已上门登记核实，信息录入系统", "已督促房东完成出租登记，租客信息已更新"),
    "10": ("已上门了解情况，按政策协助办理", "已答复政策并指导准备材料，居民表示满意"),
    "11": ("已责令恢复原状，后续加强巡查", "已组织维修并恢复正常使用"),
    "12": ("已现场检查，责令整改并依法处理", "已调解处理，商家已退款/整改"),
    "13": ("已紧急处置完毕，现场安全，无人员伤亡", "已组织排险和转移，险情已排除"),
}
ON_THE_SPOT_RESULTS = ("网格员现场处置完毕，已拍照留存", "现场劝导整改到位", "已现场清理，恢复原状")

REASONS: dict[str, tuple[str, ...]] = {
    "return_scope": ("不属于本单位职责范围，请重新派遣", "该事项归口其他科室，退回重新派遣"),
    "return_info": ("地址信息不全，请补充具体位置后重新派遣", "现场未找到反映的问题，请核实后重新派遣"),
    "reopen": ("现场核查仍未整改到位，请返工", "群众反映问题反弹，需重新处置", "处置照片不清晰，请补充处置"),
    "escalate": ("涉及多个部门，本级无法处置，提请上级协调", "超出本级处置能力，申请上级部门处置",
                 "当事人不服调解，提请上级处理"),
    "extension": ("需协调多个部门，申请延期", "等待施工材料到位，申请延期", "当事人外出，调解需延期"),
    "reject": ("重复上报，已有同类事件在办", "不属于本平台受理范围，已告知通过司法途径解决",
               "经核实现场无此问题"),
}

RATING_COMMENTS_GOOD = ("处理很及时，点赞！", "网格员很负责", "问题解决了，谢谢", "态度很好，效率高",
                        "速度还可以再快一点", "感谢社区的帮助")
RATING_COMMENTS_BAD = ("处理太慢了", "问题没有彻底解决", "拖了好几天才来人")

# What each channel puts before the words, and what may follow them.
PREFIXES: dict[str, tuple[str, ...]] = {
    "grid_worker": ("", "巡查发现：", "网格巡查时发现，"),
    "resident": ("", "您好，", "我要反映：", "麻烦管一下，"),
    "hotline": ("市民来电反映：", "12345热线转办：来电人称", "来电反映："),
    "department": ("{dept}转办：", "{dept}移交线索："),
    "api": ("视频智能识别：", "城市大脑预警：", "物联感知设备报警："),
}
SUFFIXES: dict[str, tuple[str, ...]] = {
    "grid_worker": ("", "，已拍照留存。", "，需相关部门处置。"),
    "resident": ("", "，请尽快处理。", "，希望有关部门管一管。", "，已经好几天了。", "！"),
    "hotline": ("，要求尽快处理。", "，请核实处理。", "，来电人要求回复。"),
    "department": ("，请属地核实处置。", "，请按时反馈。"),
    "api": ("，请核实。", "，请派员现场核查。"),
}
# The department a transfer comes from, by major.
DEPARTMENTS: dict[str, str] = {
    "03": "区住建局", "04": "区综合行政执法局", "05": "生态环境分局", "06": "区应急管理局",
    "07": "区信访局", "08": "公安海曙分局", "10": "区民政局", "11": "区农业农村局", "12": "区市场监管局",
    "13": "区应急管理局",
}
DEFAULT_DEPARTMENT = "区社会治理中心"
OTHER_REPORTERS = {"hotline": "12345政务服务热线", "api": "基层治理四平台接口"}

SURNAMES = "王李张陈周徐俞胡应林孙蒋邵董毛钱沈朱郑史夏卢翁鲍戴叶方金汪吴黄赵杨"
GIVEN = ("伟", "芳", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "霞", "平",
         "刚", "燕", "建国", "海燕", "晓东", "丽君", "志强", "雪梅", "国平", "亚萍")

# Places in villages: "<village><landmark><side>" or "<village><n>组<…>".
LANDMARKS = ("文化礼堂", "村委会", "老年活动中心", "菜场", "公交站", "卫生室", "小学", "幼儿园", "祠堂", "桥头",
             "河埠头", "停车场", "篮球场", "垃圾中转站", "工业区", "标准厂房", "出租房集中区", "村口", "便民服务中心",
             "健身广场", "农贸市场", "沿河步道", "村道", "农田")
SIDES = ("东侧", "西侧", "南侧", "北侧", "旁", "对面", "门口", "附近", "后面")
# Places in streets: roads and residential compounds.
ROADS = ("中山西路", "解放南路", "解放北路", "县前街", "开明街", "药行街", "灵桥路", "柳汀街", "长春路", "望春路",
         "环城西路", "机场路", "段塘西路", "布政巷", "苍松路", "气象路", "丽园南路", "蓝天路", "西洪大道", "翠柏路",
         "马园路", "永丰路", "广安路", "大卿桥路", "镇明路", "孝闻街", "新典路", "南站西路", "雅戈尔大道", "集士港路",
         "鄞县大道", "古林大道", "高桥中路", "横街路", "洞桥路", "它山庙路")
COMPOUNDS = ("天一家园", "月湖花园", "柳锦家园", "白云庄小区", "望春花园", "段塘新村", "南苑小区", "西成小区",
             "常青藤小区", "丽园新村", "翠柏新村", "安丰小区", "春江花城", "泰和园", "尚书第", "孝闻苑", "南都花园",
             "顺德小区", "三江家园", "朝晖公寓")
SHOPS = ("菜场", "农贸市场", "商业街", "公交站", "地铁站口", "学校门口", "医院门口", "超市门口", "公园", "停车场")


class Words:
    """Picks the words for each event of a plan: the seed decides, one row of draws per event."""

    def __init__(self, plan: Any, seed: int) -> None:
        self.plan = plan
        self.var = rng_for(seed, 5).integers(0, 2**31 - 1, size=(plan.n, 10))
        # Each street gets its own few roads.
        self.roads = [[ROADS[(7 * i + 3 * k) % len(ROADS)] for k in range(9)] for i in range(len(plan.tree.towns))]
        secrets = self.var[:, :SECRET_LENGTH] % len(SECRET_ALPHABET)
        alphabet = np.array([ord(ch) for ch in SECRET_ALPHABET], dtype=np.uint32)
        self.secrets = alphabet[secrets].view(f"<U{SECRET_LENGTH}").ravel().tolist()

    @staticmethod
    def person(key: str) -> str:
        """A stable name for the grid worker of a village (or town)."""
        h = 0
        for ch in key:
            h = (h * 131 + ord(ch)) % 1_000_003
        return SURNAMES[h % len(SURNAMES)] + GIVEN[(h // 97) % len(GIVEN)]

    def place(self, i: int) -> str:
        p, v = self.plan, self.var[i]
        region = p.region[i]
        village = p.tree.village_names.get(region[:12]) if len(region) >= 12 else None
        if village:
            if v[0] % 3:
                return f"{village}{LANDMARKS[v[1] % len(LANDMARKS)]}{SIDES[v[2] % len(SIDES)]}"
            return f"{village}{v[1] % 12 + 1}组{v[2] % 60 + 1}号附近"
        roads = self.roads[p.town[i]]
        a, b = roads[v[1] % len(roads)], roads[(v[1] + 1 + v[2] % (len(roads) - 1)) % len(roads)]
        compound = COMPOUNDS[v[3] % len(COMPOUNDS)]
        return (f"{a}与{b}交叉口", f"{compound}{v[2] % 30 + 1}幢楼下", f"{a}{v[3] % 400 + 1}号{SHOPS[v[2] % len(SHOPS)]}附近",
                f"{compound}{SIDES[v[2] % 4]}门")[v[0] % 4]

    def report(self, i: int, place: str) -> str:
        p, v = self.plan, self.var[i]
        code, channel = p.cats[p.category[i]], CHANNELS[p.channel[i]]
        templates = REPORT_TEMPLATES.get(code, GENERIC_TEMPLATES)
        prefix = PREFIXES[channel][v[4] % len(PREFIXES[channel])]
        if "{dept}" in prefix:
            prefix = prefix.format(dept=DEPARTMENTS.get(code[:2], DEFAULT_DEPARTMENT))
        suffix = SUFFIXES[channel][v[5] % len(SUFFIXES[channel])] or "。"
        return prefix + templates[v[6] % len(templates)].format(p=place) + suffix

    def reporter(self, i: int) -> tuple[str | None, str | None]:
        """(the event's reporter_name, the report step's actor name)."""
        p, v = self.plan, self.var[i]
        channel = CHANNELS[p.channel[i]]
        if channel == "grid_worker":
            return None, f"网格员·{self.person(p.region[i][:12])}"
        if channel == "department":
            return None, DEPARTMENTS.get(p.cats[p.category[i]][:2], DEFAULT_DEPARTMENT)
        if channel in ("resident", "hotline") and v[7] % 10 < (3 if channel == "resident" else 8):
            name = SURNAMES[v[8] % len(SURNAMES)] + ("女士" if v[8] % 2 else "先生")
            return (name, None) if channel == "resident" else (f"市民{name}", OTHER_REPORTERS[channel])
        return None, OTHER_REPORTERS.get(channel)

    def result(self, i: int, on_the_spot: bool) -> str:
        pool = ON_THE_SPOT_RESULTS if on_the_spot else RESULTS.get(self.plan.cats[self.plan.category[i]][:2],
                                                                   ON_THE_SPOT_RESULTS)
        return pool[self.var[i][9] % len(pool)]

    def reason(self, i: int, kind: str) -> str:
        return REASONS[kind][self.var[i][3] % len(REASONS[kind])]

    def comment(self, i: int, rating: int) -> str | None:
        v = self.var[i][7]
        if v % 10 >= 3:
            return None
        pool = RATING_COMMENTS_GOOD if rating >= 4 else RATING_COMMENTS_BAD
        return pool[(v // 10) % len(pool)]

    def category_source(self, i: int) -> str:
        """How the category was set: residents and the hotline often leave it to the classifier."""
        channel, v = CHANNELS[self.plan.channel[i]], self.var[i][8] % 20
        if channel == "resident":
            return "chosen" if v < 12 else "suggested" if v < 17 else "corrected"
        if channel == "hotline":
            return "chosen" if v < 6 else "suggested" if v < 16 else "corrected"
        return "chosen"
