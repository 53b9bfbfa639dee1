"""Receipts: files attached to expenses, kept in the data folder, uploaded to the ledger after the record.

``files`` stores and sniffs them, ``limits`` says what each ledger accepts, ``attach`` adds and removes
them (and is the read model), ``uploads`` sends them (the one writer of their upload state), and
``importing`` finds them for an import.
"""
