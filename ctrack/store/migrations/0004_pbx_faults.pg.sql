-- ctrack schema, version 4, on PostgreSQL: calls ended by a PBX fault (see 0004_pbx_faults.sql).
ALTER TABLE calls ADD COLUMN ended_by text;
ALTER TABLE calls ADD COLUMN caller_anonymous bigint NOT NULL DEFAULT 0;
