-- ctrack schema, version 17, on PostgreSQL: which client a lease counts against (see
-- 0017_lease_clients.sql for the why).
ALTER TABLE leases ADD COLUMN client text;
