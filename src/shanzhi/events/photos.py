"""Event photos: real images only, size-limited, re-encoded (which drops EXIF: a phone photo
carries the reporter's GPS track and device), with a thumbnail for lists and maps."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy import func, select
from sqlalchemy.orm import Session, defer

from shanzhi.accounts.authz import Actor, authorize
from shanzhi.errors import Conflict, InvalidInput, NotFound, PayloadTooLarge
from shanzhi.events.codes import secret_hash
from shanzhi.events.models import Event, EventPhoto
from shanzhi.events.service import get_event, record_step, target

MAX_BYTES = 10 * 1024 * 1024
MAX_PHOTOS = 9
MAX_SIDE = 2560
THUMB_SIDE = 320
FORMATS = {"JPEG", "PNG", "WEBP"}
# Who may attach which kind: the report's own photos, or the handler's result photos.
KIND_ACTION = {"report": "event.report", "result": "event.handle"}
Image.MAX_IMAGE_PIXELS = 60_000_000  # refuse decompression bombs early


def _encode(image: Image.Image, side: int) -> bytes:
    copy = image.copy()
    copy.thumbnail((side, side))
    out = io.BytesIO()
    copy.save(out, "JPEG", quality=85, optimize=True)  # no exif= argument: nothing carried over
    return out.getvalue()


def add_photo(session: Session, *, actor: Actor, code: str, data: bytes, kind: str = "report") -> EventPhoto:
    event = session.scalar(select(Event).where(Event.code == code))
    if event is None:
        raise NotFound(f"Event {code} not found", f"事件 {code} 不存在或不在您的管辖范围内", code="not_found")
    if kind not in KIND_ACTION:
        raise InvalidInput("kind must be report or result", "照片类型应为 report 或 result", code="invalid_kind")
    authorize(session, actor, KIND_ACTION[kind], target(event))
    return _attach(session, event, actor, data, kind)


def add_reporter_photo(session: Session, *, code: str, secret: str, data: bytes) -> EventPhoto:
    """An anonymous resident's photo for the report they just made: the tracking secret, shown
    only to them, is their proof; only while the report still waits to be accepted."""
    event = session.scalar(select(Event).where(Event.code == code))
    if event is None or event.tracking_hash != secret_hash(code, secret or ""):
        raise NotFound("No event with that code and secret", "事件编号或查询码不正确", code="not_found")
    if event.status != "reported":
        raise Conflict("Photos can be added only before the report is accepted", "事件受理后不能再补充照片",
                       code="not_reported")
    return _attach(session, event, None, data, "report")


@dataclass(frozen=True)
class CleanImage:
    """A photo as stored: re-encoded as JPEG without EXIF, plus its thumbnail."""

    content: bytes
    thumbnail: bytes
    width: int
    height: int
    sha256: str


def clean_image(data: bytes) -> CleanImage:
    """Check that `data` is a real JPEG, PNG or WebP within the size limit, then re-encode it:
    the orientation is kept, everything else the camera wrote (GPS, device) is dropped."""
    if len(data) > MAX_BYTES:
        raise PayloadTooLarge(f"A photo may be at most {MAX_BYTES // 2**20} MB",
                              f"照片不能超过 {MAX_BYTES // 2**20} MB")
    try:
        probe = Image.open(io.BytesIO(data))
        probe.verify()  # checks the file's structure without decoding it
        image = Image.open(io.BytesIO(data))
        if image.format not in FORMATS:
            raise UnidentifiedImageError(image.format)
        image = ImageOps.exif_transpose(image).convert("RGB")  # keep the orientation, then drop EXIF
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError, SyntaxError):
        raise InvalidInput("Not a JPEG, PNG or WebP image", "不是有效的图片（支持 JPEG、PNG、WebP）",
                           code="invalid_image") from None
    content = _encode(image, MAX_SIDE)
    stored = Image.open(io.BytesIO(content))
    return CleanImage(content=content, thumbnail=_encode(image, THUMB_SIDE), width=stored.width,
                      height=stored.height, sha256=hashlib.sha256(content).hexdigest())


def _attach(session: Session, event: Event, actor: Actor | None, data: bytes, kind: str) -> EventPhoto:
    count = session.scalar(select(func.count()).where(EventPhoto.event_id == event.id)) or 0
    if count >= MAX_PHOTOS:
        raise Conflict(f"At most {MAX_PHOTOS} photos per event", f"每个事件最多 {MAX_PHOTOS} 张照片",
                       code="too_many_photos")
    image = clean_image(data)
    photo = EventPhoto(
        event_id=event.id, kind=kind, mime="image/jpeg", sha256=image.sha256, width=image.width,
        height=image.height, content=image.content, thumbnail=image.thumbnail,
    )
    session.add(photo)
    session.flush()
    record_step(session, event, actor=actor, action="photo", before=event.status, data={"photo_id": photo.id, "kind": kind})
    return photo


def get_photo(session: Session, *, actor: Actor, code: str, photo_id: int) -> EventPhoto:
    event = session.scalar(select(Event).where(Event.code == code))
    photo = session.get(EventPhoto, photo_id)
    if event is None or photo is None or photo.event_id != event.id:
        raise NotFound("Photo not found", "照片不存在", code="not_found")
    authorize(session, actor, "event.read", target(event))
    return photo


def list_photos(session: Session, *, actor: Actor, code: str) -> list[EventPhoto]:
    """The event's photos in upload order, without their image bytes (fetched one by one by URL)."""
    event = get_event(session, actor=actor, code=code)
    stmt = (select(EventPhoto).where(EventPhoto.event_id == event.id)
            .options(defer(EventPhoto.content, raiseload=True), defer(EventPhoto.thumbnail, raiseload=True))
            .order_by(EventPhoto.id))
    return list(session.scalars(stmt))
