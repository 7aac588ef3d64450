-- ctrack schema, version 12: conversions out carry lead status and value.
--
-- sources.value: the value of a conversion from this source when the call has none of its
-- own (NULL = [conversions] value). numbers.google_call_asset: calls to this number come
-- through Google forwarding numbers or call assets, so they go to Google Ads as call
-- conversions (caller + call time) instead of click conversions (gclid).
ALTER TABLE sources ADD COLUMN value REAL CHECK (value IS NULL OR value >= 0);
ALTER TABLE numbers ADD COLUMN google_call_asset INTEGER NOT NULL DEFAULT 0 CHECK (google_call_asset IN (0, 1));

-- Which calls are conversions is decided in one place (ctrack/exports/store.py CONVERSION:
-- lead_status), so the click export finds its calls by gclid. (0010 keeps the outbox events
-- of calls that become leads.)
CREATE INDEX calls_gclid_started ON calls(started_at) WHERE gclid IS NOT NULL;
