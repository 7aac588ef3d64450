"""The pure core: domain model, attribution, pools, call state. No I/O lives here.

Nothing under ctrack.core may import asyncio, socket, sqlite3 or aiosqlite; a unit
test enforces it, so that the rules can be tested and reused by every adapter.
"""
