"""`ctrack nap check` against pages served on loopback: numbers in text, tel: links, JSON-LD and
microdata; sprawl only off the business's own sites; bad pages refused with a reason."""

import json
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ctrack.nap.extract import page_numbers

OWN = """<html><body><div itemscope itemtype="https://schema.org/LocalBusiness">
<span itemprop="telephone">(503) 555-0100</span></div>
<p>Call <a href="tel:+15035550101">our line</a></p>
<script type="application/ld+json">{"@type": "Plumber", "telephone": "+1-503-555-0100"}</script>
<script>var x = "503-555-0199";</script></body></html>"""
DIRECTORY = """<html><body><h1>Ace Plumbing</h1><p>Phone: 503.555.0101</p>
<meta itemprop="telephone" content="+1 503 555 0100"></body></html>"""
CLEAN = "<html><body><p>Ace Plumbing, (503) 555-0100</p></body></html>"


class Pages(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/redirect")
            self.end_headers()
            return
        if self.path == "/huge":
            body = b"<p>" + b"x" * (3 * 1024 * 1024) + b"</p>"
        else:
            body = {"/own": OWN, "/directory": DIRECTORY, "/clean": CLEAN}.get(self.path, "").encode()
        self.send_response(200 if body else 404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Pages)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def ctrack(tmp_path, ctrack_db):
    db = ctrack_db
    ini = tmp_path / "ctrack.ini"
    # the business's own site is 127.0.0.1 (its pool); "localhost" stands for a directory site
    ini.write_text(f"[ctrack]\ndatabase = {db}\n[business]\npublished_number = (503) 555-0100\n")

    def run(*args):
        return subprocess.run(
            [sys.executable, "-m", "ctrack", "--config", str(ini), *args], capture_output=True, text=True, timeout=60
        )

    assert run("init").returncode == 0
    assert run("source", "add", "Google", "--channel", "paid_search").returncode == 0
    assert run("pool", "add", "web", "--site", "127.0.0.1").returncode == 0
    assert run("number", "add", "+15035550101", "--source", "Google").returncode == 0
    return run


def test_page_numbers_finds_each_place():
    found = page_numbers(OWN)
    assert found["microdata"] == {"+15035550100"} and found["tel"] == {"+15035550101"}
    assert found["jsonld"] == {"+15035550100"}
    assert "+15035550199" not in found["text"]  # script text is not page text


def test_tracking_number_on_the_own_site_is_fine(server, ctrack):
    proc = ctrack("nap", "check", f"http://127.0.0.1:{server}/own", "--json")
    assert proc.returncode == 0, proc.stderr
    [page] = json.loads(proc.stdout)
    assert page["own_site"] and page["published_present"] and page["tracking_numbers"] == ["+15035550101"]


def test_tracking_number_on_another_site_is_sprawl(server, ctrack, tmp_path):
    urls = tmp_path / "urls.txt"
    urls.write_text(f"http://localhost:{server}/directory\nhttp://localhost:{server}/clean\n")
    proc = ctrack("nap", "check", "--file", str(urls), "--json")
    assert proc.returncode == 1
    directory, clean = json.loads(proc.stdout)
    assert directory["sprawl"] and directory["tracking_numbers"] == ["+15035550101"]
    assert directory["found"]["microdata"] == ["+15035550100"] and directory["published_present"]
    assert not clean["sprawl"] and clean["published_present"]
    assert ctrack("nap", "check", f"http://localhost:{server}/clean").returncode == 0


@pytest.mark.parametrize(
    ("path", "reason"),
    [("/huge", "page larger than"), ("/redirect", "more than 5 redirects"), ("/missing", "HTTP 404")],
)
def test_a_bad_page_is_refused_with_a_reason(server, ctrack, path, reason):
    proc = ctrack("nap", "check", f"http://127.0.0.1:{server}{path}")
    assert proc.returncode == 1 and reason in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_an_unreachable_page_and_a_bad_url(ctrack):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = ctrack("nap", "check", f"http://127.0.0.1:{port}/")
    assert proc.returncode == 1 and "ClientConnectorError" in proc.stderr
    bad = ctrack("nap", "check", "ftp://example.com/")
    assert bad.returncode == 1 and bad.stderr.strip() == "ctrack: error: not an http(s) URL: 'ftp://example.com/'"
