"""The core's questions about one store, answered by the read models, and the rate table's writes: the part of
``CoreAPI`` that needs nothing but the database. ``Core`` is one; so is the UI tests' fake (``tests/ui/fake_core.py``), so the two cannot
drift apart."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from decimal import Decimal
from typing import TYPE_CHECKING

from codatdesk.engine import read_models, read_models_mapping, read_models_tracking

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from codatdesk.core_api import (
        ConnectionInfo,
        DeliveryRecord,
        ExpenseDetails,
        ExpenseRow,
        MappingOverview,
        TrackingChoice,
    )
    from codatdesk.engine.rate_table import RateEntry, RateTable
    from codatdesk.engine.reference import Candidate


class StoreQueries:
    db: Engine

    def _chosen_connections(self) -> dict[str, str]:
        """Company id -> the connection Settings chose, for a company whose choice the store does not hold yet."""
        return {}

    def expense_rows(self, company_id: str | None) -> list[ExpenseRow]:
        return read_models.expense_rows(self.db, company_id)

    def expense_rows_by_id(self, expense_ids: list[int]) -> dict[int, ExpenseRow]:
        return read_models.expense_rows_by_id(self.db, expense_ids)

    def expense_details(self, expense_id: int) -> ExpenseDetails | None:
        return read_models.expense_details(self.db, expense_id)

    def deliveries(self, *, after_id: int = 0, inbox_ids: Collection[int] = (),
                   limit: int = 2000) -> list[DeliveryRecord]:
        return read_models.deliveries(self.db, after_id=after_id, inbox_ids=inbox_ids, limit=limit)

    def dropped_delivery_count(self) -> int:
        return read_models.dropped_delivery_count(self.db)

    def connections(self) -> list[ConnectionInfo]:
        return read_models.connections(self.db, self._chosen_connections())

    def mapping_overview(self, company_id: str) -> MappingOverview:
        return read_models_mapping.mapping_overview(self.db, company_id)

    def mapping_candidates(self, company_id: str, kind: str, currency: str | None = None) -> list[Candidate]:
        return read_models_mapping.mapping_candidates(self.db, company_id, kind, currency)

    def supplier_creation_allowed(self, company_id: str) -> bool:
        return read_models_mapping.supplier_creation_allowed(self.db, company_id)

    def tracking_categories(self, company_id: str) -> list[TrackingChoice]:
        return read_models_tracking.tracking_categories(self.db, company_id)

    def read_rates(self, company_id: str) -> RateTable:
        from codatdesk.engine import rate_table

        return rate_table.read_rates(self.db, company_id)

    def save_rate(self, company_id: str, currency: str, rate: Decimal, valid_from: dt.date, *,
                  replacing: int | None = None) -> RateEntry:
        from codatdesk.engine import rate_table

        return rate_table.save_rate(self.db, company_id, currency, rate, valid_from, replacing=replacing)

    def delete_rate(self, company_id: str, rate_id: int) -> None:
        from codatdesk.engine import rate_table

        rate_table.delete_rate(self.db, company_id, rate_id)
