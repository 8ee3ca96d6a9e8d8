"""A quiet challenge for the public forms, against scripted floods.

The form carries a signed issue time; a submission must come at least a few seconds after the
form was served (people read and type, scripts post at once) and before the form grows stale.
A honeypot field, hidden from people, catches bots that fill in every input. Nothing here asks
a resident to solve anything; the per-address limits (web/throttle.py) bound the rest.
"""

from __future__ import annotations

import time

from shanzhi.accounts.crypto import new_secret, sign, unsign
from shanzhi.errors import InvalidInput

FIELD = "challenge"
HONEYPOT = "website"
MIN_SECONDS = 2.0
MAX_SECONDS = 2 * 3600
_PURPOSE = "public-form"


def issue(now: float | None = None) -> str:
    """A token for a freshly served form (`now`: when it was served, seconds since the epoch)."""
    served = time.time() if now is None else now
    # The nonce makes every token distinct, so two forms never share one.
    return sign(f"{served:.3f}:{new_secret(6)}", _PURPOSE)


def verify(token: str | None, honeypot: str | None, now: float | None = None) -> None:
    """Raise InvalidInput (422) with a message a person can act on, or return quietly."""
    now = time.time() if now is None else now
    if honeypot:
        raise InvalidInput("The form was not filled in by a person", "提交未通过校验，请刷新页面后重新填写",
                           code="challenge_failed")
    value = unsign(token, _PURPOSE, MAX_SECONDS)
    try:
        served = float((value or "").split(":", 1)[0])
    except ValueError:
        served = None
    if served is None or served > now + 60:
        raise InvalidInput("The form is missing its challenge or has expired",
                           "页面已过期，请刷新页面后重新填写", code="challenge_expired")
    if now - served < MIN_SECONDS:
        raise InvalidInput("Submitted too quickly after the form was served",
                           "提交过快，请核对内容后再提交一次", code="challenge_too_fast")
