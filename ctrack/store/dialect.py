"""The one rule that lets the store's SQLite SQL run on PostgreSQL: a translation of the text.

Feature stores write SQLite SQL (`?` and `:name` placeholders, `BEGIN IMMEDIATE`,
`CAST(x AS INTEGER)`, FTS5 `MATCH`, `x IS ?`); the PostgreSQL connection (store/pg.py) passes every
statement through `to_postgres`. What a translation cannot carry lives in the PostgreSQL
schema instead: SQLite's `julianday('now')` and `datetime(x, 'unixepoch')` exist there as
functions (migrations/0001_initial.pg.sql), so defaults and queries read the same.
Pure string work, cached per statement text.
"""

from __future__ import annotations

import re
from functools import lru_cache

_BEGIN = re.compile(r"^\s*BEGIN\s+(IMMEDIATE|DEFERRED|EXCLUSIVE)\b", re.IGNORECASE)
_MATCH = re.compile(r"\b(\w+) MATCH %s", re.IGNORECASE)
_CAST_OPEN = re.compile(r"\bCAST\s*\(", re.IGNORECASE)
_AS_INTEGER = re.compile(r"\s+AS\s+INTEGER\s*$", re.IGNORECASE)
# SQLite's `x IS ?` compares a parameter NULL-safely; PostgreSQL's IS takes only NULL/TRUE/FALSE.
_IS_PARAM = re.compile(r"\bIS(\s+NOT)?\s+(%s|%\(\w+\)s)", re.IGNORECASE)


@lru_cache(maxsize=4096)
def to_postgres(sql: str) -> str:
    """The statement as PostgreSQL reads it (psycopg's %s / %(name)s placeholders)."""
    sql = _placeholders(sql)
    sql = _BEGIN.sub("BEGIN", sql)
    # FTS5: `transcript_search MATCH ?` is the table's tsvector against the same query text.
    sql = _MATCH.sub(r"\1.document @@ fts5_query(%s)", sql)
    sql = _IS_PARAM.sub(lambda m: f"IS {'' if m.group(1) else 'NOT '}DISTINCT FROM {m.group(2)}", sql)
    return _truncating_casts(sql)


def _placeholders(sql: str) -> str:
    """`?` -> %s, `:name` -> %(name)s, a literal % -> %%; quoted text and comments untouched."""
    out: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch in "'\"":
            end = sql.find(ch, i + 1)
            while end != -1 and end + 1 < n and sql[end + 1] == ch:  # a doubled quote inside
                end = sql.find(ch, end + 2)
            end = n - 1 if end == -1 else end
            out.append(sql[i : end + 1].replace("%", "%%"))
            i = end + 1
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            end = n if end == -1 else end
            out.append(sql[i:end].replace("%", "%%"))
            i = end
        elif ch == "?":
            out.append("%s")
            i += 1
        elif ch == ":" and i + 1 < n and (sql[i + 1].isalpha() or sql[i + 1] == "_") and sql[i - 1 : i] != ":":
            j = i + 1
            while j < n and (sql[j].isalnum() or sql[j] == "_"):
                j += 1
            out.append(f"%({sql[i + 1 : j]})s")
            i = j
        elif ch == "%":
            out.append("%%")
            i += 1
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _truncating_casts(sql: str) -> str:
    """SQLite's CAST(x AS INTEGER) truncates toward zero; PostgreSQL's rounds. Same result
    on both: CAST(trunc(x) AS bigint)."""
    start = 0
    while m := _CAST_OPEN.search(sql, start):
        depth, j = 1, m.end()
        while j < len(sql) and depth:
            depth += {"(": 1, ")": -1}.get(sql[j], 0)
            j += 1
        inner = sql[m.end() : j - 1]
        if depth == 0 and (a := _AS_INTEGER.search(inner)):
            expr = _truncating_casts(inner[: a.start()])
            replacement = f"CAST(trunc(({expr})::float8) AS bigint)"
            sql = sql[: m.start()] + replacement + sql[j:]
            start = m.start() + len(replacement)
        else:
            start = m.end()
    return sql
