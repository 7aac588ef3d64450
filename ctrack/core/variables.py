"""Every channel variable ctrack reads or sets on the PBX, named once.

Dialplan templates may use no other CTRACK_* names (tests/unit/test_dialplan.py checks it),
and adapters set variables only through these constants.
"""

# Set by the route decision (FastAGI, classic AGI, FreeSWITCH outbound socket).
UNIQUEID = "CTRACK_UNIQUEID"  # the call's key: the inbound channel's uniqueid
TRACKED = "CTRACK_TRACKED"  # "1" when the DID is a known tracking number
TRACKING_NUMBER = "CTRACK_TRACKING_NUMBER"  # the dialed tracking number, E.164
SOURCE = "CTRACK_SOURCE"  # marketing source name ("" when untracked)
CHANNEL = "CTRACK_CHANNEL"  # marketing channel of the source
FORWARD = "CTRACK_FORWARD"  # dial string of the business line to ring
RING_TIMEOUT = "CTRACK_RING_TIMEOUT"  # seconds to ring the forward target
RECORD = "CTRACK_RECORD"  # "1" to record the call
RECORDING_FILE = "CTRACK_RECORDING_FILE"  # file name for MixMonitor / record_session
CONSENT_PROMPT = "CTRACK_CONSENT_PROMPT"  # sound to play to the caller before recording, or ""
CONSENT_WHY = "CTRACK_CONSENT_WHY"  # why the prompt plays or not (consent by region), logged on the call
RECORDING_CALLER = "CTRACK_RECORDING_CALLER"  # beside it: what the caller said (MixMonitor r())
RECORDING_BUSINESS = "CTRACK_RECORDING_BUSINESS"  # beside it: what the business said (MixMonitor t())
WHISPER = "CTRACK_WHISPER"  # text/sound for the answering party, or ""
VISIT_ID = "CTRACK_VISIT_ID"  # DNI visit holding the number's lease, or ""
BLOCKED = "CTRACK_BLOCKED"  # a blocked caller's treatment: busy, hangup or dial (to CTRACK_FORWARD); "" rings
GOTO = "CTRACK_GOTO"  # pass-through: "context,exten,priority" to continue in the admin's dialplan, or ""
ROUTE_STATUS = "CTRACK_ROUTE_STATUS"  # "ok" once ctrack answered; the dialplan falls back otherwise

# Set by the dialplan itself (the rendered template) for the AMI listener.
DEFAULT_FORWARD = "CTRACK_DEFAULT_FORWARD"  # global: the business line when ctrack is down
DEFAULT_RING_TIMEOUT = "CTRACK_DEFAULT_RING_TIMEOUT"
AGI_URL = "CTRACK_AGI_URL"  # global: where the FastAGI route listens
INBOUND = "CTRACK_INBOUND"  # "1" on the inbound leg, so the listener knows which one to log
DID = "CTRACK_DID"  # the dialed DID as the dialplan saw it

# The dialplan's own contexts (rendered from these names): the AMI listener and the CDR
# backstop know the inbound leg by them.
INBOUND_CONTEXT = "ctrack-inbound"  # where the trunk's calls arrive
CALL_CONTEXT = "ctrack-call"  # where the route is asked and the business line dialed
WHISPER_CONTEXT = "ctrack-whisper"  # played to whoever answers, via Dial's U()
INBOUND_CONTEXTS = (INBOUND_CONTEXT, CALL_CONTEXT)

ROUTE_VARIABLES = (
    UNIQUEID,
    TRACKED,
    TRACKING_NUMBER,
    SOURCE,
    CHANNEL,
    FORWARD,
    RING_TIMEOUT,
    RECORD,
    RECORDING_FILE,
    RECORDING_CALLER,
    RECORDING_BUSINESS,
    CONSENT_PROMPT,
    CONSENT_WHY,
    WHISPER,
    VISIT_ID,
    BLOCKED,
    GOTO,
    ROUTE_STATUS,
)
ALL = ROUTE_VARIABLES + (DEFAULT_FORWARD, DEFAULT_RING_TIMEOUT, AGI_URL, INBOUND, DID)
