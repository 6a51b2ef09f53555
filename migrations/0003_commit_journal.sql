-- timconv schema, version 3.
--
-- Commits append their conversations here, one entry per commit, instead of rewriting each
-- conversation's row in place: a burst of messages to conversations scattered over the file
-- then writes a few sequential pages per commit instead of one random page per message
-- (measured in docs/PERFORMANCE.md). The store folds entries into `conversations` in the
-- background (while the writer is idle), at close, and whenever the journal grows past its
-- bound; a load reads the journal first, a conversation's newest entry replacing its row.
CREATE TABLE conversation_log (
    seq     INTEGER NOT NULL PRIMARY KEY,  -- append order (the rowid)
    records INTEGER NOT NULL,              -- conversations upserted or deleted by the entry
    entry   BLOB    NOT NULL               -- the commit's conversations, packed (src/store/sqlite/rows.rs)
);
