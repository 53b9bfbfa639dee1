"""Exceptions turned into words a finance person can act on."""

from __future__ import annotations

import httpx

from codatdesk.codat.errors import CodatAuthError, CodatError, CodatNotFound, CodatRateLimited
from codatdesk.secrets import KeyringProblem, SecretMissing

KEYRING_TITLES = {
    "unavailable": "No keyring on this computer",
    "locked": "The keyring is locked",
    "failed": "The keyring did not work",
}


def user_message(error: BaseException) -> tuple[str, str]:
    """(title, text) for a dialog or the status bar."""
    from codatdesk.engine.edits import InvalidExpense, NotEditable  # the store stays unloaded until needed
    from codatdesk.receipts.files import ReceiptRefused

    if isinstance(error, ReceiptRefused):
        return "Receipt not attached", str(error)
    if isinstance(error, InvalidExpense):
        return "Expense not saved", f"{error} Correct it and save again."
    if isinstance(error, NotEditable):
        return "Expense not saved", f"The expense was not saved: {error}."
    if isinstance(error, KeyringProblem):
        return KEYRING_TITLES.get(error.kind, "Keyring problem"), str(error)
    if isinstance(error, SecretMissing):
        return "Codat API key needed", f"{error}. Open File › Settings (Ctrl+,) to enter it."
    if isinstance(error, CodatAuthError):
        return "Codat refused the API key", ("Codat did not accept the API key (HTTP "
                                             f"{error.status}). Check it in Settings: {error.message}")
    if isinstance(error, CodatRateLimited):
        return "Codat asks us to wait", f"Too many requests: {error.message}. Try again in a minute."
    if isinstance(error, CodatNotFound):
        return "Not found in Codat", f"{error.message}. Check the company and connection in Settings."
    if isinstance(error, CodatError):
        return "Codat reported a problem", error.message
    if isinstance(error, (httpx.ConnectError, httpx.ConnectTimeout)):
        return "Cannot reach Codat", f"No connection to Codat: {error}. Check the internet connection or proxy."
    if isinstance(error, httpx.TimeoutException):
        return "Codat did not answer", f"Codat took too long to answer: {error}. Try again."
    if isinstance(error, OSError):
        return "File problem", str(error)
    return "Something went wrong", f"{error or type(error).__name__}. The details are in the log (Help › Open log folder)."
