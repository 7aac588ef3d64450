"""What may go into a dialplan application's argument as one dial string.

One rule for the route (a number's forward target), the rendered dialplan (the default
business line) and the CLI (refusing a forward at `number add`): a character that would
split Dial's or Gosub's arguments (via U(context^arg)) or a quoted expression is refused.
"""

from __future__ import annotations

import re

_UNSAFE = re.compile(r'[,|&;()^\r\n"]')
RULE = 'a dial string may not contain , | & ; ( ) ^ " or line breaks'


def is_safe(dial: str) -> bool:
    """True for a non-empty dial string the dialplan can pass on as one argument."""
    return bool(dial) and _UNSAFE.search(dial) is None
