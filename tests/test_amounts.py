"""No amount is misread: locale round trips, ambiguity refused, and a corpus of real-world strings."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from codatdesk.amounts import (
    PLAIN,
    AmountCell,
    FormatMismatch,
    detect_format,
    file_formats,
    format_amount,
    number_format,
    parse_amount,
    plain_amount,
    readings,
)
from codatdesk.money import MoneyError, currency_exponent

LOCALES = ["en_GB", "en_US", "de_DE", "fr_FR", "nl_NL", "de_CH", "en_IN", "ja_JP", "C"]
CURRENCIES = ["GBP", "EUR", "USD", "CHF", "INR", "JPY", "KWD", "BHD", "ISK"]


@st.composite
def amounts(draw: st.DrawFn) -> tuple[Decimal, str]:
    currency = draw(st.sampled_from(CURRENCIES))
    places = currency_exponent(currency)
    minor = draw(st.integers(min_value=-(10**13), max_value=10**13))
    return Decimal(minor).scaleb(-places), currency


@settings(max_examples=300, deadline=None)
@given(locale=st.sampled_from(LOCALES), amount=amounts())
def test_formatting_then_parsing_gives_the_same_decimal(locale, amount):
    value, currency = amount
    fmt = number_format(locale)
    text = format_amount(value, currency, fmt)
    assert parse_amount(text, currency, fmt) == value
    assert str(parse_amount(text, currency, fmt)) == str(value)  # same decimals, not just equal


@settings(max_examples=300, deadline=None)
@given(amount=amounts(), locale=st.sampled_from([name for name in LOCALES if name != "C"]))
@example(amount=(Decimal("1.000"), "KWD"), locale="en_GB")  # the round-trip bug: 1.000 or 1000
@example(amount=(Decimal("-999.999"), "BHD"), locale="de_CH")
@example(amount=(Decimal(1000), "JPY"), locale="en_GB")  # 1,000 yen: one reading (1.000 yen cannot be)
@example(amount=(Decimal(1000), "JPY"), locale="de_DE")
@example(amount=(Decimal("1000000.000"), "OMR"), locale="de_DE")  # grouped twice: one reading
def test_a_value_that_reads_two_ways_is_refused_when_the_file_gives_no_other_hint(amount, locale):
    value, currency = amount
    text = format_amount(value, currency, number_format(locale))
    found = readings(text, currency, file_formats())
    detection = detect_format([AmountCell(2, "net", text, currency)])
    if len(set(found.values())) > 1:  # ambiguous on its own: refused, naming every reading
        assert (2, "net") in detection.problems
        message = detection.problems[(2, "net")]
        assert "reads two ways" in message
        for reading in set(found.values()):
            assert str(reading) in message
    else:  # one reading only: taken, and it is the value written
        assert detection.values[(2, "net")] == value


@settings(max_examples=200, deadline=None)
@given(text=st.from_regex(r"\A[1-9][0-9]{0,2}[.,][0-9]{3}\Z"), currency=st.sampled_from(["KWD", "BHD", "OMR", "TND"]),
       sign=st.sampled_from(["", "-"]))
def test_every_ambiguous_string_is_refused(text, currency, sign):
    """``1,234`` of a three-decimal currency is 1234 in English and 1.234 in German: never guessed."""
    text = sign + text
    found = readings(text, currency, file_formats())
    assert len(set(found.values())) == 2
    detection = detect_format([AmountCell(2, "tax", text, currency)])
    assert not detection.values and "reads two ways" in detection.problems[(2, "tax")]
    # With one unambiguous amount elsewhere in the file, the file's format decides.
    hint = AmountCell(3, "net", "1.000,500", currency)
    decided = detect_format([AmountCell(2, "tax", text, currency), hint])
    assert decided.values[(2, "tax")] == found[number_format("de_DE")]


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_a_file_in_one_format_is_read_in_that_format(data):
    locale = data.draw(st.sampled_from(["en_GB", "de_DE", "fr_FR", "de_CH", "en_IN"]))
    fmt = number_format(locale)
    rows = data.draw(st.lists(amounts(), min_size=1, max_size=12))
    # One amount in the file shows the format unmistakably (two decimals after the mark, grouping).
    rows.append((Decimal("1234567.89"), "GBP"))
    cells = [AmountCell(i + 2, "net", format_amount(v, c, fmt), c) for i, (v, c) in enumerate(rows)]
    detection = detect_format(cells)
    assert not detection.problems
    assert detection.fmt.decimal == fmt.decimal and detection.fmt.group in fmt.group_marks
    assert [detection.values[(c.line, "net")] for c in cells] == [v for v, _c in rows]


def test_the_reported_bug_decimal_commas_are_not_read_a_hundred_times_too_large():
    cells = [AmountCell(n, "net", text, "EUR") for n, text in enumerate(["12,50", "2,50", "15,00"], start=2)]
    detection = detect_format(cells)
    assert [detection.values[(n, "net")] for n in (2, 3, 4)] == [Decimal("12.50"), Decimal("2.50"), Decimal("15.00")]
    assert detection.fmt.decimal == ","


def test_a_file_that_mixes_formats_refuses_the_odd_one_with_its_other_reading():
    cells = [AmountCell(2, "net", "1,234.56", "GBP"), AmountCell(3, "net", "12,50", "GBP"),
             AmountCell(4, "net", "3.50", "GBP")]
    detection = detect_format(cells)
    assert set(detection.problems) == {(3, "net")}
    assert "would read 12.50" in detection.problems[(3, "net")]


def test_a_given_format_is_used_even_where_another_would_read():
    detection = detect_format([AmountCell(2, "net", "1,234", "KWD")], given=number_format("de_DE"))
    assert detection.values[(2, "net")] == Decimal("1.234") and detection.chosen_by == "given"


# (text, currency) cells of one file -> what each reads as; None: refused as reading two ways
FILES_ACROSS_CURRENCIES = [
    ([("1.000", "KWD")], [None]),
    ([("-1.000", "OMR"), ("2.500", "BHD")], [None, None]),
    ([("1,000", "JPY"), ("1,000", "KWD")], ["1000", "1000"]),     # yen cannot be 1.000: English
    ([("1.000", "JPY"), ("1.000", "KWD")], ["1000", "1000"]),     # yen cannot be 1.000: German
    ([("1.000", "KWD"), ("12.50", "GBP")], ["1.000", "12.50"]),   # two decimals after a dot: English
    ([("1.000", "KWD"), ("0.500", "KWD")], ["1.000", "0.500"]),   # no German group starts with 0
    ([("1.000", "KWD"), ("1234.500", "KWD")], ["1.000", "1234.500"]),  # nor has four digits
    ([("1.000", "KWD"), ("1000", "JPY")], [None, "1000"]),       # a bare 1000 decides nothing
    ([("1,000,000.000", "KWD"), ("1,000", "BHD")], ["1000000.000", "1000"]),
    ([("1.000.000,000", "KWD"), ("1.000", "BHD")], ["1000000.000", "1000"]),
]


@pytest.mark.parametrize("cells,expected", FILES_ACROSS_CURRENCIES)
def test_a_files_amounts_in_several_currencies_decide_its_format_together(cells, expected):
    detection = detect_format([AmountCell(n, "net", text, currency) for n, (text, currency) in enumerate(cells, 2)])
    for n, want in enumerate(expected, 2):
        if want is None:
            assert "reads two ways" in detection.problems[(n, "net")], detection.problems
            assert (n, "net") not in detection.values
        else:
            assert (n, "net") not in detection.problems, detection.problems
            assert str(detection.values[(n, "net")]) == want


@pytest.mark.parametrize("value,currency,written", [
    ("1.000", "KWD", "1.000"), ("1.23", "KWD", "1.230"), ("1000.00", "JPY", "1000"), ("-1000000", "ISK", "-1000000"),
    ("-0.5", "BHD", "-0.500"), ("1234567.5", "GBP", "1234567.50"), ("12", "EUR", "12.00"),
    ("1.005", "GBP", "1.005"),  # more precision than the currency: kept, so the import says so
])
def test_plain_amounts_have_the_currencys_decimals_and_read_back_in_the_plain_format(value, currency, written):
    assert plain_amount(Decimal(value), currency) == written
    if currency != "GBP" or value != "1.005":
        assert parse_amount(written, currency, number_format("plain")) == Decimal(value)


def test_the_plain_format_refuses_grouping_and_decimal_commas():
    for text in ("1,000.000", "1.000,000", "1 000"):
        with pytest.raises(FormatMismatch):
            parse_amount(text, "KWD", PLAIN)


# text, currency, locale, what it must read as (None: refused)
CORPUS = [
    # grouping and decimal marks
    ("1,234.56", "GBP", "en_GB", "1234.56"),
    ("1.234,56", "EUR", "de_DE", "1234.56"),
    ("1.234,56", "EUR", "nl_NL", "1234.56"),
    ("1\u202f234,56", "EUR", "fr_FR", "1234.56"),       # CLDR's narrow no-break space
    ("1\u00a0234,56", "EUR", "fr_FR", "1234.56"),       # no-break space (Excel, Word)
    ("1 234,56", "EUR", "fr_FR", "1234.56"),            # a plain space, as people type it
    ("1'234.56", "CHF", "de_CH", "1234.56"),
    ("1\u2019234.56", "CHF", "de_CH", "1234.56"),       # typographic apostrophe
    ("12,34,567.89", "INR", "en_IN", "1234567.89"),
    ("1,234", "JPY", "ja_JP", "1234"),
    ("1234.56", "GBP", "en_GB", "1234.56"),             # no grouping at all is fine
    ("0,5", "EUR", "de_DE", "0.5"),
    ("12,50", "EUR", "de_DE", "12.50"),
    # currency marks, signs and negatives
    ("£1,234.56", "GBP", "en_GB", "1234.56"),
    ("GBP 12.00", "GBP", "en_GB", "12.00"),
    ("12,00 €", "EUR", "de_DE", "12.00"),
    ("EUR 12,00", "EUR", "de_DE", "12.00"),
    ("-£12.50", "GBP", "en_GB", "-12.50"),
    ("£-12.50", "GBP", "en_GB", "-12.50"),
    ("(12.50)", "GBP", "en_GB", "-12.50"),
    ("(£12.50)", "GBP", "en_GB", "-12.50"),
    ("12.50-", "GBP", "en_GB", "-12.50"),
    ("12,50-", "EUR", "de_DE", "-12.50"),
    ("\u221212,50 €", "EUR", "de_DE", "-12.50"),        # the minus sign, U+2212
    ("+12.50", "GBP", "en_GB", "12.50"),
    ("US$ 5.00", "USD", "en_GB", "5.00"),
    ("CHF 1'234.50", "CHF", "de_CH", "1234.50"),
    ("  12.50  ", "GBP", "en_GB", "12.50"),
    # refused: misreadable, malformed or mislabelled
    ("12,50", "GBP", "en_GB", None),                    # a decimal comma is not grouping
    ("70,00", "EUR", "en_GB", None),
    ("1,2,3,4", "GBP", "en_GB", None),
    ("1e3", "GBP", "en_GB", None),
    ("1E3", "GBP", "C", None),
    ("1.5e2", "GBP", "en_GB", None),
    ("12..5", "GBP", "en_GB", None),
    ("12,,50", "EUR", "de_DE", None),
    ("1,,234", "GBP", "en_GB", None),
    ("12.5.6", "GBP", "en_GB", None),
    ("1.234.5", "EUR", "de_DE", None),
    ("1,23,456.00", "GBP", "en_GB", None),              # Indian grouping is not English grouping
    ("123,456.00", "INR", "en_IN", None),               # and the other way round
    ("0,123", "GBP", "en_GB", None),                    # a group cannot start with zero
    ("1 234.56", "GBP", "en_GB", None),                 # spaces do not group in English
    ("1'234,56", "EUR", "de_DE", None),
    ("12.345", "GBP", "en_GB", None),                   # more decimals than the currency has
    ("1.5", "JPY", "en_GB", None),
    ("12.", "GBP", "en_GB", None),
    (".5", "GBP", "en_GB", None),
    ("--12", "GBP", "en_GB", None),
    ("(-12)", "GBP", "en_GB", None),
    ("-12-", "GBP", "en_GB", None),
    ("(12", "GBP", "en_GB", None),
    ("$12.50", "GBP", "en_GB", None),                   # a dollar amount in a pound column
    ("12,50 €", "GBP", "de_DE", None),
    ("£ 12 £", "GBP", "en_GB", None),
    ("NaN", "GBP", "en_GB", None),
    ("Infinity", "GBP", "en_GB", None),
    ("1_000", "GBP", "en_GB", None),
    ("\u0661\u0662", "GBP", "en_GB", None),            # Arabic-Indic digits
    ("twelve", "GBP", "en_GB", None),
    ("", "GBP", "en_GB", None),
    ("12.50", "EUR", "de_DE", None),                    # a dot does not mark decimals in German
    ("1,234.56", "GBP", "C", None),                     # plain format: no grouping
]


@pytest.mark.parametrize("text,currency,locale,expected", CORPUS)
def test_real_world_amount_strings(text, currency, locale, expected):
    fmt = number_format(locale)
    if expected is None:
        with pytest.raises(MoneyError):
            parse_amount(text, currency, fmt)
    else:
        value = parse_amount(text, currency, fmt)
        assert value == Decimal(expected) and str(value) == expected


def test_refusals_say_why():
    en = number_format("en_GB")
    cases = {"1e3": "scientific notation", "$12.50": "not GBP", "--12": "more than one sign",
             "12,50": "grouping in the wrong places", "12.345": "3 decimals; GBP has 2"}
    for text, reason in cases.items():
        with pytest.raises(MoneyError, match=reason):
            parse_amount(text, "GBP", en)


def test_plain_format_for_c_and_posix_locales_and_unknown_names_are_refused():
    assert number_format("C") is PLAIN and number_format("en_US_POSIX") is PLAIN
    assert number_format("plain") is PLAIN and number_format(" Plain ") is PLAIN
    assert number_format("de-DE") == number_format("de_DE")
    assert number_format("de_DE.UTF-8") == number_format("de_DE")
    with pytest.raises(ValueError, match="unknown number format"):
        number_format("xx_QQ")


def test_formatting_keeps_precision_the_data_has_and_the_currency_decimals():
    en = number_format("en_GB")
    assert format_amount(Decimal("-1234567.5"), "GBP", en) == "-1,234,567.50"
    assert format_amount(Decimal("1234"), "JPY", en) == "1,234"
    assert format_amount(Decimal("0.125"), "BHD", PLAIN) == "0.125"
    assert format_amount(Decimal("1.005"), "GBP", en) == "1.005"  # never rounded away
