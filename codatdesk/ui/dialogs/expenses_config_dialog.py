"""The Expenses configuration of a company on the Expenses route: its default payment account, supplier and
customer, chosen from Codat's lists (codat-docs ``docs/expenses/config-and-categorize.md``: the defaults a
transaction without its own bank account or supplier falls back to). Reads and saves off the GUI thread."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from codatdesk.core_api import CoreAPI
from codatdesk.ui.workers import run_in_background

INTRO = ("Codat's Expenses uses these for an expense that does not name its own payment account or supplier. "
         "The choices are Codat's lists of this company (refresh them in Mappings after a change in the ledger).")
NOT_SET = "(not set)"


class ExpensesConfigDialog(QDialog):
    saved = Signal(object)  # the ExpensesConfig Codat keeps

    def __init__(self, core: CoreAPI, company_id: str, company_name: str = "",
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._core, self._company_id = core, company_id
        self.setWindowTitle(f"Expenses configuration: {company_name or company_id}")
        intro = QLabel(INTRO)
        intro.setWordWrap(True)
        self.bank_account = self._choices("bankAccount")
        self.supplier = self._choices("supplier")
        self.customer = QLineEdit()
        self.customer.setPlaceholderText("Codat id of the customer (optional)")
        self.customer.setToolTip("codatdesk does not read customers from Codat: paste the customer's id if the "
                                 "ledger needs one")
        form = QFormLayout()
        form.addRow("Default &payment account:", self.bank_account)
        form.addRow("Default &supplier:", self.supplier)
        form.addRow("Default &customer:", self.customer)
        self.message = QLabel("Reading the current configuration from Codat…")
        self.message.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(520)
        self._set_busy(True)
        run_in_background(lambda: core.expenses_config(company_id), self._show_current, self._failed, owner=self)

    def _choices(self, kind: str) -> QComboBox:
        box = QComboBox()
        box.addItem(NOT_SET, None)
        for candidate in self._core.mapping_candidates(self._company_id, kind):
            box.addItem(candidate.label, candidate.codat_id)
        return box

    def _set_busy(self, busy: bool) -> None:
        for widget in (self.bank_account, self.supplier, self.customer):
            widget.setEnabled(not busy)
        self.buttons.button(QDialogButtonBox.StandardButton.Save).setEnabled(not busy)

    def _show_current(self, config: Any) -> None:
        for box, codat_id in ((self.bank_account, config.bank_account_id), (self.supplier, config.supplier_id)):
            index = box.findData(codat_id) if codat_id else 0
            if index < 0:  # Codat has a default that is not in the lists read: show it rather than lose it
                box.addItem(f"{codat_id} (not in the lists read: refresh them in Mappings)", codat_id)
                index = box.count() - 1
            box.setCurrentIndex(index)
        self.customer.setText(config.customer_id or "")
        self.message.setText("" if self.bank_account.count() > 1 else
                             "No payment accounts were read from Codat yet: refresh the lists in Mappings.")
        self._set_busy(False)

    def _failed(self, error: BaseException) -> None:
        self.message.setText(f"Codat's configuration could not be read or saved: {error}")
        self._set_busy(False)

    def save(self) -> None:
        bank, supplier = self.bank_account.currentData(), self.supplier.currentData()
        customer = self.customer.text().strip() or None
        self._set_busy(True)
        self.message.setText("Saving to Codat…")
        run_in_background(lambda: self._core.set_expenses_config(self._company_id, bank_account=bank,
                                                                 supplier=supplier, customer=customer),
                          self._saved, self._failed, owner=self)

    def _saved(self, config: Any) -> None:
        self.saved.emit(config)
        self.accept()
