"""Open311 on the wire: formats, the error form, documents rendered as JSON or XML, and the
query parameters every endpoint shares (jurisdiction, key, time window)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from shanzhi.accounts import tokens
from shanzhi.accounts.authz import Actor
from shanzhi.audit import service as audit
from shanzhi.db import as_utc, utcnow
from shanzhi.errors import ShanzhiError
from shanzhi.geo.models import Region

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = "2026-11-01T00:00:00+08:00"  # bump when this endpoint's behaviour changes
FORMATS = {"json": "application/json", "xml": "text/xml"}
SHANGHAI = ZoneInfo("Asia/Shanghai")
MAX_WINDOW = timedelta(days=90)  # the spec's limit on a start_date–end_date range, and the default


class Open311Error(Exception):
    """An answer in the Open311 error form: the HTTP status is also the error's code."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


@dataclass(frozen=True)
class Doc:
    """An answer: a top-level JSON array (or object) and its XML root with one element per item."""

    root: str
    body: list[dict[str, Any]] | dict[str, Any]
    item: str | None = None
    status: int = 200


# -- rendering ---------------------------------------------------------------------------------

# XML names of the items of a list field (the JSON keeps the list).
_LIST_ITEMS = {"endpoints": "endpoint", "formats": "format", "attributes": "attribute", "values": "value"}


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _fill(element: ET.Element, fields: dict[str, Any]) -> None:
    for key, value in fields.items():
        child = ET.SubElement(element, key)
        if isinstance(value, dict):
            _fill(child, value)
        elif isinstance(value, list):
            for item in value:
                sub = ET.SubElement(child, _LIST_ITEMS.get(key, "item"))
                if isinstance(item, dict):
                    _fill(sub, item)
                else:
                    sub.text = _text(item)
        else:
            child.text = _text(value)


def render(doc: Doc, fmt: str) -> Response:
    if fmt == "json":
        content = json.dumps(doc.body, ensure_ascii=False).encode()
        return Response(content, status_code=doc.status, media_type=FORMATS["json"])
    root = ET.Element(doc.root)
    if isinstance(doc.body, dict):
        _fill(root, doc.body)
    else:
        for item in doc.body:
            _fill(ET.SubElement(root, doc.item or "item"), item)
    # ElementTree escapes text; Starlette adds "; charset=utf-8" to the text/xml type.
    content = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return Response(content, status_code=doc.status, media_type=FORMATS["xml"])


def error_doc(status: int, description: str) -> Doc:
    return Doc("errors", [{"code": status, "description": description}], item="error", status=status)


def _status_of(exc: ShanzhiError) -> int:
    # Open311 knows 400 (bad input), 403 (api_key) and 404; keep others (409, 429) as they are.
    return {422: 400, 401: 403}.get(exc.status_code, exc.status_code)


def answer(session: Session, fmt: str, work: Callable[[], Doc]) -> Response:
    """Run `work` and render its answer; any error is an Open311 error and writes nothing."""
    if fmt not in FORMATS:
        return render(error_doc(404, f"unknown format {fmt!r}: use .json or .xml"), "json")
    try:
        return render(work(), fmt)
    except Open311Error as exc:
        session.rollback()  # audit rows queued with record_durably are still written after it
        return render(error_doc(exc.status, exc.description), fmt)
    except ShanzhiError as exc:
        session.rollback()
        return render(error_doc(_status_of(exc), str(exc)), fmt)


# -- parameters --------------------------------------------------------------------------------


def jurisdiction(session: Session, jurisdiction_id: str | None) -> str | None:
    """The district code a request names (None: every district this server holds)."""
    if not jurisdiction_id:
        return None
    code = session.scalar(select(Region.code).where(Region.code == jurisdiction_id.strip(),
                                                    Region.level == "district"))
    if code is None:
        raise Open311Error(404, f"未知的 jurisdiction_id：{jurisdiction_id} (unknown jurisdiction_id)")
    return code


def key_actor(session: Session, api_key: str | None, *, required: bool, path: str) -> Actor | None:
    """The actor an api_key stands for; 403 when it is missing (and required) or not valid."""
    if not api_key or not api_key.strip():
        if required:
            raise Open311Error(403, "缺少 api_key (api_key is required)")
        return None
    actor = tokens.actor_for_token(session, raw=api_key.strip())
    if actor is None:
        audit.record_durably(session, action="auth.token", outcome="denied",
                             detail={"reason": "invalid_token", "path": path})
        raise Open311Error(403, "api_key 无效、已过期或已撤销 (invalid, expired or revoked api_key)")
    return actor


def reader(session: Session, request: Request, api_key: str | None,
           jurisdiction_id: str | None) -> tuple[Actor | None, str | None]:
    """Who reads (None: the public) and in which district."""
    actor = key_actor(session, api_key, required=False, path=request.url.path)
    return actor, jurisdiction(session, jurisdiction_id)


def _when(value: str, name: str) -> datetime:
    raw = value.strip()
    if "T" in raw:
        raw = raw.replace(" ", "+")  # an unencoded "+08:00" arrives as " 08:00"
    try:
        at = datetime.fromisoformat(raw)
    except ValueError:
        raise Open311Error(400, f"{name} 应为 ISO 8601 时间 ({name} must be an ISO 8601 datetime)") from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=SHANGHAI)  # local time of the jurisdiction
    return at.astimezone(UTC)


def window(start_date: str | None, end_date: str | None) -> tuple[datetime, datetime]:
    """The spec's date range: at most 90 days; without dates, the last 90 days."""
    start = _when(start_date, "start_date") if start_date else None
    end = _when(end_date, "end_date") if end_date else None
    if start is None:
        end = end or utcnow()
        start = end - MAX_WINDOW
    elif end is None:
        end = start + MAX_WINDOW
    if start > end:
        raise Open311Error(400, "start_date 晚于 end_date (start_date is after end_date)")
    if end - start > MAX_WINDOW:
        raise Open311Error(400, "日期范围不能超过 90 天 (the date range may not span more than 90 days)")
    return start, end


def comma_list(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def iso(at: datetime | None) -> str | None:
    return as_utc(at).astimezone(SHANGHAI).isoformat(timespec="seconds") if at else None


