"""FreeSWITCH adapter: routing over outbound ESL, the call log over inbound ESL.

The event socket wire format lives in esl_protocol (pure); call state and dispositions live in
ctrack.calllog.freeswitch_events, shared with the mod_cdr_csv backstop (cdr_csv).
"""
