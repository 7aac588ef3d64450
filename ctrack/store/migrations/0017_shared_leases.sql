-- ctrack schema, version 17: what several DNI web nodes on one PostgreSQL need to share one
-- pool's leases (ctrack/dni/service.py; docs/multisite.md, "DNI on several web nodes").
--
-- On PostgreSQL each lease is granted in the database: the node reads the site's leases,
-- applies the pool rules (ctrack/dni/pools.py) and commits the grant.
--
-- leases.client: whose lease it is, for the per-client cap ([dni] leases_per_client): the
-- keyed hash (HMAC with the privacy key, as caller numbers are kept; never the address) of
-- the client that asked for it last.
-- leases.version: on PostgreSQL a trigger stamps every written lease row with its pool's next
-- number in lease_versions, in commit order, so a node reads only the rows the others
-- changed since its last look instead of the whole pool.
--
-- On SQLite (one process, leases in memory) both stay NULL; lease_versions is PostgreSQL's.
ALTER TABLE leases ADD COLUMN client TEXT;
ALTER TABLE leases ADD COLUMN version INTEGER;
