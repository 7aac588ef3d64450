-- ctrack schema, version 13, on PostgreSQL: regional pools (see 0013_regional_pools.sql).
ALTER TABLE pools ADD COLUMN path_prefix text;
ALTER TABLE pools ADD COLUMN utm_campaign text;
ALTER TABLE visits ADD COLUMN pool_region text;
ALTER TABLE calls ADD COLUMN pool_region text;
