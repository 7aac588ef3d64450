-- ctrack schema, version 18, on PostgreSQL: a call is unique per site and PBX uniqueid (see
-- 0018_site_uniqueid.sql for the why); the calls a daemon has open are kept per site.
ALTER TABLE calls DROP CONSTRAINT calls_uniqueid_key;
CREATE UNIQUE INDEX calls_site_uniqueid ON calls(site, uniqueid);

ALTER TABLE open_calls ADD COLUMN site text NOT NULL DEFAULT '';
ALTER TABLE open_calls DROP CONSTRAINT open_calls_pkey, ADD PRIMARY KEY (site, linkedid);
