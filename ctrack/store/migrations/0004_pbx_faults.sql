-- ctrack schema, version 4: calls ended by a PBX fault.
--
-- ended_by is 'pbx_restart' for a call Asterisk never finished (killed, crashed, power
-- lost while it was up): ctrack closed it when it saw a new Asterisk process, with what it
-- knew (ended_at = when the PBX was last heard from). NULL for a call the PBX ended itself.

ALTER TABLE calls ADD COLUMN ended_by TEXT;

-- caller_anonymous = 1: the caller withheld the number (caller id "anonymous"), as opposed
-- to a call that came with no caller id at all; caller_number is NULL for both, and
-- first-time/repeat (first_time) does not apply.
ALTER TABLE calls ADD COLUMN caller_anonymous INTEGER NOT NULL DEFAULT 0;
