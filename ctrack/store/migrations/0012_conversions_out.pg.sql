-- ctrack schema, version 12, on PostgreSQL: conversions out carry lead status and value
-- (see 0012_conversions_out.sql for the why).
ALTER TABLE sources ADD COLUMN value double precision CHECK (value IS NULL OR value >= 0);
ALTER TABLE numbers ADD COLUMN google_call_asset bigint NOT NULL DEFAULT 0 CHECK (google_call_asset IN (0, 1));
CREATE INDEX calls_gclid_started ON calls(started_at) WHERE gclid IS NOT NULL;
