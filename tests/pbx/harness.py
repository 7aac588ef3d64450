"""A real Asterisk for the integration tests: a Python face for tests/pbx/testpbx.sh.

One `TestPBX` is one named instance of the chroot's Asterisk (its own config, logs,
spool, database and ports), so test sessions of several engineers, and the demo,
run side by side on one machine.  Everything listens on 127.0.0.1 only.

    pbx = TestPBX()                 # ports: free ones, picked at start
    pbx.start()                     # ~0.4 s warm (the chroot is provisioned once)
    pbx.load_dialplan(text)         # the dialplan under test: must define [ctrack-inbound]
    pbx.load_manager(text)          # AMI users under test (ctrack's, with its eventfilter)
    result = pbx.call("15035550101", caller="15035550123", name="Zoë Müller", talk=3)
    assert result.status == 200
    handles = [pbx.call_async(...) for _ in range(20)]; [h.result() for h in handles]
    pbx.cancel_call("15035550101", ring_seconds=2)   # abandoned: CANCEL while ringing
    pbx.stop()

Dialplan.  extensions.conf sends every DID from the "carrier" ([from-trunk]) to
`Goto(ctrack-inbound,${EXTEN},1)` and then `#include ctrack-test.conf`, the text
given to `load_dialplan()`.  The business lines it may dial:
`Local/s@business-line` (answers at once, talks until the caller hangs up),
`Local/talk-T@business-line` (hangs up itself after T s), `Local/ring-R@business-line`,
`Local/ring-R-talk-T@business-line`, `Local/s@business-noanswer`, `Local/s@business-busy`.

FastAGI.  The harness only reserves a free TCP port, `fastagi_port`; the test runs its
FastAGI server there and renders `fastagi_url(...)` into the dialplan text it loads
(as `ctrack dialplan render` bakes the URL in production).  extensions.conf has no
[globals] on purpose: Asterisk reads only the first [globals] section, so one there
would hide the include's.

Classic AGI.  Asterisk runs AGI scripts inside the chroot, so a script and the Python
it imports must be there: the chroot has python3 and python3-phonenumbers (testpbx.sh's
CHROOT_PACKAGES); `install_python("ctrack", "asterisk", "six")` copies pure-Python
packages from this interpreter into the instance (`python_path_in_pbx`, byte-compiled
there) and `install_agi(name, text)` puts an executable into the instance's own AGI
directory (astagidir), e.g. a wrapper setting PYTHONPATH and CTRACK_CONFIG.  Files the
PBX must read go under `state_dir` (`pbx_path()` gives their path inside the chroot);
`run_in_pbx()` runs a command in the chroot with Asterisk's environment.

Phones behind the PBX.  `agent("qa1", answer_after=2)` is a SIPp UAS on free ports;
`pjsip_config(context)` gives its endpoint + AOR for `load_config("ctrack-pjsip.conf", ...,
"module reload res_pjsip.so")` (pjsip.conf #tryincludes it); `start()` takes one call
(180, then 200 after answer_after s and wait for the BYE; None: ring until CANCEL),
`wait()` gives SIPp's exit code.  `load_config("queues.conf", text, "module load
app_queue.so")` installs any other config.  `press1_call_async()` is a caller that presses 1
(RFC 2833) 2 s after the answer, for IVR menus.

Nothing here skips: any failure raises `PBXError` with the reason.
"""

from __future__ import annotations

import csv
import importlib.util
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TypeVar

SCRIPT = Path(__file__).resolve().with_name("testpbx.sh")
DEFAULT_ROOT = "/opt/ctrack-pbx"
SLOT_PORTS = 4  # a call's ports: RTP, RTCP, SIPp's SIP, SIPp's control socket

# Master.csv columns (cdr_csv with loguniqueid + loguserfield; newcdrcolumns adds 3)
CDR_COLUMNS = (
    "accountcode",
    "src",
    "dst",
    "dcontext",
    "clid",
    "channel",
    "dstchannel",
    "lastapp",
    "lastdata",
    "start",
    "answer",
    "end",
    "duration",
    "billsec",
    "disposition",
    "amaflags",
    "uniqueid",
    "userfield",
    "peeraccount",
    "linkedid",
    "sequence",
)

T = TypeVar("T")

# settings of testpbx.sh that must not leak in from the caller's environment
_SCRIPT_VARIABLES = frozenset(
    {
        "PBX_DIALPLAN",
        "PBX_MANAGER",
        "SIPP_MEDIA_PORT",
        "PBX_WATCH_PID",
        "PBX_WATCH_CLEAN",
        "SIP_PORT",
        "AMI_PORT",
        "AMI_USER",
        "AMI_SECRET",
        "RTP_START",
        "RTP_END",
        "FASTAGI_PORT",
        "SIPP_MEDIA_START",
        "SIPP_MEDIA_END",
        "PBX_TIMESTAMPEVENTS",
    }
)


class PBXError(RuntimeError):
    """The test PBX could not do what was asked; str() says why."""


def wait_until(
    predicate: Callable[[], T], timeout: float = 10.0, interval: float = 0.05, message: str = "condition"
) -> T:
    """Poll `predicate` until it returns something truthy; raise TimeoutError at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{message} not met within {timeout} s")
        time.sleep(interval)


@dataclass(frozen=True)
class CallResult:
    did: str
    caller: str
    name: str
    returncode: int  # SIPp's exit code: 0 = the scenario ran to its end
    status: int | None  # final SIP status of the INVITE: 200, 486, 487, 603... (None: none)
    hangup_by: str | None  # answered calls: "caller" (SIPp sent BYE) or "pbx"
    seconds: float  # wall time of the SIPp run
    message_log: Path  # SIPp's trace of every SIP message sent and received
    output: str  # what testpbx.sh printed

    def sip_talk_seconds(self) -> float | None:
        """Seconds from the INVITE's 200 OK to the first BYE, as SIPp's own trace timed them."""
        stamps: dict[str, datetime] = {}
        when = None
        for line in self.message_log.read_text(errors="replace").splitlines():
            if line.startswith("-----") and line.rstrip().endswith("Z"):
                when = datetime.strptime(line.split()[-1], "%Y-%m-%dT%H:%M:%S.%fZ")
            elif when is not None and line.strip() and not line.startswith("UDP message"):
                key = "ok" if line.startswith("SIP/2.0 200") else "bye" if line.startswith("BYE ") else None
                if key and key not in stamps:
                    stamps[key] = when
                when = None
        if "ok" not in stamps or "bye" not in stamps:
            return None
        return (stamps["bye"] - stamps["ok"]).total_seconds()

    @property
    def answered(self) -> bool:
        return self.status == 200

    def __str__(self) -> str:
        return (
            f"call to {self.did} from {self.caller}: rc={self.returncode} status={self.status} "
            f"hangup_by={self.hangup_by} {self.seconds:.2f}s (SIP trace: {self.message_log})"
        )


def _parse_kv(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        m = re.match(r"^([A-Z][A-Z0-9_]*)=(.*)$", line)
        if m:
            value = m.group(2)
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            out[m.group(1)] = value
    return out


class CallProcess(subprocess.Popen):
    """A call in progress: the Popen of `testpbx.sh call ...`.  `result()` waits for it."""

    def __init__(self, args, *, env, did, caller, name, default_timeout):
        super().__init__(
            args,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
        self.did, self.caller, self.name = did, caller, name
        self._default_timeout = default_timeout
        self._result: CallResult | None = None
        self._lock = threading.Lock()

    def result(self, timeout: float | None = None) -> CallResult:
        """Wait for the call to end (default: talk/ring time + 90 s) and return its outcome."""
        with self._lock:
            if self._result is None:
                try:
                    out, _ = self.communicate(timeout=timeout or self._default_timeout)
                except subprocess.TimeoutExpired:
                    self.kill()
                    out, _ = self.communicate()
                    raise PBXError(f"call to {self.did} did not end in time; output:\n{out}") from None
                kv = _parse_kv(out)
                if "SIPP_RC" not in kv:
                    raise PBXError(f"call to {self.did} failed before SIPp ran (exit {self.returncode}):\n{out}")
                self._result = CallResult(
                    did=self.did,
                    caller=self.caller,
                    name=self.name,
                    returncode=int(kv["SIPP_RC"]),
                    status=int(kv["INVITE_STATUS"]) if kv.get("INVITE_STATUS") else None,
                    hangup_by=kv.get("HANGUP_BY") or None,
                    seconds=float(kv.get("CALL_SECONDS") or 0),
                    message_log=Path(kv.get("MESSAGE_LOG", "")),
                    output=out,
                )
            return self._result


_AGENT_SDP = """
      v=0
      o=agent 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 8
      a=rtpmap:8 PCMA/8000"""
_AGENT_REPLY = """
  <send>
    <![CDATA[
      SIP/2.0 {status}
      [last_Via:]
      [last_From:]
      [last_To:]{tag}
      [last_Call-ID:]
      CSeq: [$cseq] {method}
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      {body}
    ]]>
  </send>"""
_TAG = ";tag=[pid]SIPpTag01[call_number]"


def _agent_scenario(answer_after: float | None) -> str:
    """A phone (SIPp UAS): 180, then 200 after `answer_after` s and wait for the PBX's BYE;
    or (None) ring until the PBX sends CANCEL (200 to it, 487 to the INVITE)."""
    ringing = _AGENT_REPLY.format(status="180 Ringing", tag=_TAG, method="INVITE", body="Content-Length: 0")
    if answer_after is None:
        rest = (
            '  <recv request="CANCEL"/>'
            + _AGENT_REPLY.format(status="200 OK", tag=_TAG, method="CANCEL", body="Content-Length: 0")
            + _AGENT_REPLY.format(status="487 Request Terminated", tag=_TAG, method="INVITE", body="Content-Length: 0")
            + '\n  <recv request="ACK"/>'
        )
    else:
        answer = _AGENT_REPLY.format(
            status="200 OK",
            tag=_TAG,
            method="INVITE",
            body="Content-Type: application/sdp\n      Content-Length: [len]\n" + _AGENT_SDP,
        ).replace("<send>", '<send retrans="500">')
        rest = (
            f'  <pause milliseconds="{int(answer_after * 1000)}"/>'
            + answer
            + '\n  <recv request="ACK"/>\n  <recv request="BYE"/>'
            + _AGENT_REPLY.format(status="200 OK", tag="", method="BYE", body="Content-Length: 0").replace(
                "CSeq: [$cseq] BYE", "[last_CSeq:]"
            )
        )
    return (
        '<?xml version="1.0" encoding="UTF-8" ?>\n<!DOCTYPE scenario SYSTEM "sipp.dtd">\n'
        '<scenario name="ctrack-agent">\n  <recv request="INVITE"><action>'
        '<ereg regexp="[0-9]+" search_in="hdr" header="CSeq:" assign_to="cseq"/></action></recv>'
        + ringing
        + "\n"
        + rest
        + "\n</scenario>\n"
    )


def _free_udp_ports(count: int) -> list[int]:
    """`count` consecutive free UDP ports on 127.0.0.1 (for one SIPp: SIP, media, RTCP, control)."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind(("127.0.0.1", 0))
            base = probe.getsockname()[1]
        if base + count >= 65535:
            continue
        socks = []
        try:
            for port in range(base, base + count):
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(sock)
                sock.bind(("127.0.0.1", port))
            return list(range(base, base + count))
        except OSError:
            continue
        finally:
            for sock in socks:
                sock.close()
    raise PBXError("no block of free UDP ports")


class Agent:
    """A phone behind the PBX: SIPp as a UAS on its own free port, for a PJSIP endpoint
    `name` whose AOR contact is `contact` (render `pjsip_config()` into ctrack-pjsip.conf).
    One call per start(); `wait()` returns SIPp's exit code (0: the call went as scripted)."""

    def __init__(self, pbx: TestPBX, name: str, answer_after: float | None) -> None:
        self.pbx, self.name, self.answer_after = pbx, name, answer_after
        self.sip_port, self.media_port, _, self.control_port = _free_udp_ports(4)
        self.process: subprocess.Popen | None = None

    @property
    def contact(self) -> str:
        return f"sip:{self.name}@127.0.0.1:{self.sip_port}"

    def pjsip_config(self, context: str) -> str:
        """The endpoint and AOR of this phone; calls it makes (REFER, BYE) run in `context`."""
        return (
            f"[{self.name}]\ntype = endpoint\ntransport = transport-udp\ncontext = {context}\n"
            f"disallow = all\nallow = alaw,ulaw\naors = {self.name}\ndirect_media = no\n"
            f"rtp_symmetric = yes\nmedia_address = 127.0.0.1\n\n"
            f"[{self.name}]\ntype = aor\ncontact = {self.contact}\n\n"
        )

    def start(self, timeout: float = 60) -> Agent:
        folder = self.pbx.state_dir / "agents"
        folder.mkdir(parents=True, exist_ok=True)
        scenario = folder / f"{self.name}-{self.sip_port}.xml"
        scenario.write_text(_agent_scenario(self.answer_after))
        self.message_log = folder / f"{self.name}-{self.sip_port}.msg.log"
        args = ["sipp", "-sf", self.pbx.pbx_path(scenario), "-i", "127.0.0.1", "-p", str(self.sip_port)]
        args += ["-mi", "127.0.0.1", "-mp", str(self.media_port), "-ci", "127.0.0.1", "-cp", str(self.control_port)]
        args += ["-m", "1", "-timeout", f"{int(timeout)}s", "-timeout_error", "-nostdin"]
        args += ["-trace_msg", "-message_file", self.pbx.pbx_path(self.message_log)]
        self.process = subprocess.Popen(
            ["bash", str(self.pbx.script), "run", *args],
            env=self.pbx._env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # stop() ends SIPp too, not only the script around it
        )
        return self

    def wait(self, timeout: float = 90) -> int:
        assert self.process is not None, "agent not started"
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise PBXError(f"agent {self.name} did not end in time") from None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


class TestPBX:
    """One Asterisk instance in the test chroot (see the module docstring)."""

    __test__ = False  # not a pytest test class

    def __init__(
        self,
        root: str | os.PathLike | None = None,
        instance: str | None = None,
        *,
        sip_port: int | str = "auto",
        ami_port: int | str = "auto",
        rtp_start: int | str = "auto",
        fastagi_port: int | str = "auto",
        sipp_media_start: int | str = "auto",
        keep: bool | None = None,
        timestampevents: bool = True,
        start_timeout: float = 30,
        script: str | os.PathLike = SCRIPT,
    ):
        self.root = Path(root or os.environ.get("CTRACK_PBX_ROOT") or DEFAULT_ROOT)
        self.instance = instance or f"pytest-{os.getpid()}"
        self.script = Path(script)
        self.keep = keep if keep is not None else os.environ.get("CTRACK_PBX_KEEP", "") not in ("", "0")
        self.start_timeout = start_timeout
        self._ports = {
            "SIP_PORT": sip_port,
            "AMI_PORT": ami_port,
            "RTP_START": rtp_start,
            "FASTAGI_PORT": fastagi_port,
            "SIPP_MEDIA_START": sipp_media_start,
        }
        self._timestampevents = "yes" if timestampevents else "no"  # manager.conf: Timestamp: on events
        self._settings: dict[str, str] = {}
        self._slots: list[CallProcess | None] = []
        self._slot_lock = threading.Lock()
        self._next_slot = 0

    # --- running the script -------------------------------------------------------
    def _env(self, ports: bool = False, **extra: str) -> dict[str, str]:
        # The instance's ports are given at start only; later commands read them from
        # the instance.env the script saved (so 'auto' is resolved once).
        env = {k: v for k, v in os.environ.items() if k not in _SCRIPT_VARIABLES}
        env["PBX_ROOT"] = str(self.root)
        env["PBX_INSTANCE"] = self.instance
        env["PBX_START_TIMEOUT"] = str(int(self.start_timeout))
        env["PBX_TIMESTAMPEVENTS"] = self._timestampevents
        if ports:
            env.update({key: str(value) for key, value in self._ports.items()})
        env.update(extra)
        return env

    def _run(
        self,
        *args: str,
        input: str | None = None,
        timeout: float = 120,
        check: bool = True,
        ports: bool = False,
        **extra_env: str,
    ) -> subprocess.CompletedProcess:
        if os.geteuid() != 0:
            raise PBXError("the test PBX needs root (chroot, debootstrap): run the tests as root")
        try:
            proc = subprocess.run(
                ["bash", str(self.script), *args],
                env=self._env(ports, **extra_env),
                input=input,
                capture_output=True,
                text=True,
                timeout=timeout,
                encoding="utf-8",
                errors="replace",
                stdin=None if input is not None else subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired as exc:
            raise PBXError(f"testpbx.sh {' '.join(args)} did not finish in {timeout} s") from exc
        if check and proc.returncode != 0:
            raise PBXError(
                f"testpbx.sh {' '.join(args)} failed (exit {proc.returncode}):\n"
                f"{proc.stderr.strip()}\n{proc.stdout.strip()}".rstrip()
            )
        return proc

    def _refresh(self) -> None:
        self._settings = _parse_kv(self._run("env").stdout)
        slots = (int(self._settings["SIPP_MEDIA_END"]) - int(self._settings["SIPP_MEDIA_START"]) + 1) // SLOT_PORTS
        with self._slot_lock:
            if len(self._slots) != slots:
                self._slots = [None] * slots

    # --- life cycle -------------------------------------------------------------------
    def start(self) -> TestPBX:
        """Provision the chroot if needed (cold: ~45 s), start Asterisk, wait for FullyBooted."""
        if not self.script.exists():
            raise PBXError(f"{self.script} is missing")
        extra = {"PBX_WATCH_PID": str(os.getpid())}  # a killed test session stops its PBX
        if not self.keep:
            extra["PBX_WATCH_CLEAN"] = "1"
        timeout = self.start_timeout + 600  # a cold setup downloads ~90 MB
        try:
            self._run("start", timeout=timeout, ports=True, **extra)
        except PBXError as first:
            # 'auto' ports are free when picked; another process may take one before
            # Asterisk binds it.  Try once more with fresh ones.
            if "already in use" not in str(first) and "did not come up" not in str(first):
                raise
            if not any(v == "auto" for v in self._ports.values()):
                raise
            self._run("start", timeout=timeout, ports=True, **extra)
        self._refresh()
        return self

    def stop(self) -> None:
        """Stop Asterisk; without keep=True (or CTRACK_PBX_KEEP=1), delete the instance's files."""
        self._run("stop" if self.keep else "clean", timeout=60)

    def restart(self) -> None:
        """Stop and start again with the same ports and the same loaded includes."""
        self._run(
            "restart",
            timeout=self.start_timeout + 60,
            PBX_WATCH_PID=str(os.getpid()),
            **({} if self.keep else {"PBX_WATCH_CLEAN": "1"}),
        )
        self._refresh()

    def kill(self) -> None:
        """SIGKILL Asterisk, as a crash or a power cut: no Hangup events, no CDR rows.
        restart() starts it again (a new process, the same ports and includes)."""
        self._run("kill", timeout=30)

    def is_running(self) -> bool:
        return self._run("status", check=False, timeout=30).returncode == 0

    def __enter__(self) -> TestPBX:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- configuration under test -------------------------------------------------------
    def cli(self, command: str, timeout: float = 30) -> str:
        """Run an Asterisk CLI command ('core show channels') and return its output."""
        return self._run("cli", command, timeout=timeout).stdout

    def load_dialplan(self, text: str | None) -> str:
        """Install `text` as ctrack-test.conf (None: the default one) and reload the dialplan.

        Raises PBXError if a context the text defines is not in the dialplan afterwards
        (a syntax error makes Asterisk skip what follows it)."""
        if text is None:
            out = self._run("dialplan", "--default").stdout
            text = Path(self._settings["DIALPLAN_FILE"]).read_text() if self._settings else ""
        else:
            out = self._run("dialplan", "-", input=text).stdout
        wanted = {c for c in re.findall(r"^\s*\[([^\]\s]+)\]", text, re.M) if c.lower() not in ("general", "globals")}
        if wanted:
            loaded = set(re.findall(r"\[ Context '([^']+)' created by", self.cli("dialplan show")))
            missing = sorted(wanted - loaded)
            if missing:
                raise PBXError(f"dialplan reload left out context(s) {missing}; Asterisk log:\n{self.log_tail(15)}")
        return out

    def load_manager(self, text: str | None) -> str:
        """Install `text` as ctrack-manager.conf (None: empty) and reload the manager.

        Raises PBXError if a user the text defines is not known afterwards."""
        if text is None:
            return self._run("manager", "--default").stdout
        out = self._run("manager", "-", input=text).stdout
        wanted = {u for u in re.findall(r"^\s*\[([^\]\s]+)\]", text, re.M) if u.lower() != "general"}
        if wanted:
            users = self.cli("manager show users")
            missing = sorted(u for u in wanted if not re.search(rf"^\s*{re.escape(u)}\s", users, re.M))
            if missing:
                raise PBXError(f"manager reload left out user(s) {missing}; Asterisk log:\n{self.log_tail(15)}")
        return out

    def load_config(self, name: str, text: str, command: str | None = None) -> str:
        """Install `text` as the instance's config file `name` (queues.conf, voicemail.conf,
        ctrack-pjsip.conf, which pjsip.conf includes...) and run the CLI `command` that reads
        it ('module load app_queue.so', 'module reload res_pjsip.so').  A start keeps only ctrack-*.conf."""
        return self._run("config", name, "-", *([command] if command else []), input=text).stdout

    # --- calls ----------------------------------------------------------------------------
    def _acquire_slot(self) -> int:
        with self._slot_lock:
            n = len(self._slots)
            for i in range(n):
                slot = (self._next_slot + i) % n
                proc = self._slots[slot]
                if proc is None or proc.poll() is not None:
                    self._next_slot = (slot + 1) % n
                    return slot
        raise PBXError(f"more than {n} calls at once")

    def _spawn(self, command: str, did: str, caller: str, name: str, seconds: float) -> CallProcess:
        if not self._settings:
            raise PBXError("the PBX is not started")
        slot = self._acquire_slot()
        media = int(self._settings["SIPP_MEDIA_START"]) + SLOT_PORTS * slot
        proc = CallProcess(
            ["bash", str(self.script), command, str(did), str(caller), name, f"{seconds:g}"],
            env=self._env(SIPP_MEDIA_PORT=str(media)),
            did=str(did),
            caller=str(caller),
            name=name,
            default_timeout=seconds + 90,
        )
        with self._slot_lock:
            self._slots[slot] = proc
        return proc

    def call_async(
        self, did: str, caller: str = "15035550123", name: str = "Test Caller", talk: float = 3
    ) -> CallProcess:
        """Start an answered-call attempt; the caller hangs up after `talk` s of conversation
        (unless the PBX hangs up first).  Returns at once; `.result()` waits."""
        return self._spawn("call", did, caller, name, talk)

    def call(
        self,
        did: str,
        caller: str = "15035550123",
        name: str = "Test Caller",
        talk: float = 3,
        timeout: float | None = None,
    ) -> CallResult:
        """Place one real SIP call (SIPp) to `did` and wait for its end."""
        return self.call_async(did, caller, name, talk).result(timeout)

    def press1_call_async(
        self, did: str, caller: str = "15035550123", name: str = "Test Caller", talk: float = 8
    ) -> CallProcess:
        """An answered call whose caller presses 1 (RFC 2833) 2 s after the answer, as in an
        IVR menu, then talks until `talk` s after the answer (or the PBX hangs up)."""
        return self._spawn("call-press1", did, caller, name, talk)

    def agent(self, name: str, *, answer_after: float | None = 1.0) -> Agent:
        """A SIPp phone for the PJSIP endpoint `name` (see Agent): it answers after
        `answer_after` s and talks until the PBX hangs up, or (None) rings until cancelled."""
        return Agent(self, name, answer_after)

    def cancel_call_async(
        self, did: str, caller: str = "15035550123", name: str = "Test Caller", ring_seconds: float = 2
    ) -> CallProcess:
        """Start an abandoned call: it waits for 180/183, rings `ring_seconds`, sends CANCEL."""
        return self._spawn("call-cancel", did, caller, name, ring_seconds)

    def cancel_call(
        self,
        did: str,
        caller: str = "15035550123",
        name: str = "Test Caller",
        ring_seconds: float = 2,
        timeout: float | None = None,
    ) -> CallResult:
        """Place an abandoned call and wait for its end (status 487 when it went as planned)."""
        return self.cancel_call_async(did, caller, name, ring_seconds).result(timeout)

    # --- where things are ------------------------------------------------------------------
    def _get(self, key: str) -> str:
        if not self._settings:
            raise PBXError("the PBX is not started")
        return self._settings[key]

    ami_host = property(lambda self: self._get("AMI_HOST"))
    ami_port = property(lambda self: int(self._get("AMI_PORT")))
    ami_user = property(lambda self: self._get("AMI_USER"))
    ami_secret = property(lambda self: self._get("AMI_SECRET"))
    sip_host = property(lambda self: self._get("SIP_HOST"))
    sip_port = property(lambda self: int(self._get("SIP_PORT")))
    rtp_range = property(lambda self: (int(self._get("RTP_START")), int(self._get("RTP_END"))))
    fastagi_host = "127.0.0.1"
    fastagi_port = property(
        lambda self: int(self._get("FASTAGI_PORT")), doc="a free TCP port reserved for the tests' FastAGI server"
    )
    etc_dir = property(lambda self: Path(self._get("ETC_DIR")))
    dialplan_file = property(lambda self: Path(self._get("DIALPLAN_FILE")))
    manager_file = property(lambda self: Path(self._get("MANAGER_FILE")))
    recordings_dir = property(
        lambda self: Path(self._get("RECORDINGS_DIR")),
        doc="MixMonitor's directory for relative file names, as seen from the host",
    )
    recordings_dir_in_pbx = property(
        lambda self: self._get("RECORDINGS_DIR_IN_PBX"),
        doc="the same directory as Asterisk sees it (inside the chroot)",
    )
    cdr_csv = property(lambda self: Path(self._get("CDR_CSV")))
    state_dir = property(
        lambda self: Path(self._get("STATE_DIR")),
        doc="the instance's own directory (deleted with it), as seen from the host",
    )
    agi_dir = property(
        lambda self: Path(self._get("AGI_DIR")),
        doc="the instance's astagidir (AGI(name) runs AGI_DIR/name), as seen from the host",
    )
    python_path = property(
        lambda self: self.state_dir / "python", doc="where install_python() puts packages, as seen from the host"
    )
    python_path_in_pbx = property(lambda self: self.pbx_path(self.python_path))
    messages_log = property(lambda self: Path(self._get("ASTERISK_LOG")))

    def fastagi_url(self, path: str = "") -> str:
        """agi://127.0.0.1:PORT/path for the dialplan under test."""
        return f"agi://{self.fastagi_host}:{self.fastagi_port}/{path.lstrip('/')}"

    def host_path(self, path_in_pbx: str | os.PathLike) -> Path:
        """A path as Asterisk sees it (e.g. MIXMONITOR_FILENAME) -> the same file on the host."""
        return self.root / Path(path_in_pbx).relative_to("/")

    def pbx_path(self, host_path: str | os.PathLike) -> str:
        """A file under the chroot, as seen from the host -> its path inside the PBX."""
        try:
            return "/" + str(Path(host_path).resolve().relative_to(self.root.resolve()))
        except ValueError:
            raise PBXError(f"{host_path} is not inside the PBX's chroot {self.root}") from None

    # --- classic AGI ------------------------------------------------------------------------
    def run_in_pbx(self, *args: str, input: bytes | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
        """Run a command inside the chroot, in the clean environment Asterisk itself has."""
        if os.geteuid() != 0:
            raise PBXError("the test PBX needs root (chroot)")
        try:
            return subprocess.run(
                ["bash", str(self.script), "run", *args],
                env=self._env(),
                input=input,
                capture_output=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired as exc:
            raise PBXError(f"{' '.join(args)} did not finish in the PBX in {timeout} s") from exc

    def install_python(self, *modules: str) -> str:
        """Copy importable pure-Python modules/packages (as this interpreter finds them) into
        the instance's python_path, byte-compile them with the chroot's python3, and return
        that directory's path inside the PBX (for PYTHONPATH)."""
        dest = self.python_path
        dest.mkdir(parents=True, exist_ok=True)
        for name in modules:
            spec = importlib.util.find_spec(name)
            if spec is None or spec.origin in (None, "built-in", "frozen"):
                raise PBXError(f"cannot find the Python module {name!r} to copy into the PBX")
            if spec.submodule_search_locations:
                [src] = list(spec.submodule_search_locations)
                shutil.rmtree(dest / name, ignore_errors=True)
                shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            else:
                if not spec.origin.endswith(".py"):
                    raise PBXError(f"{name} is not pure Python ({spec.origin})")
                shutil.copy2(spec.origin, dest / Path(spec.origin).name)
        in_pbx = self.pbx_path(dest)
        proc = self.run_in_pbx("python3", "-m", "compileall", "-q", in_pbx, timeout=120)
        if proc.returncode != 0:
            raise PBXError(f"python3 -m compileall in the PBX failed:\n{proc.stdout.decode()}{proc.stderr.decode()}")
        return in_pbx

    def install_agi(self, name: str, text: str) -> Path:
        """Put an executable AGI script into the instance's astagidir: AGI(name) runs it."""
        if "/" in name or name.startswith("."):
            raise PBXError(f"bad AGI script name {name!r}")
        path = self.agi_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{name}.tmp")
        tmp.write_text(text)
        tmp.chmod(0o755)
        tmp.replace(path)  # never a half-written script for a call in progress
        return path

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.messages_log.read_text(errors="replace").splitlines()[-lines:])
        except (OSError, PBXError):
            return "(no Asterisk log)"

    def cdr_rows(self) -> list[dict[str, str]]:
        """Master.csv as dicts keyed by CDR_COLUMNS ([] if no call has ended yet)."""
        try:
            with self.cdr_csv.open(newline="", encoding="utf-8", errors="replace") as f:
                return [dict(zip(CDR_COLUMNS, row)) for row in csv.reader(f)]
        except FileNotFoundError:
            return []

    def __repr__(self) -> str:
        ports = f" SIP {self._settings['SIP_PORT']} AMI {self._settings['AMI_PORT']}" if self._settings else ""
        return f"<TestPBX {self.instance} in {self.root}{ports}>"
