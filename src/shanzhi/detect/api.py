"""Detection endpoints: likely duplicates of an event."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from shanzhi.accounts.deps import ApiActor
from shanzhi.detect import duplicates
from shanzhi.http import DbSession

router = APIRouter(prefix="/api/v1", tags=["detect"])


@router.get("/events/{code}/duplicates", summary="疑似重复事件 Likely duplicates of an event")
def event_duplicates(
    session: DbSession, actor: ApiActor, code: str, limit: Annotated[int, Query(ge=1, le=50)] = 5,
) -> dict[str, Any]:
    found = duplicates.duplicates_of(session, actor=actor, code=code, limit=limit)
    return {"items": [c.as_dict() for c in found], "total": len(found)}
