"""The route over outbound ESL: FreeSWITCH's `socket` application connects here for each call.

ctrack answers `connect` at once (FreeSWITCH parks the caller until then), reads the channel,
asks the route handler for a decision, and sets the CTRACK_* variables in one `multiset`.
When the decision says record it plays the consent prompt and, once it has finished,
starts `record_session` (each step waits for its own completion, bounded in time).
Then it says `exit`, and the rendered dialplan (which set `socket_resume=true` and default
CTRACK_FORWARD / CTRACK_RING_TIMEOUT before the socket) goes on to bridge ${CTRACK_FORWARD}.
A pass-through number (forward goto:…) instead ends with `transfer EXTEN XML CONTEXT` into
the admin's own dialplan, after the same prompt and recording (see transfer_target).

So the dialplan, not ctrack, rings the phone: if ctrack is down FreeSWITCH cannot connect and
carries on; if ctrack is slow, fails or sees garbage, it hangs up the socket and the dialplan
rings the business line with the defaults. Each call is its own task with its own deadlines.
"""

from __future__ import annotations

import asyncio
import logging
import posixpath
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ctrack.core import variables as v
from ctrack.freeswitch import esl_protocol as esl
from ctrack.freeswitch.connection import EslClosed, EslConnection
from ctrack.route.rules import RouteDecision, goto_parts
from ctrack.spam.rules import BUSY, HANGUP

if TYPE_CHECKING:
    from ctrack.config import Config

log = logging.getLogger(__name__)

# Values FreeSWITCH must take literally: `set` expands ${...} (even ${system(...)}) in values.
# Forward, consent and whisper are the admin's own dial strings and sounds, where FreeSWITCH
# variables are a feature ('user/100@${domain_name}'); everything else is data.
_DATA = (
    v.UNIQUEID,
    v.TRACKED,
    v.TRACKING_NUMBER,
    v.SOURCE,
    v.CHANNEL,
    v.RING_TIMEOUT,
    v.RECORD,
    v.RECORDING_FILE,
    v.VISIT_ID,
    v.ROUTE_STATUS,
)


@dataclass(frozen=True, slots=True)
class RouteRequest:
    """What FreeSWITCH tells ctrack about a new call on `connect`."""

    did: str  # as the dialplan matched it (CTRACK_DID), else the destination number
    uniqueid: str  # the inbound leg's UUID: the key of the call record
    caller_number: str | None
    caller_name: str | None
    at: float  # unix seconds


RouteHandler = Callable[[RouteRequest], Awaitable[RouteDecision]]


@dataclass(frozen=True, slots=True)
class OutboundSettings:
    recording_directory: str = "/var/lib/freeswitch/recordings"
    route_timeout: float = 2.0  # for the handler: FreeSWITCH holds the caller meanwhile
    reply_timeout: float = 2.0  # for each FreeSWITCH reply
    media_timeout: float = 30.0  # for each application (the consent prompt) to finish

    @classmethod
    def from_config(cls, config: Config) -> OutboundSettings:
        return cls(
            recording_directory=config.freeswitch.recording_directory,
            route_timeout=float(config.freeswitch.route_timeout),
        )


class RouteRefused(ValueError):
    """A decision ctrack will not hand to FreeSWITCH (a data value FreeSWITCH would expand)."""


def request_from_channel(data: dict[str, str], at: float) -> RouteRequest:
    """The route request in an outbound `connect` reply (channel data, already URL-decoded)."""
    uniqueid = data.get("Unique-ID") or data.get("Channel-Unique-ID")
    if not uniqueid:
        raise esl.EslProtocolError("connect reply without the channel's Unique-ID")
    did = data.get("variable_" + v.DID) or data.get("Channel-Destination-Number") or ""
    return RouteRequest(
        did=did,
        uniqueid=uniqueid,
        caller_number=data.get("Channel-Caller-ID-Number") or None,
        caller_name=data.get("Channel-Caller-ID-Name") or None,
        at=at,
    )


def transfer_target(goto: str) -> str:
    """`transfer`'s argument for a pass-through goto: EXTEN XML CONTEXT.

    FreeSWITCH has no priorities (an extension's actions run from the first), so a PRIORITY
    in goto:CONTEXT,EXTEN,PRIORITY has no meaning here and is left out.
    """
    context, exten, _priority = goto_parts(goto)
    return f"{exten} XML {context}"


def session_plan(decision: RouteDecision, recording_directory: str) -> list[tuple[str, str]]:
    """The applications to run on the channel, in order, as (name, argument)."""
    variables = decision.variables()
    steps: list[tuple[str, str]] = []
    if decision.record:
        path = posixpath.join(recording_directory, decision.recording_file)
        variables[v.RECORDING_FILE] = path
        # record_session starts before the bridge: write audio from the answer on only, so a
        # missed or busy call records no ringing (switch_ivr_record_session, SMBF_ANSWER_REQ).
        variables["RECORD_ANSWER_REQ"] = "true"
        # One stereo file: the caller on the left channel, the business line on the right,
        # transcribed apart and labelled (ctrack.transcription.engine.transcribe_call).
        variables["RECORD_STEREO"] = "true"
    if decision.whisper and not decision.goto:
        # Played to the business line after it answers and before it hears the caller.
        variables["bridge_pre_execute_bleg_app"] = "playback"
        variables["bridge_pre_execute_bleg_data"] = decision.whisper
    for name in _DATA:
        if "${" in variables.get(name, ""):
            raise RouteRefused(f"{name}={variables[name]!r} would be expanded by FreeSWITCH")
    steps.append(("multiset", esl.multiset_arg(variables)))
    # A blocked caller ([spam] treatment): busy (486) or answered and hung up, never bridged;
    # "dial" needs nothing here, as CTRACK_FORWARD already holds the treatment's dial string.
    if decision.blocked == BUSY:
        steps.append(("hangup", "USER_BUSY"))
    elif decision.blocked == HANGUP:
        steps += [("answer", ""), ("hangup", "NORMAL_CLEARING")]
    if decision.record:
        if decision.consent_prompt:
            steps.append(("playback", decision.consent_prompt))
        steps.append(("record_session", variables[v.RECORDING_FILE]))
    if decision.goto:
        # socket_resume off first: with it on, the socket application puts the channel back
        # into ctrack's extension when it ends (CS_EXECUTE), undoing the transfer's CS_ROUTING,
        # and the business line would ring. Set only now, so a failure before this point
        # still hands the call back to the dialplan.
        steps += [("set", "socket_resume=false"), ("transfer", transfer_target(decision.goto))]
    return steps


async def serve_outbound(
    handler: RouteHandler, host: str, port: int, settings: OutboundSettings = OutboundSettings()
) -> asyncio.Server:
    """Start the server FreeSWITCH's `socket` application connects to."""

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await OutboundSession(EslConnection(reader, writer), handler, settings).run()

    return await asyncio.start_server(on_connect, host, port)


class OutboundSession:
    """One call's conversation with FreeSWITCH; never raises, always closes."""

    def __init__(self, conn: EslConnection, handler: RouteHandler, settings: OutboundSettings) -> None:
        self.conn = conn
        self.handler = handler
        self.settings = settings
        self.request: RouteRequest | None = None
        self.hung_up = False
        self._completed: set[str] = set()  # Application-UUIDs FreeSWITCH has finished

    async def run(self) -> None:
        try:
            await self._converse()
        except (TimeoutError, OSError, EOFError, esl.EslProtocolError, esl.EslCommandError, RouteRefused) as exc:
            if self.hung_up:
                log.info("%s: the caller hung up while ctrack was routing", self._who())
            else:
                log.warning("%s: FreeSWITCH continues with the default route: %s", self._who(), _reason(exc))
        except Exception:
            log.exception("%s: route failed; FreeSWITCH continues with the default route", self._who())
        finally:
            await self.conn.aclose()

    def _who(self) -> str:
        return self.request.uniqueid if self.request else "new call"

    async def _converse(self) -> None:
        s = self.settings
        reply = await asyncio.wait_for(self.conn.request(esl.command("connect")), s.reply_timeout)
        self.request = request_from_channel(esl.channel_data(reply), time.time())
        reply = await asyncio.wait_for(self.conn.request(esl.command("myevents"), self._note), s.reply_timeout)
        if not reply.ok:
            raise esl.EslProtocolError(f"myevents refused: {reply.reply_text}")
        try:
            decision = await asyncio.wait_for(self.handler(self.request), s.route_timeout)
        except TimeoutError:
            raise TimeoutError(f"no route decision within {s.route_timeout:g} s") from None
        await self._execute(session_plan(decision, s.recording_directory))
        await self._exit()

    async def _execute(self, plan: list[tuple[str, str]]) -> None:
        """Run the applications one after another, each to its own completion.

        FreeSWITCH runs an execute queued while another application plays *inside* it
        (switch_ivr_parse_all_events), so queueing them together would start record_session
        during the consent prompt, and the `exit` that follows would cut the prompt short.
        A step still running after media_timeout ends the plan: the later steps (the
        recording the caller was to be told about) are not started, and ctrack hands the
        call back so the dialplan rings the phone.
        """
        for app, arg in plan:
            if app == "transfer":
                await self._transfer(arg)
                return
            if not await self._run(app, arg):
                log.warning(
                    "%s: %s still running after %g s; handing the call back without the steps after it",
                    self._who(),
                    app,
                    self.settings.media_timeout,
                )
                return

    async def _run(self, app: str, arg: str) -> bool:
        """One application, waited for until its CHANNEL_EXECUTE_COMPLETE; False on timeout."""
        s = self.settings
        event_uuid = str(uuid.uuid4())
        # async mode: '+OK' means queued; completion comes as an event with our event-uuid
        reply = await asyncio.wait_for(
            self.conn.request(esl.execute(app, arg, event_uuid=event_uuid), self._note), s.reply_timeout
        )
        if not reply.ok:
            raise esl.EslProtocolError(f"{app} refused: {reply.reply_text}")
        try:
            async with asyncio.timeout(s.media_timeout):
                while event_uuid not in self._completed and not self.hung_up:
                    self._note(await self.conn.frame())
        except TimeoutError:
            return False
        if self.hung_up:
            raise EslClosed("the caller hung up")
        return True

    async def _transfer(self, target: str) -> None:
        """The last step of a pass-through: the call leaves the socket for the admin's dialplan.

        FreeSWITCH may end the socket application as soon as the channel is routed anew, so a
        connection closed after the transfer was queued is success. A transfer FreeSWITCH
        refuses turns socket_resume back on, so the dialplan rings the business line.
        """
        try:
            await self._run("transfer", target)
        except esl.EslProtocolError:
            await self._run("set", "socket_resume=true")
            raise
        except EslClosed:
            if self.hung_up:
                raise

    def _note(self, frame: esl.Frame) -> None:
        """Remember what events say: an application finished, the caller hung up."""
        if frame.content_type == "text/disconnect-notice":
            self.hung_up = True
        elif frame.content_type == "text/event-plain":
            event = esl.parse_event(frame.body).headers
            name = event.get("Event-Name")
            if name == "CHANNEL_HANGUP":
                self.hung_up = True
            elif name == "CHANNEL_EXECUTE_COMPLETE" and event.get("Application-UUID"):
                self._completed.add(event["Application-UUID"])

    async def _exit(self) -> None:
        """Hand the call back to the dialplan (socket_resume=true makes it go on)."""
        try:
            await asyncio.wait_for(self.conn.request(esl.command("exit")), self.settings.reply_timeout)
        except (TimeoutError, EslClosed):
            pass  # closing our end has the same effect


def _reason(exc: BaseException) -> str:
    text = str(exc)
    if isinstance(exc, asyncio.TimeoutError):
        return text or "FreeSWITCH did not answer in time"
    return text or type(exc).__name__
