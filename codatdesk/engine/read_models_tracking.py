"""The tracking categories a line may carry, from the company's cached reference data.

Only leaves are offered: a category with sub-categories is refused by the push
(``engine/line_items.py``, sandbox choice), so the window never offers one.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import select

from codatdesk.core_api import TrackingChoice
from codatdesk.engine.reference import _extra
from codatdesk.store.db import read_session
from codatdesk.store.models import ReferenceRecord

INACTIVE = ("archived", "deleted", "inactive")


def tracking_categories(db: Engine, company_id: str) -> list[TrackingChoice]:
    """Active leaf categories, sorted by parent then name; each names its parent (\"\" at the top)."""
    with read_session(db) as session:
        records = [(r.codat_id, r.name, _extra(r)) for r in session.exec(select(ReferenceRecord).where(
            ReferenceRecord.company_id == company_id, ReferenceRecord.data_type == "trackingCategories"))]
    names = {codat_id: name for codat_id, name, _extra_ in records}
    choices = []
    for codat_id, name, extra in records:
        if extra.get("hasChildren") is True or extra.get("isDeleted") \
                or str(extra.get("status") or "").lower() in INACTIVE:
            continue
        choices.append(TrackingChoice(codat_id, name, names.get(str(extra.get("parentId") or ""), "")))
    return sorted(choices, key=lambda c: (c.parent_name.casefold(), c.name.casefold()))
