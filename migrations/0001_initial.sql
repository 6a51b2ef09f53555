-- timconv schema, version 1.
--
-- One row per live conversation. List order and filter fields are plain indexed columns;
-- opaque payloads (last message, draft, @ info, unread bookkeeping) are JSON text. u64 values
-- (order keys, marks, positions) are stored as INTEGER with the same 64 bits.

CREATE TABLE conversations (
    id                  TEXT    NOT NULL PRIMARY KEY,  -- full ID: c2c_<user> / group_<group>
    conv_type           INTEGER NOT NULL,              -- 1 C2C, 2 group
    sort_key            INTEGER NOT NULL,              -- order_key | is_pinned << 62
    order_key           INTEGER NOT NULL,
    is_pinned           INTEGER NOT NULL,
    marks               INTEGER NOT NULL,              -- every bit kept, extension bits too
    unread_count        INTEGER NOT NULL,
    has_at_info         INTEGER NOT NULL,
    receive_option      INTEGER NOT NULL,
    group_type          INTEGER,                       -- NULL when unknown
    show_name           TEXT    NOT NULL,
    face_url            TEXT    NOT NULL,
    custom_data         BLOB    NOT NULL,
    c2c_read_timestamp  INTEGER NOT NULL,
    group_read_sequence INTEGER NOT NULL,
    last_message        TEXT,                          -- Message JSON, unknown keys kept
    draft               TEXT,                          -- Draft JSON
    group_at_info       TEXT    NOT NULL,              -- JSON array of GroupAtInfo
    unread_messages     TEXT    NOT NULL               -- JSON array of [key, position]
);

CREATE INDEX conversations_by_order ON conversations (sort_key DESC);
CREATE INDEX conversations_by_type ON conversations (conv_type, sort_key DESC);

-- Conversation groups (folders), in creation order.
CREATE TABLE conversation_groups (
    position INTEGER NOT NULL PRIMARY KEY,
    name     TEXT    NOT NULL UNIQUE
);

-- Membership, in the order each conversation joined its groups.
CREATE TABLE conversation_group_members (
    conversation_id TEXT    NOT NULL,
    group_name      TEXT    NOT NULL,
    position        INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, group_name)
);

CREATE INDEX conversation_group_members_by_group ON conversation_group_members (group_name);

-- What remains of deleted conversations: the newest message deleted, as a floor.
CREATE TABLE tombstones (
    id               TEXT    NOT NULL PRIMARY KEY,
    last_position    INTEGER NOT NULL,
    last_server_time INTEGER NOT NULL,
    last_seq         INTEGER NOT NULL,
    clear_messages   INTEGER NOT NULL
);

-- Small named values: the order clock now; the sync bookmark and the outbox get their own
-- migration when sync arrives.
CREATE TABLE meta (
    key   TEXT    NOT NULL PRIMARY KEY,
    value INTEGER NOT NULL
);
