"""The dashboard's call page over HTTP: fields, the mark form's CSRF check, unknown calls."""

from __future__ import annotations

import re

from tests.unit.dashboard.test_http import board, login  # noqa: F401 (fixture)


async def test_call_page_marks_with_a_valid_token_only(board):  # noqa: F811
    client, conn = board
    await login(client)
    call_id = conn.execute("SELECT id FROM calls WHERE uniqueid = 'c3'").fetchone()[0]
    page = await (await client.get(f"/dashboard/calls/{call_id}")).text()
    assert 'src="/dashboard/static/call.js"' in page and "<script>" not in page
    token = re.search(r'id="mark-form".*?name="csrf" value="([^"]+)"', page, re.S).group(1)

    def state():
        return tuple(
            conn.execute("SELECT lead_status, value, note, marked_by FROM calls WHERE id = ?", (call_id,)).fetchone()
        )

    before = state()
    form = {"lead_status": "lead", "value": "75", "tags": "", "note": "x"}
    stale = await client.post(f"/dashboard/calls/{call_id}", data={**form, "csrf": "forged"}, allow_redirects=False)
    assert stale.status == 400 and state() == before
    foreign = await client.post(
        f"/dashboard/calls/{call_id}",
        data={**form, "csrf": token},
        headers={"Origin": "https://evil.example"},
        allow_redirects=False,
    )
    assert foreign.status == 400 and state() == before
    bad = await client.post(f"/dashboard/calls/{call_id}", data={**form, "value": "1,5", "csrf": token})
    assert bad.status == 400 and "non-negative amount" in await bad.text() and state() == before
    ok = await client.post(f"/dashboard/calls/{call_id}", data={**form, "csrf": token}, allow_redirects=False)
    assert ok.status == 303 and ok.headers["Location"] == f"/dashboard/calls/{call_id}?saved=3"
    assert state() == ("lead", 75.0, "x", "dashboard:alice")
    assert (await client.get("/dashboard/calls/999999")).status == 404
    assert (await client.get("/dashboard/calls/abc")).status == 404
    listing = await (await client.get("/dashboard/calls?since=2024-03-09&until=2024-03-11")).text()
    assert f'href="/dashboard/calls/{call_id}"' in listing


async def test_call_page_needs_a_login(board):  # noqa: F811
    client, _ = board
    resp = await client.get("/dashboard/calls/1", allow_redirects=False)
    assert resp.status == 303 and "/dashboard/login" in resp.headers["Location"]
    post = await client.post("/dashboard/calls/1", data={"lead_status": "spam"}, allow_redirects=False)
    assert post.status == 303
