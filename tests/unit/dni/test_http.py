"""The DNI HTTP contract on a real loopback server: leases, renewals, overflow, CORS, limits,
AMP, the snippet, a daemon restart, and crediting a call to the visit that held the number."""

import asyncio
import json
import sqlite3
import time
from functools import partial

import aiohttp
import pytest
from click.testing import CliRunner

from ctrack.calllog.store import save_call
from ctrack.cli import cli
from ctrack.core.model import CallRecord
from ctrack.dni.http import DNI, expiry_ms
from tests.support.database import dicts
from tests.support.dni_env import FALLBACK, POOL_NUMBERS, PUBLISHED, make_db, saved, serve

ORIGIN = "https://www.example.test"
GCLID_VISIT = {
    "site": "example.test",
    "page_url": "https://www.example.test/drains?gclid=G-123&utm_term=drain",
    "referrer": "https://www.google.com/",
    "params": {"gclid": "G-123", "utm_term": "drain"},
    "ga_client_id": "111.222",
}


@pytest.fixture
def db(ctrack_db):
    return make_db(ctrack_db)


async def lease(http, base, body=GCLID_VISIT, origin=ORIGIN, **over):
    headers = {"Origin": origin} if origin else {}
    async with http.post(f"{base}/dni/v1/lease", data=json.dumps({**body, **over}), headers=headers) as r:
        return r.status, await r.json(), r.headers


def rows(db, sql, *params):
    return dicts(db, sql, params)


async def test_lease_contract_and_renewal(db):
    async with serve(db) as (base, services, app), aiohttp.ClientSession() as http:
        before = time.time()
        status, body, headers = await lease(http, base)
        assert status == 200
        assert set(body) == {
            "visit_id",
            "number",
            "formatted",
            "source",
            "lease_expires_at",
            "visit_expires_at",
            "published",
        }
        assert body["number"] in POOL_NUMBERS
        assert body["formatted"] == f"(503) 555-{body['number'][-4:]}"
        assert body["source"] == "Google Ads"
        # milliseconds, rounded down: never later than the lease really ends
        assert before + 1800 - 0.001 < body["lease_expires_at"] <= time.time() + 1800
        assert body["visit_expires_at"] == pytest.approx(before + 30 * 86400, abs=5)
        assert body["published"] == [{"number": PUBLISHED, "formatted": "(503) 555-0100"}]
        assert headers["Access-Control-Allow-Origin"] == ORIGIN
        assert headers["Cache-Control"] == "no-store"
        await saved(app)
        visit = rows(db, "SELECT * FROM visits WHERE id = ?", body["visit_id"])[0]
        assert (visit["gclid"], visit["utm_term"], visit["source"], visit["channel"]) == (
            "G-123",
            "drain",
            "Google Ads",
            "paid_search",
        )
        assert (visit["number"], visit["ga_client_id"]) == (body["number"], "111.222")
        # the heartbeat renews the same number
        _, again, _ = await lease(
            http,
            base,
            visit_id=body["visit_id"],
            page_url="https://www.example.test/contact",
            referrer="https://www.example.test/drains",
            params={},
        )
        assert (again["visit_id"], again["number"], again["source"]) == (body["visit_id"], body["number"], "Google Ads")
        assert again["lease_expires_at"] > body["lease_expires_at"]
        await saved(app)
        leases = rows(db, "SELECT kind, expires_at FROM leases WHERE visit_id = ?", body["visit_id"])
        assert len(leases) == 1 and leases[0]["kind"] == "lease"
        assert leases[0]["expires_at"] == pytest.approx(again["lease_expires_at"], abs=0.001)


async def test_each_visit_its_own_number_then_the_fallback(db):
    async with serve(db, "[dni]\nleases_per_client = 0\n") as (base, services, app), aiohttp.ClientSession() as http:
        numbers = [(await lease(http, base))[1]["number"] for _ in POOL_NUMBERS]
        assert sorted(numbers) == POOL_NUMBERS
        status, over, _ = await lease(http, base)
        assert (status, over["number"], over["formatted"]) == (200, FALLBACK, "(503) 555-0199")
        metrics = await (await http.get(f"{base}/metrics")).text()
        assert "ctrack_dni_pool_pressure_total 1" in metrics
        assert "ctrack_dni_leased_numbers 3" in metrics
    result = CliRunner().invoke(cli, ["--db", str(db), "pool", "stats", "web", "--json"])
    assert result.exit_code == 0, result.output
    stats = json.loads(result.output)
    assert (stats["numbers"], stats["leased_now"], stats["visits"]) == (3, 3, 4)
    assert (stats["pressure_visits"], stats["peak_visits"], stats["recommended_size"]) == (1, 4, 5)
    table = CliRunner().invoke(cli, ["--db", str(db), "pool", "stats", "web"]).output
    assert "recommended  5 numbers (add 2)" in table
    missing = CliRunner().invoke(cli, ["--db", str(db), "pool", "stats", "nope"])
    assert missing.exit_code == 1 and "unknown pool 'nope'" in missing.stderr


async def test_cors_only_for_the_sites_origins(db):
    async with (
        serve(db, "[dni]\nallowed_origins = https://staging.example.net\n") as (base, _, _),
        aiohttp.ClientSession() as http,
    ):
        for origin in ("https://example.test", "http://shop.example.test:8080", "https://staging.example.net"):
            status, _, headers = await lease(http, base, origin=origin)
            assert status == 200 and headers["Access-Control-Allow-Origin"] == origin
        for origin in ("https://evil.test", "https://example.test.evil.test", "null"):
            status, body, headers = await lease(http, base, origin=origin)
            assert status == 403 and "Access-Control-Allow-Origin" not in headers
        ok = await http.options(
            f"{base}/dni/v1/lease",
            headers={
                "Origin": ORIGIN,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )
        assert ok.status == 204 and ok.headers["Access-Control-Allow-Origin"] == ORIGIN
        assert ok.headers["Access-Control-Allow-Methods"] == "POST"
        refused = await http.options(f"{base}/dni/v1/lease", headers={"Origin": "https://evil.test"})
        assert refused.status == 403 and "Access-Control-Allow-Origin" not in refused.headers


async def test_bad_input_is_refused_and_leases_nothing(db):
    async with serve(db) as (base, _, _), aiohttp.ClientSession() as http:
        url = f"{base}/dni/v1/lease"
        cases = [
            (b"{not json", 400, "body: expected JSON"),
            (json.dumps({**GCLID_VISIT, "params": {"gclid": "x" * 501}}).encode(), 400, "gclid: longer than 500"),
            (json.dumps({**GCLID_VISIT, "phone": "+15035550100"}).encode(), 400, "unknown field 'phone'"),
            (json.dumps({**GCLID_VISIT, "page_url": "https://x/" + "a" * 9000}).encode(), 413, "body larger"),
            (json.dumps({**GCLID_VISIT, "site": "unknown.test"}).encode(), 404, "no number pool"),
        ]
        for data, status, message in cases:
            async with http.post(url, data=data, headers={"Origin": "https://unknown.test"}) as r:
                assert r.status == status, data[:40]
                assert (await r.json())["error"].startswith(message)
    assert rows(db, "SELECT count(*) AS n FROM visits") == [{"n": 0}]


async def test_rate_limit_per_client(db):
    async with (
        serve(db, "[dni]\nrate_per_minute = 60\nrate_burst = 3\n") as (base, _, _),
        aiohttp.ClientSession() as http,
    ):
        statuses = [(await lease(http, base))[0] for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        status, body, headers = await lease(http, base)
        assert status == 429 and int(headers["Retry-After"]) >= 1


async def test_forwarded_for_counts_only_from_a_trusted_proxy(db):
    ini = "[dni]\nrate_per_minute = 60\nrate_burst = 1\n[http]\ntrusted_proxies = 127.0.0.1\n"
    async with serve(db, ini) as (base, _, _), aiohttp.ClientSession() as http:
        url = f"{base}/dni/v1/lease"
        for client, expected in (("203.0.113.5", 200), ("203.0.113.6", 200), ("203.0.113.5", 429)):
            async with http.post(
                url, data=json.dumps(GCLID_VISIT), headers={"X-Forwarded-For": f"198.51.100.1, {client}"}
            ) as r:
                assert r.status == expected, client


async def test_a_restart_keeps_every_lease(db):
    # every visit here comes from one address: a cap of 2 per client would share a number
    # with the third (PostgreSQL keeps whose each lease is across the restart)
    uncapped = "[dni]\nleases_per_client = 3\n"
    async with serve(db, uncapped) as (base, _, _), aiohttp.ClientSession() as http:
        first = (await lease(http, base))[1]
        second = (await lease(http, base))[1]
    async with serve(db, uncapped) as (base, _, app), aiohttp.ClientSession() as http:
        renewed = (await lease(http, base, visit_id=first["visit_id"]))[1]
        assert (renewed["visit_id"], renewed["number"]) == (first["visit_id"], first["number"])
        assert renewed["source"] == "Google Ads"
        third = (await lease(http, base))[1]
        assert third["number"] not in (first["number"], second["number"])
        assert app[DNI].visit_for(second["number"], time.time()) == second["visit_id"]


async def test_first_and_last_touch_per_site(ctrack_dbs):
    for site, ini, expected in (
        ("first.test", "", "Google Ads"),
        ("last.test", "[dni]\nsite_attribution = last.test=last:7\n", "mailer"),
    ):
        db = make_db(ctrack_dbs(site.split(".")[0]), site=site)
        async with serve(db, ini) as (base, _, _), aiohttp.ClientSession() as http:
            body = {**GCLID_VISIT, "site": site}
            first = (await lease(http, base, body, origin=None))[1]
            mail = {
                "site": site,
                "page_url": f"https://{site}/?utm_source=mailer&utm_medium=email",
                "params": {"utm_source": "mailer", "utm_medium": "email"},
                "visit_id": first["visit_id"],
            }
            again = (await lease(http, base, mail, origin=None))[1]
            assert again["source"] == expected, site
            assert again["visit_id"] == first["visit_id"]


async def test_amp_contract(db):
    async with serve(db) as (base, _, _), aiohttp.ClientSession() as http:
        url = f"{base}/dni/v1/amp"
        params = {
            "site": "example.test",
            "__amp_source_origin": "https://www.example.test",
            "client_id": "amp-abc",
            "page_url": "https://www.example.test/amp/?gclid=G-9",
        }
        cache = "https://www-example-test.cdn.ampproject.org"
        async with http.get(url, params=params, headers={"Origin": cache}) as r:
            assert r.status == 200
            body = await r.json()
            assert set(body) == {"phoneNumber", "formattedPhoneNumber"}
            assert body["phoneNumber"] in POOL_NUMBERS
            assert r.headers["Access-Control-Allow-Origin"] == cache
            assert r.headers["Access-Control-Allow-Credentials"] == "true"
            assert r.headers["AMP-Access-Control-Allow-Source-Origin"] == "https://www.example.test"
            assert r.headers["Access-Control-Expose-Headers"] == "AMP-Access-Control-Allow-Source-Origin"
        async with http.get(url, params=params, headers={"AMP-Same-Origin": "true"}) as r:
            assert (await r.json())["phoneNumber"] == body["phoneNumber"]  # same reader, same number
        refusals = [
            ({"Origin": "https://evil.test"}, params),
            ({"Origin": cache}, {**params, "__amp_source_origin": "https://evil.test"}),
            ({}, params),  # neither Origin nor AMP-Same-Origin
        ]
        for headers, query in refusals:
            async with http.get(url, params=query, headers=headers) as r:
                assert r.status == 403 and "Access-Control-Allow-Origin" not in r.headers
    visit = rows(db, "SELECT gclid, source FROM visits")
    assert visit == [{"gclid": "G-9", "source": "Google Ads"}]


async def test_snippet_is_served_and_cacheable(db):
    async with serve(db) as (base, _, _), aiohttp.ClientSession() as http:
        async with http.get(f"{base}/ctrack.js") as r:
            assert r.status == 200 and r.content_type == "application/javascript"
            text = await r.text()
            assert "dni/v1/lease" in text and len(text.encode()) < 16_000
            etag = r.headers["ETag"]
        async with http.get(f"{base}/ctrack.js", headers={"If-None-Match": etag}) as r:
            assert r.status == 304


# --- calls to pool numbers -----------------------------------------------------------------


async def save(services, record):
    """Save a call as the call log does (the visits it may belong to are committed first)."""

    await services.writer.run(lambda conn: save_call(conn, record, services.call_rules))
    return rows(services.db_path, "SELECT * FROM calls WHERE uniqueid = ?", record.uniqueid)[0]


async def test_a_call_carries_the_visit_that_held_the_number(db):
    async with serve(db) as (base, services, app), aiohttp.ClientSession() as http:
        body = (await lease(http, base))[1]
        await saved(app)
        call = await save(
            services,
            CallRecord(
                "c1",
                tracking_number=body["number"],
                caller_number="+15415550142",
                started_at=time.time(),
                ended_at=time.time() + 5,
            ),
        )
        assert (call["visit_id"], call["source"], call["channel"]) == (body["visit_id"], "Google Ads", "paid_search")
        assert (call["gclid"], call["keyword"], call["ga_client_id"]) == ("G-123", "drain", "111.222")
        assert call["landing_page"] == GCLID_VISIT["page_url"]
        assert call["visit_ambiguous"] == 0
        other = next(n for n in POOL_NUMBERS if n != body["number"])
        unleased = await save(services, CallRecord("c2", tracking_number=other, started_at=time.time()))
        assert (unleased["visit_id"], unleased["source"], unleased["visit_ambiguous"]) == (None, None, 0)
        listed = CliRunner().invoke(cli, ["--db", str(db), "dni", "visits", "--json"])
        assert json.loads(listed.output)[0]["calls"] == 1


async def test_grace_period_and_ambiguity(ctrack_db):
    db = make_db(ctrack_db, numbers=POOL_NUMBERS[:1], overflow="share", lease_seconds=60)
    async with serve(db, "[dni]\ngrace_seconds = 120\n") as (base, services, app), aiohttp.ClientSession() as http:
        first = (await lease(http, base))[1]
        shared = (await lease(http, base))[1]
        await saved(app)
        assert shared["number"] == first["number"] == POOL_NUMBERS[0]
        now = time.time()
        both = await save(services, CallRecord("c1", tracking_number=POOL_NUMBERS[0], started_at=now))
        assert both["visit_ambiguous"] == 1 and both["visit_id"] == shared["visit_id"]
        after_grace = await save(services, CallRecord("c2", tracking_number=POOL_NUMBERS[0], started_at=now + 60 + 121))
        assert after_grace["visit_id"] is None
        within_grace = await save(services, CallRecord("c3", tracking_number=POOL_NUMBERS[0], started_at=now + 100))
        assert within_grace["visit_id"] == shared["visit_id"] and within_grace["visit_ambiguous"] == 1


# --- writing behind ------------------------------------------------------------------------


@pytest.mark.sqlite_only(
    "the write-behind of SQLite's in-memory leases; on PostgreSQL a lease commits before its answer"
)
async def test_a_failed_save_is_retried_not_dropped(db, monkeypatch):
    from ctrack.dni.http import DNI
    from ctrack.dni.service import WriteBehind

    monkeypatch.setattr(WriteBehind, "RETRY_SECONDS", 0.05)
    async with serve(db) as (base, services, app), aiohttp.ClientSession() as http:
        real_submit, failures = services.writer.submit, []

        def flaky(job, durable=None):
            if not failures:
                failures.append(job)
                future = asyncio.get_running_loop().create_future()
                future.set_exception(sqlite3.OperationalError("database is locked"))
                return future
            return real_submit(job, durable)

        monkeypatch.setattr(services.writer, "submit", flaky)
        body = (await lease(http, base))[1]
        await saved(app)
        assert failures and app[DNI].saver.failures == 1
    assert rows(db, "SELECT id, number FROM visits") == [{"id": body["visit_id"], "number": body["number"]}]
    assert len(rows(db, "SELECT * FROM leases")) == 1


async def test_a_heartbeat_for_a_visit_the_database_lacks_writes_it_whole(db):
    from ctrack.dni.attribution import Touch, Visit
    from ctrack.dni.pools import Grant, GrantKind
    from ctrack.dni.store import save_visits

    visit = Visit("V" * 22, "example.test", 1.0, 2.0, Touch(gclid="g"), "Google Ads", "paid_search")
    grant = Grant(visit.id, "web", POOL_NUMBERS[0], GrantKind.LEASE, 1.0, 1801.0)
    async with serve(db) as (_, services, _):
        await services.writer.run(partial(save_visits, visits=[(visit, grant, False)], grants=[(grant, False)]))
    assert rows(db, "SELECT gclid, number, lease_expires_at FROM visits") == [
        {"gclid": "g", "number": POOL_NUMBERS[0], "lease_expires_at": 1801.0}
    ]
    assert rows(db, "SELECT kind, started_at, expires_at FROM leases") == [
        {"kind": "lease", "started_at": 1.0, "expires_at": 1801.0}
    ]


async def test_a_returning_visitor_after_a_restart_keeps_the_first_touch(ctrack_db):
    db = make_db(ctrack_db, lease_seconds=1)
    async with serve(db) as (base, _, _), aiohttp.ClientSession() as http:
        first = (await lease(http, base))[1]
    time.sleep(1.1)  # the lease ran out: nothing to restore, the visit is on disk
    mail = {
        "site": "example.test",
        "page_url": "https://example.test/?utm_source=mailer&utm_medium=email",
        "params": {"utm_source": "mailer", "utm_medium": "email"},
        "visit_id": first["visit_id"],
    }
    async with serve(db) as (base, _, app), aiohttp.ClientSession() as http:
        assert app[DNI].visit_for(first["number"], time.time()) == first["visit_id"]  # within the grace
        again = (await lease(http, base, mail))[1]
    assert (again["visit_id"], again["source"]) == (first["visit_id"], "Google Ads")
    assert rows(db, "SELECT gclid, utm_source FROM visits") == [{"gclid": "G-123", "utm_source": None}]
    assert len(rows(db, "SELECT * FROM leases WHERE visit_id = ?", first["visit_id"])) == 2


async def test_many_visits_in_one_save(db, monkeypatch):
    from ctrack.dni import store
    from ctrack.dni.attribution import Touch, Visit
    from ctrack.dni.pools import Grant, GrantKind

    monkeypatch.setattr(store, "ROWS_PER_STATEMENT", 7)  # several statements per kind of row
    visits = [
        Visit(f"visit-{i:017d}", "example.test", 1.0, 2.0, Touch(utm_term=f"k{i}"), "x", "other") for i in range(20)
    ]
    grants = [Grant(v.id, "web", POOL_NUMBERS[i % 3], GrantKind.SHARED, 1.0, 100.0) for i, v in enumerate(visits)]
    later = [g.until(200.0) for g in grants]
    async with serve(db) as (_, services, _):
        await services.writer.run(
            partial(
                store.save_visits,
                visits=[(v, g, True) for v, g in zip(visits, grants)],
                grants=[(g, True) for g in grants],
            )
        )
        await services.writer.run(
            partial(
                store.save_visits,
                visits=[(v, g, False) for v, g in zip(visits, later)],
                grants=[(g, False) for g in later],
            )
        )
    assert rows(db, "SELECT count(*) AS n, min(lease_expires_at) AS lo, max(utm_term) AS hi FROM visits") == [
        {"n": 20, "lo": 200.0, "hi": "k9"}
    ]
    assert rows(db, "SELECT count(*) AS n, min(expires_at) AS lo FROM leases") == [{"n": 20, "lo": 200.0}]


async def test_one_address_cannot_drain_the_pool(ctrack_db):
    """Five cookie-less requests from one address: two numbers ([dni] leases_per_client = 2), then
    the number it already holds; the same for an IPv6 /64; other visitors still get their own."""
    numbers = [f"+1503555011{i}" for i in range(5)]
    db = make_db(ctrack_db, numbers=numbers)
    async with (
        serve(db, "[http]\ntrusted_proxies = 127.0.0.1\n") as (base, _, app),
        aiohttp.ClientSession() as http,
    ):
        url = f"{base}/dni/v1/lease"

        async def from_client(client):
            async with http.post(url, data=json.dumps(GCLID_VISIT), headers={"X-Forwarded-For": client}) as r:
                assert r.status == 200
                return await r.json()

        drained = [await from_client("198.51.100.7") for _ in range(5)]
        assert len({b["visit_id"] for b in drained}) == 5
        assert len({b["number"] for b in drained[:2]}) == 2
        assert [b["number"] for b in drained[2:]] == [drained[1]["number"]] * 3
        lan = [(await from_client(f"2001:db8:7:7::{i}"))["number"] for i in range(1, 4)]  # one /64
        assert lan[0] != lan[1] and lan[2] == lan[1]
        other = (await from_client("2001:db8:7:8::1"))["number"]
        assert {b["number"] for b in drained} | set(lan) | {other} == set(numbers)
        metrics = await (await http.get(f"{base}/metrics")).text()
        assert "ctrack_dni_capped_total 4" in metrics
        assert "ctrack_dni_leased_numbers 5" in metrics


async def test_the_lease_cap_is_configurable(db):
    async with serve(db, "[dni]\nleases_per_client = 0\n") as (base, _, _), aiohttp.ClientSession() as http:
        numbers = [(await lease(http, base))[1]["number"] for _ in range(4)]
    assert sorted(numbers[:3]) == POOL_NUMBERS and numbers[3] == FALLBACK


CRAWLER_AGENTS = [
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "AdsBot-Google (+http://www.google.com/adsbot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
]
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"


async def test_crawlers_and_prefetches_get_the_published_number_and_no_visit(db):
    published = {"number": PUBLISHED, "formatted": "(503) 555-0100"}
    speculative = [{"Sec-Purpose": "prefetch;prerender"}, {"Purpose": "prefetch"}, {"X-Moz": "prefetch"}]
    async with serve(db) as (base, _, app), aiohttp.ClientSession() as http:
        for headers in [{"User-Agent": a} for a in CRAWLER_AGENTS] + [
            {"User-Agent": BROWSER, **h} for h in speculative
        ]:
            async with http.post(
                f"{base}/dni/v1/lease", data=json.dumps(GCLID_VISIT), headers={"Origin": ORIGIN, **headers}
            ) as r:
                assert r.status == 200, headers
                body = await r.json()
            assert body["visit_id"] is None and body["number"] == PUBLISHED, headers
            assert body["published"] == [published]
            async with http.get(
                f"{base}/dni/v1/amp",
                params={"site": "example.test", "client_id": "amp-crawler"},
                headers={"AMP-Same-Origin": "true", **headers},
            ) as r:
                assert await r.json() == {"phoneNumber": PUBLISHED, "formattedPhoneNumber": "(503) 555-0100"}
        await saved(app)
        # nothing was leased: a real visitor gets the first number
        _, body, _ = await lease(http, base)
        assert body["number"] == POOL_NUMBERS[0]
        await saved(app)
    assert rows(db, "SELECT count(*) AS n FROM visits") == [{"n": 1}]


async def test_the_crawler_list_is_configurable(db):
    googlebot = {"User-Agent": CRAWLER_AGENTS[0], "Origin": ORIGIN}
    async with serve(db, "[dni]\ncrawlers = UptimeProbe\n") as (base, _, _), aiohttp.ClientSession() as http:
        url = f"{base}/dni/v1/lease"
        async with http.post(url, data=json.dumps(GCLID_VISIT), headers=googlebot) as r:
            assert (await r.json())["number"] in POOL_NUMBERS
        async with http.post(url, data=json.dumps(GCLID_VISIT), headers={"User-Agent": "UptimeProbe/2"}) as r:
            assert (await r.json())["visit_id"] is None


@pytest.mark.sqlite_only(
    "the write-behind of SQLite's in-memory leases; on PostgreSQL a lease commits before its answer"
)
async def test_heartbeat_renewals_are_written_once_per_flush_with_the_latest_expiry(db, monkeypatch):
    async with serve(db) as (base, services, app), aiohttp.ClientSession() as http:
        first = (await lease(http, base))[1]
        await saved(app)
        real_submit, jobs = services.writer.submit, []

        def counting(job, durable=None):
            jobs.append(job)
            return real_submit(job, durable)

        monkeypatch.setattr(services.writer, "submit", counting)
        beats = [(await lease(http, base, visit_id=first["visit_id"]))[1] for _ in range(3)]
        assert {b["number"] for b in beats} == {first["number"]}
        await asyncio.sleep(0.2)
        assert jobs == []  # renewals wait for the next renewal flush
        await saved(app)
    [job] = jobs
    assert [(g.visit_id, new) for g, new in job.keywords["grants"]] == [(first["visit_id"], False)]
    assert [whole for _, _, whole in job.keywords["visits"]] == [False]
    [row] = rows(db, "SELECT expires_at FROM leases")
    assert expiry_ms(row["expires_at"]) == beats[-1]["lease_expires_at"]
    assert rows(db, "SELECT lease_expires_at FROM visits")[0]["lease_expires_at"] == row["expires_at"]


def test_expiry_in_milliseconds_is_never_later_than_the_lease():
    # round() made 1800.9996 into 1801.0: a page renewing then would be 0.4 ms late
    for at in (1795001800.9996, 1795001800.0004, 1795001800.5, 1795001801.0, 0.0009999):
        told = expiry_ms(at)
        assert told <= at and at - told < 0.001 and told == round(told, 3)
