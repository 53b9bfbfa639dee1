"""Which companies' webhooks are ours: the companies this installation serves.

On a Codat client shared with other apps every company's events can arrive. Codat filters a
consumer's deliveries by company tags: a consumer registered with ``companyTags`` (``key:value``
strings, at most 10) receives an event only when one of the company's tags matches one of them
(codat-docs ``docs/using-the-api/webhooks/create-consumer.md``, "Filter webhooks by company tags");
a company carries at most 10 tags, set with Create or Update company
(``docs/using-the-api/managing-companies.md``, "Add metadata to a company").

So codatdesk tags each company it serves with one tag of its own installation,
``codatdesk-<install id>: served``, and registers its consumer with that single tag. The consumer's
tags never change when companies are added (Codat's API cannot update a consumer, and a new consumer
means a new signing secret to paste): serving one more company is one Update company call. One key per
installation, so two installations serving the same company do not overwrite each other's tag.

Whatever still arrives for a company we do not serve (a tag set by hand, a consumer registered before
this, Codat ignoring the filter) is counted and dropped with the verdict ``dropped``: it never parks
and never creates a local company row.
"""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import Session, select

from codatdesk.store.models import Company, Expense, WebhookDelivery

DROPPED = "dropped"
TAG_KEY_PREFIX = "codatdesk-"
TAG_VALUE = "served"
MAX_COMPANY_TAGS = 10  # per company, and per consumer (managing-companies.md, create-consumer.md)


def tag_key(install_id: str) -> str:
    return f"{TAG_KEY_PREFIX}{install_id}"


def consumer_tag(install_id: str) -> str:
    """The one ``companyTags`` entry of our consumer."""
    return f"{tag_key(install_id)}:{TAG_VALUE}"


def is_served(session: Session, company_id: str | None) -> bool:
    """A company this installation pushes for: chosen with a connection, or holding expenses.
    (A bare company row may be a leftover of an older version that stored every company's events.)"""
    if not company_id:
        return False
    company = session.get(Company, company_id)
    if company is None:
        return False
    if company.connection_id:
        return True
    return session.exec(select(Expense.id).where(Expense.company_id == company_id).limit(1)).first() is not None


def dropped_count(session: Session) -> int:
    return int(session.exec(select(func.count()).select_from(WebhookDelivery)
                            .where(WebhookDelivery.verdict == DROPPED)).one())


def with_our_tag(tags: dict | None, install_id: str) -> dict[str, str] | None:
    """The company's tags with ours added; None when they already hold it. Raises ValueError when
    the company has no room left for another tag."""
    current = {str(k): str(v) for k, v in (tags or {}).items()}
    key = tag_key(install_id)
    if current.get(key) == TAG_VALUE:
        return None
    if key not in current and len(current) >= MAX_COMPANY_TAGS:
        raise ValueError(f"the company already has {MAX_COMPANY_TAGS} tags, Codat's limit")
    return {**current, key: TAG_VALUE}
