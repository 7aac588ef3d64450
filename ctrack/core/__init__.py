"""The pure core: domain model, attribution, pools, call state. No I/O lives here.

Nothing under ctrack.core may import asyncio, socket, or sqlite3; a unit
test enforces it, so that the rules can be tested and reused by every adapter.
"""
