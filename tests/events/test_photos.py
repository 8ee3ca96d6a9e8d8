"""Photos: only real images, EXIF (GPS, device) stripped, orientation kept, size and count limits."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from sqlalchemy import func, select

from builders import bearer, lattice_tree, make_units, make_user
from shanzhi.events.models import EventPhoto
from shanzhi.geo import service as geo

REPORT = {"text": "村口垃圾桶满了，垃圾堆到路上", "category": "0101", "lon": 121.31, "lat": 29.81, "channel": "grid_worker"}


def jpeg(width: int = 800, height: int = 600, orientation: int | None = None, gps: bool = True) -> bytes:
    image = Image.new("RGB", (width, height), (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    if orientation:
        exif[0x0112] = orientation
    if gps:
        exif[0x8825] = {1: "N", 2: (29.0, 48.0, 36.0), 3: "E", 4: (121.0, 18.0, 36.0)}
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


@pytest.fixture
def setup(session, client):
    geo.import_regions(session, data=lattice_tree())
    make_units(session)
    worker = bearer(session, make_user(session, username="qianxiao", role="grid_worker", scope="330203101201"))
    dispatcher = bearer(session, make_user(session, username="wangfang", role="dispatcher", scope="330203101"))
    session.commit()
    code = client.post("/api/v1/events", json=REPORT, headers=worker).json()["code"]
    return {"worker": worker, "dispatcher": dispatcher, "code": code}


def upload(client, setup, data: bytes, *, kind: str = "report", who: str = "worker", name: str = "p.jpg"):
    return client.post(f"/api/v1/events/{setup['code']}/photos", headers=setup[who],
                       files={"file": (name, data, "image/jpeg")}, data={"kind": kind})


def test_a_phone_photo_is_stored_without_its_exif_and_upright(client, session, setup):
    assert b"PhoneMaker" in jpeg(orientation=6)
    r = upload(client, setup, jpeg(orientation=6))  # rotated 90°: stored upright, 600 × 800
    assert r.status_code == 201, r.text
    assert (r.json()["width"], r.json()["height"]) == (600, 800)
    stored = client.get(r.json()["url"], headers=setup["worker"])
    assert stored.headers["content-type"] == "image/jpeg"
    image = Image.open(io.BytesIO(stored.content))
    assert not image.getexif() and b"PhoneMaker" not in stored.content
    thumb = Image.open(io.BytesIO(client.get(r.json()["url"], params={"thumb": True}, headers=setup["worker"]).content))
    assert max(thumb.size) == 320


def test_a_png_is_accepted_and_re_encoded(client, setup):
    out = io.BytesIO()
    Image.new("RGBA", (400, 300), (0, 0, 255, 128)).save(out, "PNG")
    assert upload(client, setup, out.getvalue(), name="p.png").status_code == 201


@pytest.mark.parametrize(
    ("data", "status", "code"),
    [
        (b"%PDF-1.4 not an image at all", 422, "invalid_image"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 100, 422, "invalid_image"),  # a JPEG header and nothing else
        (b"GIF89a" + b"\x00" * 50, 422, "invalid_image"),
    ],
)
def test_things_that_are_not_supported_images_are_refused(client, session, setup, data, status, code):
    r = upload(client, setup, data)
    assert r.status_code == status and r.json()["error"]["code"] == code
    assert session.scalar(select(func.count()).select_from(EventPhoto)) == 0


def test_an_oversize_upload_is_refused_with_413(client, session, setup):
    r = upload(client, setup, b"\xff" * (10 * 1024 * 1024 + 10))
    assert r.status_code == 413 and r.json()["error"]["message_zh"].startswith("照片不能超过")


def test_at_most_nine_photos_per_event(client, setup):
    small = jpeg(64, 48, gps=False)
    for _ in range(9):
        assert upload(client, setup, small).status_code == 201
    assert upload(client, setup, small).status_code == 409


def test_result_photos_need_the_right_to_handle(client, setup):
    assert upload(client, setup, jpeg(64, 48), kind="result").status_code == 201  # the grid worker handles
    assert upload(client, setup, jpeg(64, 48), kind="result", who="dispatcher").status_code == 403  # dispatches, does not handle
    assert upload(client, setup, jpeg(64, 48), kind="selfie").status_code == 422


def test_an_anonymous_reporter_adds_a_photo_with_the_secret_and_only_before_acceptance(session, setup):
    from builders import actor_of, make_event

    from shanzhi.errors import Conflict, NotFound
    from shanzhi.events import photos, service

    done = make_event(session)  # anonymous resident
    with pytest.raises(NotFound):
        photos.add_reporter_photo(session, code=done.event.code, secret="wrong1", data=jpeg())
    photo = photos.add_reporter_photo(session, code=done.event.code, secret=done.secret, data=jpeg())
    assert photo.kind == "report" and photo.event_id == done.event.id
    admin = actor_of(session, make_user(session, username="boss", role="admin", scope="330203"))
    service.transition(session, actor=admin, code=done.event.code, name="accept")
    with pytest.raises(Conflict):
        photos.add_reporter_photo(session, code=done.event.code, secret=done.secret, data=jpeg())
