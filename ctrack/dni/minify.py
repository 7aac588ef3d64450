"""A small, safe JavaScript minifier for ctrack.js: comments out, whitespace squeezed.

No npm toolchain at run time, and nothing clever: names are kept, strings, template
literals and regular expression literals are copied as written. Whitespace goes unless it
separates two words or would glue two operators (`+ +`, `/ /`); a line break also stays
unless punctuation on either side makes it meaningless, so automatic semicolon insertion
reads the code as before.
"""

from __future__ import annotations

import re

# After one of these a `/` starts a regular expression, not a division.
_REGEX_AFTER = set("(,=:[!&|?{};+-*%<>~^")
_REGEX_KEYWORDS = {"return", "typeof", "case", "do", "else", "in", "instanceof", "new", "delete", "void", "throw"}
# Whitespace next to these is never needed: they end no statement an ASI could split
# (not `}`, `)`, `]`, `++`/`--`, nor a name) and glue to no neighbour.
_FREE_BEFORE = set("{;,([=:?&|*%<>!~^")
_FREE_AFTER = set("{};,()[]=:?&|*%<>.^")
_WORD = re.compile(r"[\w$\\\u0080-\uffff]")


class MinifyError(ValueError):
    """The source has an unterminated string, comment, template or regular expression."""


def minify(source: str) -> str:
    out: list[str] = []
    i, n = 0, len(source)
    last = ""  # the last significant token written: a word or one punctuation character
    pending = ""  # the whitespace seen since it: "", " " or "\n"

    def emit(token: str) -> None:
        nonlocal pending, last
        if pending and out:
            prev, nxt = out[-1][-1], token[0]
            glued = (_WORD.match(prev) and _WORD.match(nxt)) or (prev in "+-" and nxt in "+-")
            glued = glued or (prev == "/" and nxt in "/*")
            if glued or (pending == "\n" and not (prev in _FREE_BEFORE or nxt in _FREE_AFTER)):
                out.append(pending)
        pending = ""
        out.append(token)
        last = token if _WORD.match(token[-1]) else token[-1]

    while i < n:
        c = source[i]
        if c in " \t\r\n\f\v\u00a0\ufeff":
            j = i
            while j < n and source[j] in " \t\r\n\f\v\u00a0\ufeff":
                j += 1
            pending = "\n" if "\n" in source[i:j] else pending or " "
            i = j
        elif source.startswith("//", i):
            j = source.find("\n", i)
            i = n if j < 0 else j
        elif source.startswith("/*", i):
            j = source.find("*/", i + 2)
            if j < 0:
                raise MinifyError("unterminated comment")
            pending = "\n" if "\n" in source[i:j] else pending or " "
            i = j + 2
        elif c in "'\"`":
            j = _end_of_quoted(source, i, c)
            emit(source[i:j])
            i = j
        elif c == "/" and (last == "" or last in _REGEX_AFTER or last in _REGEX_KEYWORDS):
            j = _end_of_regex(source, i)
            emit(source[i:j])
            i = j
        elif _WORD.match(c):
            j = i
            while j < n and (_WORD.match(source[j]) or (source[j] == "." and source[i].isdigit())):
                j += 1
            emit(source[i:j])
            i = j
        else:
            emit(c)
            i += 1
    return "".join(out) + "\n"


def _end_of_quoted(source: str, start: int, quote: str) -> int:
    """The index after a string or template literal (templates with `${…}` are copied whole)."""
    i = start + 1
    while i < len(source):
        c = source[i]
        if c == "\\":
            i += 2
            continue
        if c == quote:
            return i + 1
        if c == "\n" and quote != "`":
            break
        i += 1
    raise MinifyError(f"unterminated {quote} literal at offset {start}")


def _end_of_regex(source: str, start: int) -> int:
    """The index after a regular expression literal and its flags."""
    i, in_class = start + 1, False
    while i < len(source):
        c = source[i]
        if c == "\\":
            i += 2
            continue
        if c == "\n":
            break
        if c == "[":
            in_class = True
        elif c == "]":
            in_class = False
        elif c == "/" and not in_class:
            i += 1
            while i < len(source) and _WORD.match(source[i]):
                i += 1
            return i
        i += 1
    raise MinifyError(f"unterminated regular expression at offset {start}")
