"""Demo accounts: one per role, placed where such a person works in the demo district.

DEMO ONLY: the password is public (README). A real district creates its users with
`shanzhi users add` and never runs `shanzhi demo`.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shanzhi.accounts import service
from shanzhi.accounts.models import User
from shanzhi.geo.models import Region
from shanzhi.orgs.models import Organization

DEMO_PASSWORD = "shanzhi-demo-2026"


@dataclass(frozen=True)
class DemoPerson:
    username: str
    name: str
    role: str
    place: tuple[str, ...]  # names from the town down; a trailing "*" takes the first child
    org: str | None = None


# (organization code, name, kind, town)
DEMO_ORGS = (
    ("GL-ZFD", "古林镇综合行政执法队", "enforcement_team", "古林镇"),
    ("HS-RMYY", "海曙区人民医院", "public_institution", "集士港镇"),
)

DEMO_PEOPLE = (
    DemoPerson("admin", "系统管理员", "admin", ()),
    DemoPerson("leader", "区领导·陈明", "district_leader", ()),
    DemoPerson("dispatcher", "古林镇派遣员·王芳", "dispatcher", ("古林镇",)),
    DemoPerson("dutychief", "古林镇值班长·李强", "duty_chief", ("古林镇",)),
    DemoPerson("handler", "执法队员·周杰", "handler", ("古林镇",), "GL-ZFD"),
    DemoPerson("mediator", "调解员·孙丽", "mediator", ("古林镇",)),
    DemoPerson("cadre", "藕缆桥村干部·吴刚", "village_cadre", ("高桥镇", "藕缆桥村")),
    DemoPerson("liaison", "民情联络员·郑红", "liaison", ("高桥镇", "藕缆桥村", "*")),
    DemoPerson("gridworker", "网格员·钱晓", "grid_worker", ("高桥镇", "藕缆桥村", "*", "*")),
    DemoPerson("alliance", "联建单位·海曙区人民医院", "alliance_unit", ("集士港镇", "深溪村"), "HS-RMYY"),
    DemoPerson("resident", "居民·赵阿姨", "resident", ("高桥镇", "藕缆桥村")),
)


def _place(session: Session, root: Region, path: tuple[str, ...]) -> Region:
    region = root
    for name in path:
        stmt = select(Region).where(Region.parent_id == region.id)
        stmt = stmt.order_by(Region.code) if name == "*" else stmt.where(Region.name == name)
        found = session.scalars(stmt.limit(1)).first()
        if found is None:
            raise LookupError(f"demo place {path} not found under {root.name}")
        region = found
    return region


def create_demo_people(session: Session) -> list[tuple[DemoPerson, Region, bool]]:
    """Create the demo organizations and accounts that are missing; returns (person, place, created)."""
    root = session.scalars(select(Region).where(Region.parent_id.is_(None)).order_by(Region.code)).first()
    assert root is not None, "load the demo regions first"
    for code, name, kind, town in DEMO_ORGS:
        if session.scalar(select(Organization.id).where(Organization.code == code)) is None:
            session.add(Organization(code=code, name=name, kind=kind, region_id=_place(session, root, (town,)).id))
    session.flush()
    actor = service.system_actor(session, name="演示数据 demo")
    out = []
    for person in DEMO_PEOPLE:
        place = _place(session, root, person.place)
        exists = session.scalar(select(User.id).where(func.lower(User.username) == person.username))
        if exists is None:
            user = service.create_user(session, actor=actor, username=person.username, display_name=person.name,
                                       password=DEMO_PASSWORD, home_region=place.code,
                                       phone=f"1390574{len(out):04d}")
            service.assign_role(session, actor=actor, user_id=user.id, role=person.role, region=place.code,
                                org_code=person.org)
        out.append((person, place, exists is None))
    return out
