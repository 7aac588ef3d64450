-- ctrack schema, version 10: which calls were leads.
--
-- lead_status: 'lead', 'not_lead' or 'spam'; NULL = not decided yet (no rule matched, no
-- person marked it). Spam calls are left out of reports and conversions by default.
ALTER TABLE calls ADD COLUMN lead_status TEXT CHECK (lead_status IN ('lead', 'not_lead', 'spam'));
CREATE INDEX calls_lead_status_started ON calls(lead_status, started_at);
