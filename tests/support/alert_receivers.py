"""Real receivers for alerts on loopback: an SMTP server (aiosmtpd) with STARTTLS and login,
and a chat webhook (aiohttp) that records the JSON it is posted."""

from __future__ import annotations

import email
import email.policy
import json
import socket
import ssl
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "alerts"
CERT, KEY = FIXTURES / "smtp-cert.pem", FIXTURES / "smtp-key.pem"  # self-signed, CN=localhost, IP:127.0.0.1
PATH = "/services/T000/B000/hook"
USER, PASSWORD = "alerts@example.com", "smtp-test-password"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class SmtpReceiver:
    """Mail as received: every message parsed, and whether the session was TLS and logged in."""

    port: int = field(default_factory=free_port)
    messages: list[EmailMessage] = field(default_factory=list)
    sessions: list[tuple[bool, str | None]] = field(default_factory=list)  # (tls, login)
    controller: Controller | None = None

    async def handle_DATA(self, server, session, envelope) -> str:
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        login = session.auth_data.decode() if session.authenticated else None
        self.sessions.append((session.ssl is not None, login))
        return "250 OK"

    @staticmethod
    def _authenticate(server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
            USER.encode(),
            PASSWORD.encode(),
        )
        return AuthResult(success=ok, auth_data=auth_data.login if ok else None)

    def start(self) -> SmtpReceiver:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(CERT, KEY)
        self.controller = Controller(
            self,
            hostname="127.0.0.1",
            port=self.port,
            tls_context=context,
            require_starttls=True,
            auth_required=True,
            authenticator=self._authenticate,
        )
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def ini(self, to: str = "office@example.com") -> str:
        """The [alerts] mail settings that reach this server."""
        return (
            f"smtp_host = 127.0.0.1\nsmtp_port = {self.port}\nsmtp_starttls = yes\nsmtp_ca_file = {CERT}\n"
            f"smtp_user = {USER}\nsmtp_password = {PASSWORD}\nemail_from = ctrack@example.com\nemail_to = {to}\n"
        )


class ChatReceiver:
    """A Slack-compatible incoming webhook on its own thread (usable from sync and async
    tests alike); answers `failures` times 500 first, then 200."""

    def __init__(self, failures: int = 0):
        self.failures = failures
        self.posts: list[dict] = []
        self.statuses: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                ok = self.path == PATH and len(receiver.statuses) >= receiver.failures
                status = 200 if ok else 500
                receiver.statuses.append(status)
                if ok:
                    receiver.posts.append({"content_type": self.headers.get("Content-Type"), **json.loads(body)})
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> ChatReceiver:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{PATH}"
