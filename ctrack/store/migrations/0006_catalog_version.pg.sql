-- ctrack schema, version 6, on PostgreSQL: the catalog's own version (see 0006_catalog_version.sql),
-- bumped once per statement that changes sources, pools or numbers.
CREATE TABLE catalog_version (
    id       bigint PRIMARY KEY CHECK (id = 1),
    version  bigint NOT NULL
);
INSERT INTO catalog_version(id, version) VALUES (1, 1);

CREATE FUNCTION bump_catalog_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE catalog_version SET version = version + 1 WHERE id = 1;
    RETURN NULL;
END $$;

CREATE TRIGGER sources_catalog_version AFTER INSERT OR UPDATE OR DELETE ON sources
    FOR EACH STATEMENT EXECUTE FUNCTION bump_catalog_version();
CREATE TRIGGER pools_catalog_version AFTER INSERT OR UPDATE OR DELETE ON pools
    FOR EACH STATEMENT EXECUTE FUNCTION bump_catalog_version();
CREATE TRIGGER numbers_catalog_version AFTER INSERT OR UPDATE OR DELETE ON numbers
    FOR EACH STATEMENT EXECUTE FUNCTION bump_catalog_version();
