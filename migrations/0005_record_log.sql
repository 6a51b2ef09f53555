-- timconv schema, version 5: the record log.
--
-- A commit appends the new state of each conversation it writes as a row of `records`, with a
-- fresh, increasing `seq`: writing a conversation is an append wherever it sits in the file. A
-- conversation's state is its newest row; older rows are dead and are deleted in the
-- background, in bounded steps (src/store/sqlite/log.rs has the invariants). Unread
-- entries are rows of their own, so that counting one more message never rewrites the others.
--
-- The tables of version 4 (`conversations`, `conversation_log`, `conversation_group_members`,
-- `conversation_groups`, `sync_outbox`, `sync_state`) are converted into these by the store
-- right after this migration, in one transaction, and then dropped.

CREATE TABLE records (
    seq    INTEGER NOT NULL PRIMARY KEY,  -- version: increasing, never reused
    id     TEXT    NOT NULL,              -- full conversation ID
    record BLOB    NOT NULL               -- the record, packed (src/store/sqlite/record.rs)
);

CREATE TABLE unread_entries (
    id           INTEGER NOT NULL PRIMARY KEY,  -- allocated by the manager, unique
    conversation TEXT    NOT NULL,
    message_key  TEXT    NOT NULL,              -- the message's identity
    position     INTEGER NOT NULL               -- its read-position coordinate
);

-- Every version of a conversation up to this `seq` is dead: it was deleted then.
ALTER TABLE tombstones ADD COLUMN deleted_seq INTEGER NOT NULL DEFAULT 0;

-- Settings of conversations that are not in the list (deleted, or not there yet).
CREATE TABLE kept_settings (
    id             TEXT    NOT NULL PRIMARY KEY,
    receive_option INTEGER NOT NULL,
    group_type     INTEGER                      -- NULL when unknown
);

-- The folder list, in order (rewritten whole when it changes: it has at most a few dozen names).
CREATE TABLE folders (
    position INTEGER NOT NULL PRIMARY KEY,
    name     TEXT    NOT NULL
);

-- Sync data, opaque to the store: records by key, and one state value.
CREATE TABLE sync_records (
    key   INTEGER NOT NULL PRIMARY KEY,
    value BLOB    NOT NULL
);

CREATE TABLE blobs (
    key   TEXT NOT NULL PRIMARY KEY,  -- 'sync_state'
    value BLOB NOT NULL
);
