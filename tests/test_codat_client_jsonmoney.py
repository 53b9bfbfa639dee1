"""codatdesk.jsonmoney: Decimals cross the JSON boundary without float rounding."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from codatdesk import jsonmoney


def test_decimal_is_written_as_exact_number() -> None:
    assert jsonmoney.dumps({"a": Decimal("0.1") + Decimal("0.2")}) == b'{"a":0.3}'
    assert jsonmoney.dumps([Decimal("12.50")]) == b"[12.50]"
    big = Decimal("12345678901234567890.123456789012345")
    assert jsonmoney.dumps(big) == b"12345678901234567890.123456789012345"


def test_exponent_decimals_are_written_positionally() -> None:
    assert jsonmoney.dumps(Decimal("1E+2")) == b"100"
    assert jsonmoney.dumps(Decimal("1E-8")) == b"0.00000001"
    assert jsonmoney.dumps(Decimal("-0.00")) == b"-0.00"


@pytest.mark.parametrize("bad", [Decimal("NaN"), Decimal("Infinity"), Decimal("-Infinity"), float("nan")])
def test_non_finite_numbers_are_refused(bad: object) -> None:
    with pytest.raises(ValueError):
        jsonmoney.dumps({"x": bad})


def test_other_types() -> None:
    payload = {
        "s": 'quote " back \\ newline \n café',
        "i": 3,
        "b": True,
        "n": None,
        "f": 1.5,
        "d": dt.date(2024, 2, 29),
        "t": (1, 2),
        1: "int key",
    }
    assert json.loads(jsonmoney.dumps(payload)) == {
        "s": 'quote " back \\ newline \n café',
        "i": 3,
        "b": True,
        "n": None,
        "f": 1.5,
        "d": "2024-02-29",
        "t": [1, 2],
        "1": "int key",
    }
    with pytest.raises(TypeError):
        jsonmoney.dumps({"x": object()})
    with pytest.raises(TypeError):
        jsonmoney.dumps({(1, 2): "tuple key"})


def test_circular_reference_is_refused() -> None:
    loop: list = []
    loop.append(loop)
    with pytest.raises(ValueError):
        jsonmoney.dumps(loop)


def test_loads_parses_fractions_as_decimal() -> None:
    parsed = jsonmoney.loads(b'{"total": 0.30, "qty": 2, "rate": 1.1e2}')
    assert parsed == {"total": Decimal("0.30"), "qty": 2, "rate": Decimal("110")}
    assert isinstance(parsed["total"], Decimal) and str(parsed["total"]) == "0.30"
    assert isinstance(parsed["qty"], int)
    with pytest.raises(ValueError):
        jsonmoney.loads(b'{"x": NaN}')


@given(st.decimals(allow_nan=False, allow_infinity=False, places=4, min_value=-10**12, max_value=10**12))
def test_round_trip(value: Decimal) -> None:
    back = jsonmoney.loads(jsonmoney.dumps({"v": value}))["v"]
    assert Decimal(back) == value
