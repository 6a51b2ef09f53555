-- timconv schema, version 4: sync (version 3 is reserved for a store-layout change).
--
-- The outbox holds operations made on this device and not yet answered by the server, written
-- in the same transaction as the local change they describe. The bookmark (where the next pull
-- continues) is written in the same transaction as the pulled changes it covers.

CREATE TABLE sync_outbox (
    seq       INTEGER NOT NULL PRIMARY KEY,  -- increasing; push order
    op_id     TEXT    NOT NULL UNIQUE,       -- client operation ID (idempotency key)
    operation TEXT    NOT NULL               -- Operation JSON (docs/SYNC.md)
);

CREATE TABLE sync_state (
    key   TEXT NOT NULL PRIMARY KEY,  -- 'bookmark'
    value TEXT NOT NULL
);
