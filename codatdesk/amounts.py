"""Reading and writing amounts by number format, so that no amount is ever misread.

A :class:`NumberFormat` is a locale's decimal symbol, grouping symbol and grouping sizes,
all taken from Babel's CLDR data (``de_DE`` writes ``1.234.567,89``, ``en_IN``
``12,34,567.89``, ``de_CH`` ``1'234'567.89``). Parsing is a strict grammar over those
symbols: grouping must sit exactly where the locale puts it, at most one sign, one
currency mark that must name the expense's own currency, ASCII digits only. Anything
else (``1e3``, ``12..5``, ``1,2,3,4``, ``12,50`` read as English) is refused with a
reason, never "cleaned" into a number by deleting characters.

Files have no locale, so :func:`detect_format` picks the one format that reads every
amount of a file; a value that reads two ways (``1,234`` of a 3-decimal currency, in a
file with no other hint) is refused with both readings. Files codatdesk writes use
:func:`plain_amount` and name their format (``plain``), so they never need detecting.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache

from babel import Locale, UnknownLocaleError
from babel.numbers import get_currency_symbol

from codatdesk.money import MoneyError, currency_exponent, is_known_currency

# Grouping marks people type for the same thing: a plain space for a no-break or narrow
# no-break space (fr_FR, CLDR uses U+202F), a typographic apostrophe for de_CH's "'".
_SPACES = (" ", "\u00a0", "\u202f")
_APOSTROPHES = ("'", "\u2019")
_MINUS = ("-", "\u2212")  # hyphen-minus and the minus sign a formatted document may carry
_NUMBER_CHARS = "0-9.,'\u2019 \u00a0\u202f"
_AMOUNT = re.compile(
    r"^(?P<open>\()?\s*(?P<s1>[-\u2212+])?\s*(?P<c1>[^\d\s().,'\u2019+\-\u2212]+)?\s*(?P<s2>[-\u2212+])?\s*"
    rf"(?P<num>[0-9](?:[{_NUMBER_CHARS}]*[0-9])?)"
    r"\s*(?P<c2>[^\d\s().,'\u2019+\-\u2212]+)?\s*(?P<s3>[-\u2212])?\s*(?P<close>\))?$"
)
_EXPONENT = re.compile(r"[0-9.,]\s*[eE]\s*[-+]?[0-9]")
_SYMBOL_LOCALES = ("en_US", "en_GB", "de_DE", "fr_FR", "de_CH", "en_IN", "ja_JP", "nl_NL")


@dataclass(frozen=True)
class NumberFormat:
    """How one locale writes numbers. ``locale`` is a Babel id; ``"C"`` is plain ``1234.56``."""

    locale: str
    decimal: str
    group: str  # "" where the format has no grouping
    group_marks: tuple[str, ...] = field(default=(), compare=False)
    primary: int = 3    # digits in the last group
    secondary: int = 3  # digits in the groups before it (2 in en_IN)

    @property
    def example(self) -> str:
        return format_amount(Decimal("1234567.89"), "GBP", self)

    def __str__(self) -> str:
        return f"{self.example} ({self.locale})"


PLAIN = NumberFormat("C", ".", "", ())
PLAIN_NAME = "plain"  # how a file names PLAIN (codatdesk's export does), also accepted by number_format


class FormatMismatch(MoneyError):
    """The text is a number, but not written the way the format writes numbers."""


@lru_cache(maxsize=64)
def number_format(locale_name: str) -> NumberFormat:
    """The format of a locale (``de_DE``, ``de-DE``, ``fr``); ``plain``/``C``/``POSIX``/empty are plain.

    Raises ``ValueError`` for a name Babel does not know.
    """
    name = (locale_name or "C").strip().split(".")[0].split("@")[0]
    if name.upper() in ("C", "POSIX", PLAIN_NAME.upper()) or name.endswith("_POSIX"):
        return PLAIN
    try:
        locale = Locale.parse(name.replace("-", "_"))
    except (UnknownLocaleError, ValueError) as exc:
        raise ValueError(f"unknown number format {locale_name!r}; use a locale such as en_GB or de_DE, "
                         f"or {PLAIN_NAME} for 1234.56") from exc
    symbols = locale.number_symbols.get("latn", {})
    decimal = symbols.get("decimal", ".")
    group = symbols.get("group", ",")
    pattern = locale.decimal_formats.get(None)
    primary, secondary = pattern.grouping if pattern is not None else (3, 3)
    if group in _SPACES:
        marks = _SPACES
    elif group in _APOSTROPHES:
        marks = _APOSTROPHES
    else:
        marks = (group,)
    return NumberFormat(str(locale), decimal, group, marks, primary, secondary)


# The formats a file is tried in, in order of preference when several read it the same.
FILE_FORMATS: tuple[str, ...] = ("en_GB", "de_DE", "fr_FR", "de_CH", "en_IN")


def environment_format() -> NumberFormat:
    """The number format of this process's locale (``LC_ALL``/``LC_NUMERIC``/``LANG``), for the CLI."""
    from babel import default_locale

    try:
        return number_format(default_locale("LC_NUMERIC") or "C")
    except ValueError:
        return PLAIN


def file_formats() -> list[NumberFormat]:
    return [number_format(name) for name in FILE_FORMATS]


def format_amount(value: Decimal, currency: str | None, fmt: NumberFormat = PLAIN) -> str:
    """``Decimal('-1234.5')``, GBP -> ``-1,234.50`` (en) / ``-1.234,50`` (de): exact, the currency's
    decimals (more if the value has more), grouping as the format does it. Reads back with
    :func:`parse_amount` in the same format."""
    places = currency_exponent(currency) if currency else 2
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int):
        places = max(places, -exponent)  # never hide precision the data has
    text = format(abs(value), f".{places}f")
    whole, _, fraction = text.partition(".")
    if fmt.group:
        groups = [whole[-fmt.primary:]]
        rest = whole[:-fmt.primary]
        while rest:
            groups.insert(0, rest[-fmt.secondary:])
            rest = rest[:-fmt.secondary]
        whole = fmt.group.join(groups)
    out = whole + (fmt.decimal + fraction if fraction else "")
    return "-" + out if value < 0 else out


def plain_amount(value: Decimal, currency: str) -> str:
    """The amount as codatdesk writes it into files: plain ``-1234.500``, exactly the currency's
    decimals (JPY ``1000``, KWD ``1.000``, GBP ``12.50``), whatever decimals the value carries
    (the database returns ``1000.00`` for JPY 1000). Extra precision is kept, never rounded away."""
    exact = value.quantize(Decimal(1).scaleb(-currency_exponent(currency)))
    return format_amount(exact if exact == value else value, currency, PLAIN)


@lru_cache(maxsize=512)
def accepted_currency_marks(currency: str) -> frozenset[str]:
    """The ISO code and the symbols CLDR gives the currency in common locales (``£``, ``US$``, ``€``)."""
    return frozenset({currency, *(get_currency_symbol(currency, locale) for locale in _SYMBOL_LOCALES)})


def parse_amount(text: str, currency: str | None = None, fmt: NumberFormat = PLAIN) -> Decimal:
    """Read ``text`` in ``fmt``, or raise :class:`MoneyError` saying why not.

    Accepts a sign in front or behind, parentheses for a negative, and a currency code or
    symbol that names ``currency``. Refuses more decimals than the currency has.
    """
    raw = text.strip()
    if not raw:
        raise MoneyError("amount is empty")
    if _EXPONENT.search(raw):
        raise MoneyError(f"{raw!r} is in scientific notation; write the amount in full")
    match = _AMOUNT.match(raw)
    if not match:
        raise MoneyError(f"not an amount: {raw!r}")
    signs = [s for s in (match["s1"], match["s2"], match["s3"]) if s]
    parens = bool(match["open"]) or bool(match["close"])
    if parens and not (match["open"] and match["close"]):
        raise MoneyError(f"unbalanced parentheses in {raw!r}")
    if len(signs) + parens > 1:
        raise MoneyError(f"{raw!r} has more than one sign")
    mark = match["c1"] or match["c2"]
    if match["c1"] and match["c2"]:
        raise MoneyError(f"{raw!r} has two currency marks")
    if mark:
        if currency is None or not is_known_currency(currency):
            raise MoneyError(f"{raw!r} carries a currency mark {mark!r} but the currency is not known")
        if mark not in accepted_currency_marks(currency):
            raise MoneyError(f"{raw!r} is marked {mark!r}, which is not {currency}")
    negative = parens or (bool(signs) and signs[0] in _MINUS)
    value = _parse_number(match["num"], fmt, raw)
    if negative:
        value = -value
    if currency is not None:
        places = currency_exponent(currency)
        decimals = -value.as_tuple().exponent  # type: ignore[operator]
        if decimals > places:
            raise MoneyError(f"{raw!r} has {decimals} decimals; {currency} has {places}")
    return value


def _parse_number(number: str, fmt: NumberFormat, raw: str) -> Decimal:
    """Digits with grouping marks and one decimal mark, exactly as ``fmt`` writes them."""
    whole, decimal_mark, fraction = number.partition(fmt.decimal)
    if decimal_mark and not fraction.isdigit():
        raise FormatMismatch(f"{raw!r} does not fit the number format {fmt.example} "
                             f"(after the decimal mark {fmt.decimal!r} only digits may follow)")
    if whole.isdigit():
        digits = whole
    else:
        digits = _ungroup(whole, fmt, raw)
    return Decimal(f"{digits}.{fraction}" if decimal_mark else digits)


def _ungroup(whole: str, fmt: NumberFormat, raw: str) -> str:
    marks = [c for c in whole if not c.isdigit()]
    wrong = f"{raw!r} does not fit the number format {fmt.example}"
    if not fmt.group or any(m not in fmt.group_marks for m in marks):
        raise FormatMismatch(wrong)
    mark = marks[0]
    if any(m != mark for m in marks):
        raise FormatMismatch(f"{wrong} (mixed grouping marks)")
    groups = whole.split(mark)
    head, middle, last = groups[0], groups[1:-1], groups[-1]
    ok = (1 <= len(head) <= fmt.secondary and not head.startswith("0")
          and all(len(g) == fmt.secondary for g in middle) and len(last) == fmt.primary)
    if not ok:
        raise FormatMismatch(f"{wrong} (grouping in the wrong places)")
    return "".join(groups)


# ------------------------------------------------------------------ files: which format?


@dataclass(frozen=True)
class AmountCell:
    """One amount as found in a file: where it is and what it says."""

    line: int
    column: str
    text: str
    currency: str | None


@dataclass
class Detection:
    """The outcome of :func:`detect_format`."""

    fmt: NumberFormat
    values: dict[tuple[int, str], Decimal] = field(default_factory=dict)
    # (line, column) -> why it was refused
    problems: dict[tuple[int, str], str] = field(default_factory=dict)
    chosen_by: str = "detected"  # or "given"


def readings(text: str, currency: str | None, formats: Sequence[NumberFormat]) -> dict[NumberFormat, Decimal]:
    """Every format in ``formats`` that reads ``text``, with what it reads."""
    out: dict[NumberFormat, Decimal] = {}
    for fmt in formats:
        try:
            out[fmt] = parse_amount(text, currency, fmt)
        except MoneyError:
            pass
    return out


def detect_format(cells: Iterable[AmountCell], given: NumberFormat | None = None,
                  candidates: Sequence[NumberFormat] | None = None, given_by: str = "given") -> Detection:
    """Read every amount of a file in one number format.

    With ``given`` (the user chose, or the file names it: ``given_by`` says which), each cell
    is read in it. Otherwise the format is the one
    that reads every cell (preferring earlier candidates when several read all cells the same);
    a cell that the formats still in the running read as different numbers is refused with each
    reading; when no format reads every cell, the one that reads the most is taken and the rest
    are refused, saying what they would read as in another format.
    """
    cells = list(cells)
    if given is not None:
        detection = Detection(given, chosen_by=given_by)
        for cell in cells:
            try:
                detection.values[(cell.line, cell.column)] = parse_amount(cell.text, cell.currency, given)
            except MoneyError as exc:
                detection.problems[(cell.line, cell.column)] = str(exc)
        return detection

    formats = list(candidates or file_formats())
    seen: dict[tuple[str, str | None], dict[NumberFormat, Decimal]] = {}  # files repeat amounts a lot
    table = []
    for cell in cells:
        key = (cell.text, cell.currency)
        if key not in seen:
            seen[key] = readings(cell.text, cell.currency, formats)
        table.append((cell, seen[key]))
    readers = [f for f in formats if all(f in r for _c, r in table)]
    if readers:
        chosen = readers[0]
    else:
        score = {f: sum(1 for _c, r in table if f in r) for f in formats}
        chosen = max(formats, key=lambda f: score[f])  # max keeps the first of equals
        readers = [chosen]
    detection = Detection(chosen)
    for cell, found in table:
        where = (cell.line, cell.column)
        if chosen not in found:
            detection.problems[where] = _why_not(cell, chosen, found)
            continue
        distinct = {found[f] for f in readers if f in found}
        if len(distinct) > 1:
            detection.problems[where] = (
                f"{cell.text.strip()!r} reads two ways: "
                + " or ".join(f"{found[f]} (format {f.example})" for f in _first_per_value(readers, found))
                + "; choose the file's number format, or write the amount with its decimals")
            continue
        detection.values[where] = found[chosen]
    return detection


def _why_not(cell: AmountCell, chosen: NumberFormat, found: dict[NumberFormat, Decimal]) -> str:
    """Why ``cell`` is refused in the file's format ``chosen`` (which does not read it), and its other readings."""
    try:
        parse_amount(cell.text, cell.currency, chosen)
        reason = f"{cell.text!r} does not fit the number format {chosen.example}"
    except MoneyError as exc:
        reason = str(exc)
    if found:
        reason += "; " + ", ".join(f"in the format {f.example} it would read {found[f]}"
                                   for f in _first_per_value(list(found), found))
        reason += f". The file's other amounts use {chosen.example}"
    return reason


def _first_per_value(formats: Sequence[NumberFormat], found: dict[NumberFormat, Decimal]) -> list[NumberFormat]:
    seen: dict[Decimal, NumberFormat] = {}
    for f in formats:
        if f in found and found[f] not in seen:
            seen[found[f]] = f
    return list(seen.values())
