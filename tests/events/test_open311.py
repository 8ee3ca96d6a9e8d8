"""Open311 GeoReport v2 (/open311/v2/): the spec's own example requests and response shapes, in
JSON and XML, errors in Open311's form, the 90-day rule, and a FixMyStreet round trip.

The example values are the spec's (wiki.open311.org/GeoReport_v2), moved into the test district:
its service code, jurisdiction and a point inside it replace San Francisco's.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from builders import bearer, feature, lattice_tree, make_event, make_units, make_user
from shapely.geometry import box
from sqlalchemy import func, select

from shanzhi.accounts.crypto import decrypt_text
from shanzhi.accounts.service import system_actor
from shanzhi.audit.models import AuditEntry
from shanzhi.db import utcnow
from shanzhi.events import service
from shanzhi.events.catalog import catalog
from shanzhi.events.models import Event
from shanzhi.geo import service as geo

BASE = "/open311/v2"
DISTRICT = "330203"
TOWN1, TOWN2 = "330203101", "330203102"
INSIDE = {"lat": "29.81", "long": "121.31"}  # 第1镇 (330203101…)
IN_TOWN2 = {"lat": "29.81", "long": "121.45"}  # 第2镇 (330203102…)

# The spec's "POST Service Request" example, field for field (plus FixMyStreet's attribute[…]).
SPEC_POST = {
    "jurisdiction_id": DISTRICT, "service_code": "0101", **INSIDE,
    "address_string": "1234 5th street", "email": "smit333@sfgov.edu", "device_id": "tt222111",
    "account_id": "123456", "first_name": "john", "last_name": "smith", "phone": "111111111",
    "description": "A large sinkhole is destroying the street", "media_url": "http://example.com/image.jpg",
    "attribute[WHISPAWN]": "123456", "attribute[WHISDORN]": "COTEDIVA",
}
# The keys of the spec's response examples.
SERVICE_KEYS = {"service_code", "service_name", "description", "metadata", "type", "keywords", "group"}
REQUEST_KEYS = {
    "service_request_id", "status", "status_notes", "service_name", "service_code", "description",
    "agency_responsible", "service_notice", "requested_datetime", "updated_datetime", "expected_datetime",
    "address", "address_id", "zipcode", "lat", "long", "media_url",
}
UPDATE_KEYS = {"update_id", "service_request_id", "status", "updated_datetime", "description", "media_url"}


@pytest.fixture
def api(client):
    return client


@pytest.fixture
def district(session):
    geo.import_regions(session, data=lattice_tree())
    make_units(session)
    town1 = make_user(session, role="dispatcher", scope=TOWN1)
    town2 = make_user(session, role="dispatcher", scope=TOWN2)
    keys = {"town1": key_of(bearer(session, town1)), "town2": key_of(bearer(session, town2)),
            "district": key_of(bearer(session, make_user(session, role="admin", scope=DISTRICT)))}
    session.commit()
    return {"keys": keys, "admin": system_actor(session)}


def key_of(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


def xml_of(response, root: str) -> ET.Element:
    assert response.headers["content-type"] in ("text/xml; charset=utf-8", "application/xml"), response.headers
    doc = ET.fromstring(response.content)
    assert doc.tag == root
    return doc


def xml_items(response, root: str, item: str) -> list[dict[str, str | None]]:
    doc = xml_of(response, root)
    assert all(child.tag == item for child in doc)
    return [{field.tag: field.text for field in child} for child in doc]


def json_of(response) -> list | dict:
    assert response.headers["content-type"] == "application/json", response.headers
    return response.json()


def assert_open311_error(response, status: int, fmt: str = "json") -> str:
    assert response.status_code == status, response.text
    if fmt == "json":
        body = json_of(response)
        assert isinstance(body, list) and len(body) == 1 and set(body[0]) == {"code", "description"}
        assert body[0]["code"] == status and body[0]["description"]
        return body[0]["description"]
    errors = xml_of(response, "errors")
    [error] = list(errors)
    assert error.tag == "error" and [c.tag for c in error] == ["code", "description"]
    assert error.findtext("code") == str(status) and error.findtext("description")
    return error.findtext("description")


def post(api, key: str | None, fmt: str = "json", **over):
    data = {**SPEC_POST, **({"api_key": key} if key else {}), **over}
    return api.post(f"{BASE}/requests.{fmt}", data={k: v for k, v in data.items() if v is not None})


def count_events(session) -> int:
    return session.scalar(select(func.count()).select_from(Event))


# -- discovery and services --------------------------------------------------------------------


def test_discovery_names_the_georeport_v2_endpoint_in_both_formats(api):
    body = json_of(api.get(f"{BASE}/discovery.json"))
    assert {"changeset", "contact", "key_service", "endpoints"} <= set(body)
    [endpoint] = body["endpoints"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"].endswith("/open311/v2") and endpoint["type"] == "production"
    assert endpoint["formats"] == ["text/xml", "application/json"]
    doc = xml_of(api.get(f"{BASE}/discovery.xml"), "discovery")
    assert [c.tag for c in doc] == ["changeset", "contact", "key_service", "endpoints"]
    [xml_endpoint] = doc.find("endpoints")
    assert xml_endpoint.tag == "endpoint"
    assert xml_endpoint.findtext("specification") == endpoint["specification"]
    assert [f.text for f in xml_endpoint.find("formats")] == ["text/xml", "application/json"]
    assert {f.tag for f in xml_endpoint.find("formats")} == {"format"}


def test_the_service_list_has_one_service_per_minor_category(api, district):
    cat = catalog()
    services = json_of(api.get(f"{BASE}/services.json", params={"jurisdiction_id": DISTRICT}))
    assert isinstance(services, list) and len(services) == len(cat.categories)
    assert all(set(s) == SERVICE_KEYS for s in services)
    first = services[0]
    c = cat.category(first["service_code"])
    assert first == {
        "service_code": c.code, "service_name": c.name, "description": c.accept_standard, "metadata": False,
        "type": "realtime", "keywords": ",".join(c.keywords), "group": cat.major(c.major).name,
    }
    xml_services = xml_items(api.get(f"{BASE}/services.xml"), "services", "service")
    assert [s["service_code"] for s in xml_services] == [s["service_code"] for s in services]
    assert xml_services[0]["metadata"] == "false" and xml_services[0]["group"] == first["group"]
    assert set(xml_services[0]) == SERVICE_KEYS


def test_a_service_definition_answers_its_code_and_an_unknown_code_is_404(api, district):
    assert json_of(api.get(f"{BASE}/services/0101.json")) == {"service_code": "0101", "attributes": []}
    doc = xml_of(api.get(f"{BASE}/services/0101.xml"), "service_definition")
    assert doc.findtext("service_code") == "0101" and list(doc.find("attributes")) == []
    assert_open311_error(api.get(f"{BASE}/services/9999.json"), 404)
    assert_open311_error(api.get(f"{BASE}/services/9999.xml"), 404, "xml")


def test_an_unknown_jurisdiction_or_format_is_a_404_in_open311_form(api, district):
    assert "jurisdiction_id" in assert_open311_error(
        api.get(f"{BASE}/services.json", params={"jurisdiction_id": "city.gov"}), 404)
    assert_open311_error(api.get(f"{BASE}/requests.xml", params={"jurisdiction_id": TOWN1}), 404, "xml")
    assert_open311_error(api.get(f"{BASE}/services.html"), 404)


# -- creating requests -------------------------------------------------------------------------


def test_posting_the_specs_example_creates_an_open311_event(api, session, district):
    r = post(api, district["keys"]["town1"])
    assert r.status_code == 200, r.text
    [created] = json_of(r)
    assert set(created) == {"service_request_id", "service_notice", "account_id"}
    assert created["account_id"] is None and created["service_request_id"] in created["service_notice"]
    session.expire_all()
    event = session.scalar(select(Event).where(Event.code == created["service_request_id"]))
    assert (event.channel, event.category_code, event.status) == ("open311", "0101", "reported")
    assert (event.lon, event.lat, event.address) == (121.31, 29.81, "1234 5th street")
    assert event.region_code.startswith(TOWN1)
    assert event.reporter_name == "john smith"
    assert decrypt_text(event.reporter_phone_encrypted) == "111111111"
    # The media URL is kept as a note in the text, and given back as media_url.
    assert event.text == "A large sinkhole is destroying the street\n附图链接：http://example.com/image.jpg"
    [shown] = json_of(api.get(f"{BASE}/requests/{event.code}.json"))
    assert shown["description"] == SPEC_POST["description"]
    assert shown["media_url"] == "http://example.com/image.jpg"


def test_posting_in_xml_answers_the_specs_service_requests_document(api, district):
    r = post(api, district["keys"]["town1"], "xml", media_url=None)
    assert r.status_code == 200, r.text
    [created] = xml_items(r, "service_requests", "request")
    assert list(created) == ["service_request_id", "service_notice", "account_id"]
    assert created["service_request_id"].startswith("HS-") and created["account_id"] is None


def test_a_chinese_name_is_kept_family_name_first(api, session, district):
    r = post(api, district["keys"]["town1"], first_name="小明", last_name="王", description="小区门口垃圾堆了三天")
    session.expire_all()
    event = session.scalar(select(Event).where(Event.code == r.json()[0]["service_request_id"]))
    assert event.reporter_name == "王小明"


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_post_without_or_with_a_wrong_api_key_is_403_and_writes_nothing(api, session, district, fmt):
    before = count_events(session)
    assert "api_key" in assert_open311_error(post(api, None, fmt), 403, fmt)
    assert_open311_error(post(api, "sz_not-a-real-token", fmt), 403, fmt)
    assert_open311_error(post(api, "", fmt), 403, fmt)
    session.expire_all()
    assert count_events(session) == before
    # The wrong key is on the audit trail even though its request wrote nothing else.
    denied = session.scalars(select(AuditEntry).where(AuditEntry.action == "auth.token")).all()
    assert [a.outcome for a in denied] == ["denied"]


@pytest.mark.parametrize(("fields", "fmt"), [
    ({"service_code": "9999"}, "json"),
    ({"service_code": None}, "xml"),
    ({"lat": "31.23", "long": "121.47"}, "json"),  # Shanghai: outside the district
    ({"description": None}, "xml"),
    ({"description": "   "}, "json"),
    ({"long": None}, "json"),
    ({"lat": "north"}, "xml"),
    ({"media_url": "javascript:alert(1)"}, "json"),
])
def test_bad_input_is_a_400_in_open311_form_and_writes_nothing(api, session, district, fields, fmt):
    before = count_events(session)
    assert_open311_error(post(api, district["keys"]["town1"], fmt, **fields), 400, fmt)
    session.expire_all()
    assert count_events(session) == before


def test_a_point_outside_the_named_jurisdiction_is_a_400_and_is_rolled_back(api, session, district):
    # A second district beside the first: the point lies in 330203, the request names 330204.
    geo.import_regions(session, data={"type": "FeatureCollection", "features": [
        feature("district", "330204", "邻区", box(121.60, 29.80, 121.70, 29.90))]})
    session.commit()
    before = count_events(session)
    assert "330204" in assert_open311_error(post(api, district["keys"]["town1"], jurisdiction_id="330204"), 400)
    session.expire_all()
    assert count_events(session) == before
    assert post(api, district["keys"]["town1"], jurisdiction_id=DISTRICT).status_code == 200


def test_a_key_may_report_only_inside_its_own_reach(api, session, district):
    before = count_events(session)
    assert_open311_error(post(api, district["keys"]["town1"], **IN_TOWN2), 403)
    assert post(api, district["keys"]["town2"], **IN_TOWN2).status_code == 200
    session.expire_all()
    assert count_events(session) == before + 1


def test_an_address_only_request_is_placed_at_the_keys_region(api, session, district):
    r = post(api, district["keys"]["town2"], lat=None, long=None, address_string="第2镇中心路88号")
    assert r.status_code == 200, r.text
    session.expire_all()
    event = session.scalar(select(Event).where(Event.code == r.json()[0]["service_request_id"]))
    assert (event.region_code, event.lon, event.address) == (TOWN2, None, "第2镇中心路88号")
    assert_open311_error(post(api, district["keys"]["town2"], lat=None, long=None, address_string=None), 400)


# -- reading requests --------------------------------------------------------------------------


def test_the_public_list_has_the_specs_fields_and_no_personal_data(api, district):
    code = post(api, district["keys"]["town1"]).json()[0]["service_request_id"]
    requests = json_of(api.get(f"{BASE}/requests.json", params={"jurisdiction_id": DISTRICT}))
    [mine] = [r for r in requests if r["service_request_id"] == code]
    assert set(mine) == REQUEST_KEYS
    assert mine["status"] == "open" and mine["service_code"] == "0101"
    assert mine["service_name"] == catalog().category("0101").name
    assert (mine["lat"], mine["long"], mine["address"]) == (29.81, 121.31, "1234 5th street")
    assert mine["requested_datetime"].endswith("+08:00")
    [xml_mine] = [r for r in xml_items(api.get(f"{BASE}/requests.xml"), "service_requests", "request")
                  if r["service_request_id"] == code]
    assert set(xml_mine) == REQUEST_KEYS
    assert xml_mine["lat"] == "29.81" and xml_mine["zipcode"] is None
    for response in (api.get(f"{BASE}/requests.json"), api.get(f"{BASE}/requests.xml")):
        for secret in ("john", "smith", "111111111", "smit333", "tt222111", "123456"):
            assert secret not in response.text


def test_xml_answers_escape_what_residents_type(api, district):
    text = "垃圾桶旁有人写了 <b>标语</b> & \"涂鸦\""
    code = post(api, district["keys"]["town1"], description=text, media_url=None).json()[0]["service_request_id"]
    [shown] = xml_items(api.get(f"{BASE}/requests/{code}.xml"), "service_requests", "request")
    assert shown["description"] == text


def test_a_range_longer_than_90_days_is_refused_and_the_default_is_the_last_90_days(api, session, district):
    old = make_event(session, actor=district["admin"]).event
    old.created_at = utcnow() - timedelta(days=120)
    new = make_event(session, actor=district["admin"]).event
    session.commit()
    codes = [r["service_request_id"] for r in json_of(api.get(f"{BASE}/requests.json"))]
    assert new.code in codes and old.code not in codes
    then = (utcnow() - timedelta(days=125)).date().isoformat()
    later = (utcnow() - timedelta(days=100)).date().isoformat()
    found = api.get(f"{BASE}/requests.json", params={"start_date": then, "end_date": later}).json()
    assert [r["service_request_id"] for r in found] == [old.code]
    too_long = {"start_date": "2026-01-01T00:00:00+08:00", "end_date": "2026-04-02T00:00:00+08:00"}
    assert "90" in assert_open311_error(api.get(f"{BASE}/requests.json", params=too_long), 400)
    assert_open311_error(api.get(f"{BASE}/requests.xml", params=too_long), 400, "xml")
    backwards = {"start_date": "2026-04-02T00:00:00Z", "end_date": "2026-01-01T00:00:00Z"}
    assert_open311_error(api.get(f"{BASE}/requests.json", params=backwards), 400)
    assert_open311_error(api.get(f"{BASE}/requests.json", params={"start_date": "last tuesday"}), 400)
    # Asking by id overrides every other argument, dates included.
    by_id = api.get(f"{BASE}/requests.json", params={"service_request_id": old.code}).json()
    assert [r["service_request_id"] for r in by_id] == [old.code]


def test_the_status_filter_splits_open_from_closed(api, session, district):
    admin = district["admin"]
    open_one = make_event(session, actor=admin).event.code
    closed = make_event(session, actor=admin).event.code
    rejected = make_event(session, actor=admin).event.code
    service.transition(session, actor=admin, code=closed, name="on_the_spot", result="已当场清理")
    service.transition(session, actor=admin, code=rejected, name="reject", reason="不属于本平台受理范围")
    session.commit()

    def listed(status: str | None, fmt: str = "json") -> dict[str, str]:
        r = api.get(f"{BASE}/requests.{fmt}", params={"status": status} if status else {})
        items = r.json() if fmt == "json" else xml_items(r, "service_requests", "request")
        return {i["service_request_id"]: i["status"] for i in items}

    assert listed(None) == {open_one: "open", closed: "closed", rejected: "closed"}
    assert listed("open") == {open_one: "open"}
    assert listed("closed", "xml") == {closed: "closed", rejected: "closed"}
    assert listed("open,closed") == listed(None)
    assert_open311_error(api.get(f"{BASE}/requests.json", params={"status": "pending"}), 400)
    [notes] = api.get(f"{BASE}/requests/{rejected}.json").json()
    assert notes["status_notes"] == "不属于本平台受理范围"


def test_service_request_id_and_service_code_filters_take_comma_lists(api, session, district):
    admin = district["admin"]
    a = make_event(session, actor=admin, category="0101").event.code
    b = make_event(session, actor=admin, category="0102").event.code
    c = make_event(session, actor=admin, category="0101").event.code
    session.commit()
    by_ids = api.get(f"{BASE}/requests.json", params={"service_request_id": f"{a},{b}"}).json()
    assert {r["service_request_id"] for r in by_ids} == {a, b}
    by_code = api.get(f"{BASE}/requests.json", params={"service_code": "0102"}).json()
    assert [r["service_request_id"] for r in by_code] == [b]
    both = api.get(f"{BASE}/requests.json", params={"service_code": "0101,0102"}).json()
    assert {r["service_request_id"] for r in both} == {a, b, c}
    assert_open311_error(api.get(f"{BASE}/requests/CSQ-NOPE-1.json"), 404)
    assert_open311_error(api.get(f"{BASE}/requests/CSQ-NOPE-1.xml"), 404, "xml")


def test_an_api_key_narrows_the_list_to_its_reach(api, session, district):
    town1_event = post(api, district["keys"]["town1"]).json()[0]["service_request_id"]
    town2_event = post(api, district["keys"]["town2"], **IN_TOWN2).json()[0]["service_request_id"]

    def codes(key: str | None) -> set[str]:
        r = api.get(f"{BASE}/requests.json", params={"api_key": key} if key else {})
        return {i["service_request_id"] for i in r.json()}

    assert codes(None) == codes(district["keys"]["district"]) == {town1_event, town2_event}
    assert codes(district["keys"]["town1"]) == {town1_event}
    assert codes(district["keys"]["town2"]) == {town2_event}
    assert_open311_error(api.get(f"{BASE}/requests/{town2_event}.json",
                                 params={"api_key": district["keys"]["town1"]}), 404)
    assert_open311_error(api.get(f"{BASE}/requests.xml", params={"api_key": "sz_wrong"}), 403, "xml")


def test_the_token_lookup_answers_the_request_id(api, district):
    code = post(api, district["keys"]["town1"]).json()[0]["service_request_id"]
    assert json_of(api.get(f"{BASE}/tokens/{code}.json")) == [{"service_request_id": code, "token": code}]
    [found] = xml_items(api.get(f"{BASE}/tokens/{code}.xml"), "service_requests", "request")
    assert found == {"service_request_id": code, "token": code}
    assert_open311_error(api.get(f"{BASE}/tokens/unknown.json"), 404)


# -- FixMyStreet -------------------------------------------------------------------------------


def test_a_fixmystreet_round_trip_returns_the_dispatchers_steps_as_updates(api, session, district):
    started = utcnow() - timedelta(minutes=1)
    # FixMyStreet's Open311 sender: lat/long, its extended description, attribute[…] extras.
    r = post(api, district["keys"]["town1"], "xml", **{
        "description": "title: 路边垃圾\n\ndetail: 垃圾成堆没人清理\n\nurl: http://fms.example/report/1001\n\n"
                       "Submitted via FixMyStreet\n",
        "attribute[easting]": "100", "attribute[northing]": "100", "attribute[fixmystreet_id]": "1001",
        "attribute[title]": "路边垃圾", "attribute[report_url]": "http://fms.example/report/1001",
        "address_string": None, "media_url": None, "email": "fred@example.com",
    })
    assert r.status_code == 200, r.text
    code = xml_items(r, "service_requests", "request")[0]["service_request_id"]
    admin = district["admin"]
    steps = [("accept", {}), ("dispatch", {}), ("start", {}), ("resolve", {"result": "垃圾已清运，现场已清扫"}),
             ("verify", {}), ("close", {})]
    for name, inputs in steps:
        service.transition(session, actor=admin, code=code, name=name, **inputs)
    session.commit()

    window = {"start_date": started.isoformat(), "end_date": (utcnow() + timedelta(minutes=1)).isoformat(),
              "api_key": district["keys"]["town1"], "jurisdiction_id": DISTRICT}
    updates = xml_items(api.get(f"{BASE}/servicerequestupdates.xml", params=window),
                        "service_request_updates", "request_update")
    assert {u["service_request_id"] for u in updates} == {code}
    assert [u["status"] for u in updates] == ["OPEN", "ACTION_SCHEDULED", "IN_PROGRESS", "FIXED", "FIXED", "CLOSED"]
    assert all(UPDATE_KEYS <= set(u) for u in updates)
    assert updates[3]["description"] == "垃圾已清运，现场已清扫"
    assert updates[0]["description"] == "受理" and updates[1]["description"] == "派遣"
    assert [int(u["update_id"]) for u in updates] == sorted(int(u["update_id"]) for u in updates)
    as_json = json_of(api.get(f"{BASE}/servicerequestupdates.json", params=window))
    assert [u["update_id"] for u in as_json] == [u["update_id"] for u in updates]
    assert as_json[-1]["status"] == "CLOSED" and as_json[-1]["updated_datetime"].endswith("+08:00")
    # The request itself now reads closed, its notes the handler's result, its agency the unit.
    [shown] = api.get(f"{BASE}/requests/{code}.json").json()
    assert shown["status"] == "closed" and shown["status_notes"] == "垃圾已清运，现场已清扫"
    assert shown["agency_responsible"] and shown["expected_datetime"]
    # Another town's key sees none of it; the 90-day rule holds here too.
    other = api.get(f"{BASE}/servicerequestupdates.json", params={**window, "api_key": district["keys"]["town2"]})
    assert other.json() == []
    too_long = {"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-06-01T00:00:00Z"}
    assert_open311_error(api.get(f"{BASE}/servicerequestupdates.xml", params=too_long), 400, "xml")


@pytest.mark.parametrize(("status", "expected"), [
    ("merge", "DUPLICATE"), ("reject", "NOT_COUNCILS_RESPONSIBILITY"),
])
def test_merged_and_rejected_requests_map_to_fixmystreets_statuses(api, session, district, status, expected):
    admin = district["admin"]
    code = make_event(session, actor=admin).event.code
    if status == "merge":
        into = make_event(session, actor=admin, text="同一处垃圾，又有人反映").event.code
        service.transition(session, actor=admin, code=code, name="merge", into=into)
    else:
        service.transition(session, actor=admin, code=code, name="reject", reason="不属于本平台受理范围")
    session.commit()
    updates = api.get(f"{BASE}/servicerequestupdates.json").json()
    assert [(u["service_request_id"], u["status"]) for u in updates] == [(code, expected)]


def test_the_public_list_leaves_out_disputes_security_and_population_reports(api, session, district):
    from builders import make_event

    make_event(session, category="0701", text="两户人家为宅基地围墙争吵不休")
    make_event(session, category="0803", text="有人冒充客服打电话让老人转账")
    visible = make_event(session, category="0101", text="村口垃圾堆了三天没人清运")
    session.commit()
    public = api.get("/open311/v2/requests.json").json()
    assert [r["service_request_id"] for r in public] == [visible.event.code]
    keyed = api.get("/open311/v2/requests.json", params={"api_key": district["keys"]["district"]}).json()
    assert len(keyed) == 3  # a key with the right reach sees them all
