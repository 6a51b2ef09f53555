-- One user's counters and group list (see timconv::transport::account::Head).
CREATE TABLE IF NOT EXISTS users (
    user_id        TEXT   NOT NULL PRIMARY KEY,
    version        BIGINT NOT NULL,
    history_floor  BIGINT NOT NULL,
    groups_version BIGINT NOT NULL,
    next_group_id  BIGINT NOT NULL,
    pinned         BIGINT NOT NULL,
    decorated      BIGINT NOT NULL,
    -- How many operation outcomes are remembered: the next one's sequence number.
    operations     BIGINT NOT NULL,
    -- JSON: [{"id": 1, "name": "work"}, ...], in creation order.
    groups_json    TEXT   NOT NULL
);

-- One row per conversation the server has heard of, and its place in the version log.
CREATE TABLE IF NOT EXISTS conversations (
    user_id     TEXT   NOT NULL,
    conv_id     TEXT   NOT NULL,
    version     BIGINT NOT NULL,
    -- 1 when a pull after `version` shows it (alive, or a tombstone still in the history).
    visible     BIGINT NOT NULL,
    -- 1 when alive (a pull without a bookmark shows only those).
    live        BIGINT NOT NULL,
    -- JSON of timconv::transport::account::Record.
    record_json TEXT   NOT NULL,
    -- JSON of what a pull shows (a RemoteChange), when visible.
    view_json   TEXT,
    PRIMARY KEY (user_id, conv_id)
);
CREATE INDEX IF NOT EXISTS conversations_by_version ON conversations (user_id, version);

-- Group membership, to load every member of the user's groups without the rest.
CREATE TABLE IF NOT EXISTS memberships (
    user_id  TEXT   NOT NULL,
    group_id BIGINT NOT NULL,
    conv_id  TEXT   NOT NULL,
    PRIMARY KEY (user_id, group_id, conv_id)
);

-- Group renames, with the version of the group list they gave.
CREATE TABLE IF NOT EXISTS renames (
    user_id   TEXT   NOT NULL,
    version   BIGINT NOT NULL,
    seq       BIGINT NOT NULL,
    from_name TEXT   NOT NULL,
    to_name   TEXT   NOT NULL,
    PRIMARY KEY (user_id, version, seq)
);

-- The outcome of every operation received, so that a replayed push applies once.
CREATE TABLE IF NOT EXISTS operations (
    user_id      TEXT   NOT NULL,
    op_id        TEXT   NOT NULL,
    seq          BIGINT NOT NULL,
    outcome_json TEXT   NOT NULL,
    PRIMARY KEY (user_id, op_id)
);
