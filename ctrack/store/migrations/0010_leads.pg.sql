-- ctrack schema, version 10, on PostgreSQL: which calls were leads (see 0010_leads.sql).
ALTER TABLE calls ADD COLUMN lead_status text CHECK (lead_status IN ('lead', 'not_lead', 'spam'));
CREATE INDEX calls_lead_status_started ON calls(lead_status, started_at);
