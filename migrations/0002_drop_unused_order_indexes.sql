-- timconv schema, version 2.
--
-- The list order lives in the manager's in-memory index and the store is only read whole at
-- open, so no query uses these indexes; yet every new message changes `sort_key`, so each
-- commit paid for deleting and inserting entries at random places in both (most of a burst's
-- page writes, measured in docs/PERFORMANCE.md).
DROP INDEX conversations_by_order;
DROP INDEX conversations_by_type;
