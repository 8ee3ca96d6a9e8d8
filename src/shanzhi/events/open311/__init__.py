"""Open311 GeoReport v2 at /open311/v2/, so existing Open311 clients and FixMyStreet work unchanged.

Every endpoint answers in the format its suffix names (`.json` or `.xml`), errors included: an
Open311 client reads `[{"code", "description"}]` or `<errors><error>…`, never shanzhi's own error
form, so this router catches domain errors itself and rolls the request's work back.

Who sees what:
- POST requests needs an `api_key`: a shanzhi personal API token. The event is reported by the
  token's user through intake, channel "open311", so the user's reach and the token's region
  decide where the key may report.
- GET requests / servicerequestupdates / tokens without a key answer the public list of the
  jurisdiction, as Open311 servers (and FixMyStreet) do: the public fields only. Reporter names,
  phones and e-mails are never in any answer; e-mail, device_id and account_id are not stored.
- With a key the same public fields are narrowed to the key's reach (`reach_filter` for
  `event.read`): a FixMyStreet body configured with a town's key fetches that town's requests
  and updates. A key never widens what is shown.
- Only public timeline steps become updates or status notes; the report step itself is the
  request, not an update of it.
"""

from shanzhi.events.open311.api import router

__all__ = ["router"]
