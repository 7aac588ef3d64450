-- The route's catalog (sources, pools, numbers) carries its own version, bumped by every
-- change to it: the daemon reloads its in-memory catalog when this moves, not on every commit
-- of calls, visits or leases (which PRAGMA data_version would report).
CREATE TABLE catalog_version (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    version  INTEGER NOT NULL
);
INSERT INTO catalog_version(id, version) VALUES (1, 1);

CREATE TRIGGER sources_insert_catalog_version AFTER INSERT ON sources
BEGIN
    UPDATE catalog_version SET version = version + 1 WHERE id = 1;
END;

CREATE TRIGGER sources_update_catalog_version AFTER UPDATE ON sources
BEGIN
    UPDATE catalog_version SET version = version + 1 WHERE id = 1;
END;

CREATE TRIGGER sources_delete_catalog_version AFTER DELETE ON sources
BEGIN
    UPDATE catalog_version SET version = version + 1 WHERE id = 1;
END;

CREATE TRIGGER pools_insert_catalog_version AFTER INSERT ON pools
BEGIN
    UPDATE catalog_version SET version = version + 1 WHERE id = 1;
END;

CREATE TRIGGER pools_update_catalog_version AFTER UPDATE ON pools
BEGIN
    UPDATE catalog_version SET version = version + 1 WHERE id = 1;
END;

CREATE TRIGGER pools_delete_catalog_version AFTER DELETE ON pools
BEGIN
    UPDATE catalog_version SET version = version + 1 WHERE id = 1;
END;

CREATE TRIGGER numbers_insert_catalog_version AFTER INSERT ON numbers
BEGIN
    UPDATE catalog_version SET version = version + 1 WHERE id = 1;
END;

CREATE TRIGGER numbers_update_catalog_version AFTER UPDATE ON numbers
BEGIN
    UPDATE catalog_version SET version = version + 1 WHERE id = 1;
END;

CREATE TRIGGER numbers_delete_catalog_version AFTER DELETE ON numbers
BEGIN
    UPDATE catalog_version SET version = version + 1 WHERE id = 1;
END;
