"""Ad spend input: parse a spend CSV and amounts, spread a lump sum over days.

Amounts are Decimals so that a monthly invoice spread over its days adds up to the cent.
Parsing collects every bad line, so the admin fixes a file in one pass.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from ctrack.errors import CtrackError

COLUMNS = ("date", "source", "amount")
_AMOUNT = re.compile(r"^\d+(\.\d+)?$")
MAX_AMOUNT = Decimal("1000000000")


class SpendError(CtrackError, ValueError):
    """Spend input that cannot be used; str() is one reason per line."""


@dataclass(frozen=True, slots=True)
class SpendLine:
    line: int  # line number in the file (1 = header); 0 for the CLI
    day: date
    source: str
    amount: Decimal


def parse_amount(text: str) -> Decimal:
    cleaned = (text or "").strip()
    if not _AMOUNT.match(cleaned):
        raise SpendError(f"amount {text!r} is not a number such as 125 or 99.50")
    amount = Decimal(cleaned)
    if amount >= MAX_AMOUNT:
        raise SpendError(f"amount {text!r} is too large")
    return amount


def parse_date(text: str) -> date:
    try:
        return date.fromisoformat((text or "").strip())
    except ValueError:
        raise SpendError(f"date {text!r} is not a date (use YYYY-MM-DD)") from None


def parse_spend_csv(text: str) -> tuple[list[SpendLine], list[str]]:
    """Rows of a 'date,source,amount' CSV (any column order) and the problems, 'line N: …'."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        return [], ["line 1: the file is empty (expected the header date,source,amount)"]
    if sorted(header) != sorted(COLUMNS):
        return [], [f"line 1: header must be {','.join(COLUMNS)} (got {','.join(header) or 'nothing'})"]
    at = {name: header.index(name) for name in COLUMNS}
    lines: list[SpendLine] = []
    problems: list[str] = []
    seen: dict[tuple[date, str], int] = {}  # (day, source) -> the line it is first on
    for fields in reader:
        line = reader.line_num
        if not any(f.strip() for f in fields):
            continue
        if len(fields) != len(COLUMNS):
            problems.append(f"line {line}: expected {len(COLUMNS)} fields, got {len(fields)}")
            continue
        reasons = []
        try:
            day = parse_date(fields[at["date"]])
        except SpendError as exc:
            reasons.append(str(exc))
        source = fields[at["source"]].strip()
        if not source:
            reasons.append("source is empty")
        try:
            amount = parse_amount(fields[at["amount"]])
        except SpendError as exc:
            reasons.append(str(exc))
        if not reasons:
            if (day, source) in seen:
                reasons.append(f"{source} on {day} is also on line {seen[(day, source)]}")
            else:
                seen[(day, source)] = line
        if reasons:
            problems.append(f"line {line}: {'; '.join(reasons)}")
        else:
            lines.append(SpendLine(line, day, source, amount))
    return lines, problems


def spread(amount: Decimal, first: date, last: date) -> list[tuple[date, Decimal]]:
    """A lump sum over days first..last in whole cents that add up exactly (earlier days
    take the left-over cents)."""
    if first > last:
        raise SpendError(f"the period starts ({first}) after it ends ({last})")
    days = (last - first).days + 1
    cents = int((amount * 100).to_integral_value())
    if Decimal(cents) != amount * 100:
        raise SpendError(f"amount {amount} has fractions of a cent; it cannot be spread over days")
    base, extra = divmod(cents, days)
    return [(first + timedelta(days=i), Decimal(base + (1 if i < extra else 0)) / 100) for i in range(days)]
