-- ctrack schema, version 12: conversions out carry lead status and value.
--
-- sources.value: the value of a conversion from this source when the call has none of its
-- own (NULL = [conversions] value). numbers.google_call_asset: calls to this number come
-- through Google forwarding numbers or call assets, so they go to Google Ads as call
-- conversions (caller + call time) instead of click conversions (gclid).
ALTER TABLE sources ADD COLUMN value REAL CHECK (value IS NULL OR value >= 0);
ALTER TABLE numbers ADD COLUMN google_call_asset INTEGER NOT NULL DEFAULT 0 CHECK (google_call_asset IN (0, 1));

-- Which calls are conversions is decided in one place (ctrack/exports/store.py CONVERSION),
-- no longer by qualified alone, so the click export finds its calls by gclid.
DROP INDEX calls_conversions;
CREATE INDEX calls_gclid_started ON calls(started_at) WHERE gclid IS NOT NULL;

-- A call a person or rule marks as a lead becomes a conversion even if it was short: it
-- leaves the same outbox event a qualified call does (at most one per call). The sender
-- applies the rule when it fans the event out.
CREATE TRIGGER calls_lead_insert AFTER INSERT ON calls WHEN NEW.lead_status IS 'lead'
BEGIN
    INSERT INTO outbox(kind, call_id, target, payload)
    SELECT 'qualified', NEW.id, '', '' WHERE NOT EXISTS (
        SELECT 1 FROM outbox WHERE kind = 'qualified' AND call_id = NEW.id AND target = '');
END;

-- A call first taken for spam or not a lead and then marked a lead gets its event back.
CREATE TRIGGER calls_lead_update AFTER UPDATE OF lead_status ON calls
WHEN NEW.lead_status IS 'lead' AND OLD.lead_status IS NOT 'lead'
BEGIN
    UPDATE outbox SET gave_up_at = NULL, last_error = NULL
    WHERE kind = 'qualified' AND call_id = NEW.id AND target = '' AND sent_at IS NULL;
    INSERT INTO outbox(kind, call_id, target, payload)
    SELECT 'qualified', NEW.id, '', '' WHERE NOT EXISTS (
        SELECT 1 FROM outbox WHERE kind = 'qualified' AND call_id = NEW.id AND target = '');
END;
