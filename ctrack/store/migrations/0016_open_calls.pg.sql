-- ctrack schema, version 16, on PostgreSQL: the calls the AMI listener has open (see
-- 0016_open_calls.sql for the why).
CREATE TABLE open_calls (
    linkedid       text PRIMARY KEY,
    uniqueid       text NOT NULL,
    started_at     double precision,
    answered_at    double precision,
    last_event_at  double precision NOT NULL,
    seen_at        double precision NOT NULL,
    state          text NOT NULL
);
