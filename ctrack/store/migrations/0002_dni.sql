-- ctrack schema, version 2: DNI lease history.
-- Every number a visit was given (a lease, a shared overflow number or the fallback), so a
-- call is credited to the visit that held the number at call time, the daemon rebuilds its
-- leases on start, and `ctrack pool stats` can measure utilization and pressure.
CREATE TABLE leases (
    id          INTEGER PRIMARY KEY,
    visit_id    TEXT NOT NULL REFERENCES visits(id),
    pool_id     INTEGER NOT NULL REFERENCES pools(id),
    number      TEXT,                                -- E.164; NULL for a fallback with no number
    kind        TEXT NOT NULL CHECK (kind IN ('lease', 'shared', 'fallback')),
    started_at  REAL NOT NULL,
    expires_at  REAL NOT NULL,                       -- renewed by the page's heartbeat
    UNIQUE (visit_id, pool_id, started_at)
);
CREATE INDEX leases_number ON leases(number, expires_at);
CREATE INDEX leases_pool ON leases(pool_id, expires_at);
CREATE INDEX leases_expires ON leases(expires_at);
