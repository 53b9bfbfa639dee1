"""What the user can do about a reason an expense cannot be pushed (explain-before-send).

``fix_for`` turns a blocked expense's reason into one fix: its kind (which screen opens),
what it is about (a mapping kind, a currency) and a sentence saying what to do. The reasons
are the push engine's own (``engine.pusher``, ``engine.reference.Resolver``,
``engine.currency.rate_to_send``); this module only reads them, so the fix cannot disagree
with the check. Qt-free: the window, ``push`` and ``list`` can all say the same thing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from codatdesk.engine.currency import is_missing_rate

MAP = "map"  # open the Mapping view on the value
EDIT = "edit"  # open the expense dialog
RATE = "rate"  # open the currency-rate table on the currency
CREATE = "create"  # a record the ledger lacks: say how it gets created, or map it
REFRESH = "refresh"  # re-read Codat's lists
SETTINGS = "settings"  # choose the company or connection
RECONNECT = "reconnect"  # the accounting connection is not Linked
ALLOW_SUPPLIERS = "allow_suppliers"  # let codatdesk create the company's missing suppliers, then check again
NONE = "none"  # nothing to fix here (already pushed, in flight, outcome unknown)
FIX_KINDS = (MAP, EDIT, RATE, CREATE, REFRESH, SETTINGS, RECONNECT, ALLOW_SUPPLIERS, NONE)

# Button text per kind (the dialog's action).
ACTION_LABELS = {MAP: "Map…", EDIT: "Edit…", RATE: "Set a rate…", CREATE: "Map…", REFRESH: "Re-read from Codat",
                 SETTINGS: "Settings…", RECONNECT: "Connections…", ALLOW_SUPPLIERS: "Allow creating suppliers",
                 NONE: ""}

# A ``kind`` a PushProblem may carry (branch h-sync adds one): ours, or a few plain synonyms.
_KIND_SYNONYMS = {"mapping": MAP, "reference": MAP, "currency_rate": RATE, "missing_rate": RATE,
                  "field": EDIT, "invalid": EDIT, "connection": RECONNECT, "state": NONE}

# Reference reasons start with the kind's label (``reference.KIND_LABELS``); the longest first.
_REFERENCE_PREFIXES = (("payment account ", "bankAccount"), ("account ", "account"),
                       ("supplier ", "supplier"), ("tax code ", "taxRate"))
_RATE_CURRENCY = re.compile(r"^([A-Z]{3}) expense")


@dataclass(frozen=True)
class Fix:
    kind: str
    text: str  # what to do, in plain words
    mapping_kind: str | None = None  # MAP/CREATE: account | bankAccount | supplier | taxRate
    currency: str | None = None  # RATE: the expense's currency
    also: tuple[str, ...] = ()  # other fix kinds offered next to ``kind`` (each its own button)

    @property
    def action_label(self) -> str:
        return ACTION_LABELS[self.kind]

    def choices(self) -> list[Fix]:
        """One fix per button: this one, then each of ``also`` with the same details."""
        return [self] + [replace(self, kind=kind, also=()) for kind in self.also]


def fix_for(problem: object) -> Fix:
    """The fix for a reason (a string) or a PushProblem. A ``kind`` that names a fix wins; a broader
    category (``ProblemKind.REFERENCE``: map *or* create) only decides when the reason says nothing."""
    reason = problem if isinstance(problem, str) else str(getattr(problem, "reason", ""))
    derived = _from_reason(reason)
    given = getattr(problem, "kind", None)
    if given in FIX_KINDS:
        kind = given
    else:
        kind = _KIND_SYNONYMS.get(str(given or "").lower())
        if derived.kind != NONE:
            return derived
    if kind is None or kind == derived.kind:
        return derived
    return Fix(kind, derived.text if derived.kind != NONE else _GENERIC_TEXT[kind], derived.mapping_kind,
               derived.currency)


_GENERIC_TEXT = {
    MAP: "Map the value to a record in the ledger in the Mapping view.",
    EDIT: "Edit the expense.",
    RATE: "Add a rate for the currency in Currency rates.",
    CREATE: "Map it to a record in the ledger, or add the record in the ledger and re-read from Codat.",
    ALLOW_SUPPLIERS: "Allow codatdesk to create the suppliers the ledger does not have yet.",
    REFRESH: "Re-read the company's lists from Codat.",
    SETTINGS: "Choose the company and its connection in Settings.",
    RECONNECT: "Reconnect the accounting software in Connections.",
    NONE: "Nothing to change here.",
}


def _from_reason(reason: str) -> Fix:
    text = reason.strip()
    if is_missing_rate(text):
        if "did not say the company's base currency" in text:
            return Fix(REFRESH, "Codat has not said the company's base currency: re-read from Codat. If it still "
                                "does not, give the expense its own rate (Edit).")
        match = _RATE_CURRENCY.match(text)
        currency = match.group(1) if match else None
        return Fix(RATE, f"Add a rate for {currency or 'the currency'} valid on the expense's date in Currency "
                         "rates (or type the rate in the expense).", currency=currency)
    if text.startswith("the expense has no tax code and"):
        return Fix(MAP, "Map \u201cno tax\u201d to the ledger's own zero rate (Xero: NONE) in the Mapping view, "
                        "or give the expense a tax code.", mapping_kind="taxRate")
    if text.startswith("the expense has a tax amount but no tax code"):
        return Fix(EDIT, "Give the expense a tax code (Edit).")
    for prefix, mapping_kind in _REFERENCE_PREFIXES:
        if text.startswith(prefix):
            return _reference_fix(text, mapping_kind)
    if text.startswith("the ") and text.endswith(" is missing"):
        return Fix(EDIT, f"Fill in {text.removeprefix('the ').removesuffix(' is missing')} (Edit).")
    if "is not an ISO 4217 currency" in text:
        return Fix(EDIT, "Correct the currency to a three-letter code like GBP or EUR (Edit).")
    if text.startswith("net ") and "does not equal total" in text:
        return Fix(EDIT, "Correct the amounts so net + tax equals the total (Edit).")
    if "(Settings > Codat)" in text:
        return Fix(SETTINGS, "Choose the Codat company and its accounting connection in Settings.")
    if text.startswith("the accounting connection is "):
        return Fix(RECONNECT, "Reconnect the accounting software (Connections), then push again.")
    return Fix(NONE, _NOTHING_TO_FIX.get(_state_key(text), "Nothing to change in codatdesk: see the reason."))


def _reference_fix(text: str, mapping_kind: str) -> Fix:
    if mapping_kind == "supplier" and "is not in the ledger's suppliers" in text:
        # The resolver gives this reason only while the company does not allow creating suppliers
        # (``Company.create_suppliers``); once allowed, the supplier is pushed before the expense.
        return Fix(CREATE, "This supplier is not in the ledger. Map it to an existing supplier in the Mapping view, "
                           "or allow codatdesk to create suppliers for this company: it then creates this one in "
                           "the ledger before the expense.", mapping_kind="supplier", also=(ALLOW_SUPPLIERS,))
    if mapping_kind == "account" and "give it a name so it can be created" in text:
        return Fix(MAP, "Map it to an account in the Mapping view, or give the expense an account name (Edit) "
                        "and codatdesk creates the account when it pushes.", mapping_kind="account")
    if "refresh from Codat" in text:
        return Fix(MAP, "Re-read from Codat in the Mapping view, or map it to another bank account there.",
                   mapping_kind=mapping_kind)
    return Fix(MAP, "Map it to an active record in the Mapping view, or edit the expense.", mapping_kind=mapping_kind)


_NOTHING_TO_FIX = {
    "complete": "Already in the ledger: nothing to send.",
    "in flight": "Already on its way: wait for Codat's answer.",
    "unknown": "Wait: codatdesk keeps asking Codat. Use \u201cPush again anyway\u201d only after checking the ledger.",
    "gone": "The expense was deleted.",
}


def _state_key(text: str) -> str:
    if text.startswith("already in the ledger"):
        return "complete"
    if text.startswith("already being pushed"):
        return "in flight"
    if text.startswith(("Codat timed out", "an earlier push has no answer")):
        return "unknown"
    if text == "this expense no longer exists":
        return "gone"
    return ""
