-- ctrack schema, version 17, on PostgreSQL: leases shared by several DNI web nodes (see
-- 0017_shared_leases.sql for the why).
ALTER TABLE leases ADD COLUMN client text;
ALTER TABLE leases ADD COLUMN version bigint;

-- Each pool's last lease version. A lease write takes its pool's row here until commit, so
-- versions follow commit order: a reader that saw version V has seen every row up to V.
CREATE TABLE lease_versions (
    pool_id  bigint PRIMARY KEY REFERENCES pools(id) ON DELETE CASCADE,
    version  bigint NOT NULL
);

CREATE FUNCTION lease_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO lease_versions(pool_id, version) VALUES (NEW.pool_id, 1)
    ON CONFLICT (pool_id) DO UPDATE SET version = lease_versions.version + 1
    RETURNING version INTO NEW.version;
    RETURN NEW;
END
$$;

CREATE TRIGGER leases_version BEFORE INSERT OR UPDATE ON leases
    FOR EACH ROW EXECUTE FUNCTION lease_version();

CREATE INDEX leases_version ON leases(pool_id, version);
