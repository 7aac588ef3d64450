-- ctrack schema, version 16: the calls the AMI listener has open, kept on disk so that a
-- restart of ctrack itself (crash, SIGKILL, upgrade, reboot) does not forget them.
--
-- One row per call in progress, written by the daemon's writer about twice a second while
-- the call changes and deleted once the call is saved. At start the daemon loads the rows
-- back into its call tracker, so a call still up is followed to its real Hangup; after it
-- logs in to AMI and the CDR reconcile has run, every loaded call that Asterisk no longer
-- lists (CoreShowChannels) and that the CDR did not supply is saved once with what is known:
-- calls.ended_by = 'ctrack_offline', ended_at = seen_at (the last moment ctrack knew the call
-- up), the disposition its state implies (answered or voicemail if it got that far, else
-- failed). A CDR row that turns up later for it never duplicates it (same uniqueid).
--
-- calls.ended_by, all values: NULL (the PBX ended the call and ctrack heard it),
-- 'pbx_restart' (version 4: Asterisk died with the call up; ctrack saw the new process),
-- 'ctrack_offline' (this version: the call ended while ctrack was not listening).

CREATE TABLE open_calls (
    linkedid TEXT PRIMARY KEY,         -- the call: every channel of it shares this
    uniqueid TEXT NOT NULL,            -- its inbound leg, the calls.uniqueid it is saved as
    started_at REAL,
    answered_at REAL,
    last_event_at REAL NOT NULL,       -- when an event last changed what ctrack knows of it
    seen_at REAL NOT NULL,             -- the last moment ctrack knew it up (AMI connected)
    state TEXT NOT NULL                -- JSON: all the tracker knows (dial state, route variables)
);
