"""Codat's expense transaction types: what an expense says happened to the money.

Codat's Sync for Expenses types every expense transaction (spec ``ExpenseTransaction.type``:
Payment, Refund, Reward, Chargeback; codat-docs ``docs/expenses/sync-process/expense-transactions.md``,
"Transaction types"): a payment is spend, a refund a return, a reward a redemption such as cashback, a
chargeback a disputed sum returned. The amounts are positive and the type says which way the money went.

An expense either names its type (``Expense.transaction_type``) or leaves it to its sign, as it always
did: a negative expense is a refund, any other a payment. A named type with negative amounts is refused
(codatdesk choice: a sign and a type could disagree, so only one of them may say it).
"""

from __future__ import annotations

from decimal import Decimal

PAYMENT, REFUND, REWARD, CHARGEBACK = "Payment", "Refund", "Reward", "Chargeback"
TYPES = (PAYMENT, REFUND, REWARD, CHARGEBACK)
PLURALS = {PAYMENT: "payments", REFUND: "refunds", REWARD: "rewards", CHARGEBACK: "chargebacks"}


def parse_type(text: str | None) -> str | None:
    """A type as a person wrote it (any case); None when empty; ValueError naming the choices."""
    wanted = (text or "").strip().casefold()
    if not wanted:
        return None
    for kind in TYPES:
        if kind.casefold() == wanted:
            return kind
    raise ValueError(f"{text!r} is not a transaction type: write {', '.join(TYPES[:-1])} or {TYPES[-1]} "
                     "(Codat's expense transaction types), or leave it empty")


def effective_type(transaction_type: str | None, total: Decimal) -> str:
    """The type sent to Codat: the one named, else the sign's (negative: a refund)."""
    return transaction_type or (REFUND if Decimal(total) < 0 else PAYMENT)


def sign_problem(transaction_type: str | None, amounts: tuple[Decimal, ...]) -> str | None:
    """Why amounts and a named type disagree (None: they do not)."""
    if transaction_type and any(amount < 0 for amount in amounts if amount is not None):
        return (f"amounts are positive when a type is given: the type {transaction_type} already says which way "
                "the money went; write the amounts without the minus sign")
    return None
