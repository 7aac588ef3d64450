-- ctrack schema, version 13: regional pools. A pool serves a region (pools.region, since
-- version 1) and is chosen by a page's path prefix or utm_campaign (or data-ctrack-pool,
-- which names it); see ctrack/dni/selection.py. Both are stored as compared: lower case,
-- the prefix without a trailing slash. NULL: the pool is one of its site's default pools.
ALTER TABLE pools ADD COLUMN path_prefix TEXT;
ALTER TABLE pools ADD COLUMN utm_campaign TEXT;

-- The region of the pool that served the visitor's page, and of the pool whose number a
-- call credited to a visit dialed; NULL when that pool serves no region.
ALTER TABLE visits ADD COLUMN pool_region TEXT;
ALTER TABLE calls ADD COLUMN pool_region TEXT;
