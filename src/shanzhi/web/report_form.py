"""What the two report forms share: the category choices, the typed point, the photo, the time
shown on a phone. The grid workers' form lives in web/mobile_pages.py, the residents' in
web/public_pages.py."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from fastapi import UploadFile
from fastapi.responses import HTMLResponse

from shanzhi.db import SHANGHAI, as_utc
from shanzhi.errors import InvalidInput
from shanzhi.events import photos
from shanzhi.events.catalog import catalog

# The coordinate systems a phone's position may come in: the browser's GPS (WGS84), or a
# position copied from a Chinese map app (GCJ-02); intake converts the latter.
CRS_CHOICES = (("wgs84", "GPS 原始坐标（WGS84）"), ("gcj02", "高德 / 微信 / 腾讯地图坐标（GCJ-02）"))


def category_groups() -> list[dict[str, Any]]:
    """The catalog's categories under their major headings, for a <select> with <optgroup>s."""
    cat = catalog()
    return [{"label": m.name, "options": [{"code": c.code, "name": c.name} for c in cat.categories_of(m.code)]}
            for m in cat.majors()]


def parse_point(lon: str, lat: str, crs: str) -> tuple[float | None, float | None, str]:
    """The typed (or GPS-filled) point; empty fields mean "no point"."""
    if not lon.strip() and not lat.strip():
        return None, None, "wgs84"
    try:
        x, y = float(lon), float(lat)
    except ValueError:
        raise InvalidInput("Longitude and latitude must be numbers", "经纬度应为数字，请重新定位",
                           code="invalid_coordinates") from None
    if not (math.isfinite(x) and math.isfinite(y)):
        raise InvalidInput("Longitude and latitude must be numbers", "经纬度应为数字，请重新定位",
                           code="invalid_coordinates")
    return x, y, crs  # ranges and the coordinate system are intake's to check


def read_photo(upload: UploadFile | None) -> bytes | None:
    """The chosen photo's bytes, or None when the field was left empty. Reads one byte past the
    limit so the photo service refuses an oversized file without this buffering all of it."""
    if upload is None or not upload.filename:
        return None
    data = upload.file.read(photos.MAX_BYTES + 1)
    return data or None


def no_store(response: HTMLResponse) -> HTMLResponse:
    """A page showing a tracking secret (both forms, once reported) stays out of every cache."""
    response.headers["Cache-Control"] = "no-store"
    return response


def short_time(at: datetime | str | None) -> str:
    """A time as a phone shows it: month-day hour:minute in Asia/Shanghai."""
    if at is None:
        return ""
    moment = as_utc(datetime.fromisoformat(at) if isinstance(at, str) else at)
    assert moment is not None
    return moment.astimezone(SHANGHAI).strftime("%m-%d %H:%M")
