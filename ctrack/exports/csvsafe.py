"""CSV that a spreadsheet opens as data, never as formulas.

Caller names come from the caller ID and source names can come from a visitor's UTM
parameters: a text cell starting with = + - @ (or a tab/CR/LF) would run as a formula in
Excel or LibreOffice (`=HYPERLINK(…)`, DDE). Such cells get a leading apostrophe, the
spreadsheet convention for "this is text". Numbers, and text that is only a phone number
or a plain number (+15551234567, -3.5), pass unchanged: they hold nothing executable.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from typing import Any

_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")
_NUMERIC = re.compile(r"^[+-]?[0-9][0-9 ().-]*$")


def neutralize(value: Any) -> Any:
    """A cell value safe to open in a spreadsheet."""
    if not isinstance(value, str) or not value.startswith(_TRIGGERS) or _NUMERIC.match(value):
        return value
    return "'" + value


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return neutralize(value)


def to_csv(rows: Iterable[dict[str, Any]], columns: Sequence[str]) -> str:
    """Rows as CSV text with a header, every cell neutralized."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    return out.getvalue()
