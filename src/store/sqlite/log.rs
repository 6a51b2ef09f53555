//! The record log: how the SQLite store keeps conversations.
//!
//! **Format** (schema version 5): `records(seq INTEGER PRIMARY KEY, id TEXT, record BLOB)`.
//! A commit appends the new state of every conversation it writes as a row with a fresh `seq`
//! (one more than any `seq` used before, in the order of the commit's upserts), `record` being
//! the packed record of [`record`](super::record). Deleting a conversation stores its tombstone
//! with `deleted_seq`, the highest `seq` allocated before the deleting commit's own rows.
//!
//! **What a row means.** A conversation's state is its row with the highest `seq`, unless that
//! `seq` is at or below its tombstone's `deleted_seq`: then it is not in the list. Every other
//! row is **dead**.
//!
//! **Invariants.**
//! 1. `seq`s only grow, across commits and restarts: the next `seq` is above every row's and
//!    every tombstone's `deleted_seq`, so a new row is never mistaken for a deleted one.
//! 2. Deleting dead rows changes nothing [`load`](RecordLog::loaded) returns. Compaction may
//!    therefore delete any of them, at any time, in steps of any size, and a crash between
//!    steps loses nothing.
//! 3. In memory, [`RecordLog`] names the newest row of each live conversation and every dead
//!    row still in the table; it is rebuilt from the table at load and kept by each commit.
//!
//! Writing a conversation is so an append, wherever its row was: a burst of messages to
//! conversations scattered over the file writes a few sequential pages per commit instead of
//! one random page per conversation. The price is the dead rows: compaction deletes them,
//! oldest first, in bounded steps between commits (see `upkeep.rs`). Oldest first, because the
//! oldest rows are the densest in dead ones, so a step rewrites few pages per row it deletes.

use std::collections::VecDeque;
use std::collections::hash_map::Entry;

use foldhash::{HashMap, HashMapExt};

use crate::model::ConversationId;
use crate::store::ChangeSet;

/// The start of the multi-row insert of record rows: `(seq, id, record)` values follow.
pub(super) const RECORD_INSERT: &str = "INSERT INTO records (seq, id, record) ";

/// What the store knows of the `records` table.
#[derive(Debug)]
pub(super) struct RecordLog {
    /// The newest row of each live conversation.
    current: HashMap<ConversationId, i64>,
    /// The other rows still in the table.
    dead: DeadRows,
    /// The `seq` of the next row.
    next_seq: i64,
}

/// The rows a commit adds, planned before its transaction and recorded after it.
#[derive(Debug)]
pub(super) struct Appended {
    /// The `seq` of each upsert, in the change's order.
    pub(super) seqs: Vec<i64>,
    /// The tombstones' `deleted_seq`.
    pub(super) deleted_seq: i64,
}

impl RecordLog {
    /// A log being loaded: rows are fed newest first to [`loaded`](Self::loaded).
    pub(super) fn loading(above: i64) -> Self {
        Self {
            current: HashMap::new(),
            dead: DeadRows::default(),
            next_seq: above.saturating_add(1),
        }
    }

    /// Whether the row `seq` of `id`, fed newest first, is the conversation's state: not if a
    /// newer row was fed before it, nor if `deleted_seq` (its tombstone's) covers it.
    pub(super) fn loaded(&mut self, id: &ConversationId, seq: i64, deleted_seq: i64) -> bool {
        self.next_seq = self.next_seq.max(seq.saturating_add(1));
        if seq > deleted_seq
            && let Entry::Vacant(state) = self.current.entry(id.clone())
        {
            state.insert(seq);
            return true;
        }
        self.dead.insert(seq);
        false
    }

    pub(super) fn live(&self) -> usize {
        self.current.len()
    }

    pub(super) fn dead(&self) -> usize {
        self.dead.len()
    }

    /// Plans the rows of `change`.
    pub(super) fn plan(&self, change: &ChangeSet) -> Appended {
        let first = self.next_seq;
        Appended {
            seqs: (first..).take(change.upserts.len()).collect(),
            deleted_seq: first - 1,
        }
    }

    /// Records the committed `plan` of `change`: the rows it replaced, and those of the
    /// conversations it deleted, are dead now.
    pub(super) fn commit(&mut self, plan: &Appended, change: &ChangeSet) {
        for t in &change.deletes {
            if let Some(old) = self.current.remove(&t.id) {
                self.dead.insert(old);
            }
        }
        for (c, &seq) in change.upserts.iter().zip(&plan.seqs) {
            self.next_seq = self.next_seq.max(seq + 1);
            // A conversation already in the map keeps its key: no clone of the ID.
            let old = match self.current.get_mut(&c.id) {
                Some(current) => Some(std::mem::replace(current, seq)),
                None => self.current.insert(c.id.clone(), seq),
            };
            if let Some(old) = old {
                self.dead.insert(old);
            }
        }
        self.next_seq = self.next_seq.max(plan.deleted_seq + 1);
    }

    /// The oldest dead rows, at most `max`.
    pub(super) fn oldest_dead(&self, max: usize) -> Vec<i64> {
        self.dead.oldest(max)
    }

    /// Forgets dead rows once they are deleted from the table.
    pub(super) fn forget(&mut self, seqs: &[i64]) {
        for &seq in seqs {
            self.dead.remove(seq);
        }
    }
}

/// A set of dead rows' `seq`s: one bit per `seq` from the lowest word holding a dead one to the
/// highest. A commit marks the rows it replaces, which lie anywhere below it, and a bit costs
/// one store where a sorted tree costs a search through nodes spread over the heap. The span
/// stays short: compaction deletes the oldest dead rows first, which moves its start up.
#[derive(Debug, Default)]
struct DeadRows {
    /// The `seq` of bit 0 of `words[0]` (a multiple of 64).
    base: i64,
    words: VecDeque<u64>,
    len: usize,
}

impl DeadRows {
    fn len(&self) -> usize {
        self.len
    }

    /// The word and bit of `seq`, if it is in the span.
    fn at(&self, seq: i64) -> Option<(usize, u64)> {
        let offset = usize::try_from(seq.checked_sub(self.base)?).ok()?;
        (offset / 64 < self.words.len()).then_some((offset / 64, 1 << (offset % 64)))
    }

    fn insert(&mut self, seq: i64) {
        let word_base = seq & !63;
        if self.words.is_empty() {
            self.base = word_base;
        }
        while word_base < self.base {
            self.words.push_front(0);
            self.base -= 64;
        }
        let Some(offset) = usize::try_from(seq - self.base).ok() else {
            return;
        };
        if offset / 64 >= self.words.len() {
            self.words.resize(offset / 64 + 1, 0);
        }
        let (word, bit) = (offset / 64, 1 << (offset % 64));
        if self.words[word] & bit == 0 {
            self.words[word] |= bit;
            self.len += 1;
        }
    }

    fn remove(&mut self, seq: i64) {
        let Some((word, bit)) = self.at(seq) else {
            return;
        };
        if self.words[word] & bit != 0 {
            self.words[word] &= !bit;
            self.len -= 1;
        }
        while self.words.front() == Some(&0) {
            self.words.pop_front();
            self.base += 64;
        }
        while self.words.back() == Some(&0) {
            self.words.pop_back();
        }
    }

    /// The lowest `seq`s, at most `max`, lowest first.
    fn oldest(&self, max: usize) -> Vec<i64> {
        let mut out = Vec::with_capacity(max.min(self.len));
        for (k, &word) in (0_i64..).zip(&self.words) {
            let mut bits = word;
            while bits != 0 && out.len() < max {
                out.push(self.base + k * 64 + i64::from(bits.trailing_zeros()));
                bits &= bits - 1;
            }
            if out.len() == max {
                break;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::model::Conversation;
    use crate::store::Tombstone;

    fn id(s: &str) -> ConversationId {
        s.parse().expect("valid id")
    }

    fn upserting(ids: &[&str]) -> ChangeSet {
        ChangeSet {
            upserts: ids
                .iter()
                .map(|s| Arc::new(Conversation::new(id(s))))
                .collect(),
            ..ChangeSet::default()
        }
    }

    proptest::proptest! {
        /// The dead-row set answers as a sorted set does, over any inserts and removes.
        #[test]
        fn dead_rows_are_a_sorted_set(
            ops in proptest::collection::vec((proptest::bool::ANY, 0_i64..2_000), 0..300),
            max in 0_usize..50,
        ) {
            let mut dead = DeadRows::default();
            let mut model = std::collections::BTreeSet::new();
            for (insert, seq) in ops {
                if insert {
                    dead.insert(seq);
                    model.insert(seq);
                } else {
                    dead.remove(seq);
                    model.remove(&seq);
                }
                proptest::prop_assert_eq!(dead.len(), model.len());
            }
            let oldest: Vec<i64> = model.iter().take(max).copied().collect();
            proptest::prop_assert_eq!(dead.oldest(max), oldest);
            let all: Vec<i64> = model.iter().copied().collect();
            proptest::prop_assert_eq!(dead.oldest(usize::MAX), all);
        }
    }

    #[test]
    fn rewrites_and_deletes_leave_dead_rows_oldest_first() {
        let mut log = RecordLog::loading(0);
        let change = upserting(&["c2c_a", "c2c_b"]);
        let first = log.plan(&change);
        assert_eq!(first.seqs, [1, 2]);
        log.commit(&first, &change);
        let change = upserting(&["c2c_b"]);
        let again = log.plan(&change);
        assert_eq!(again.seqs, [3]);
        log.commit(&again, &change);
        let mut delete = upserting(&["c2c_a"]);
        delete.deletes = vec![Tombstone::new(id("c2c_a"), [0; 3], false)];
        let plan = log.plan(&delete);
        assert_eq!(
            plan.deleted_seq, 3,
            "covers every row before the commit's own"
        );
        assert_eq!(
            plan.seqs,
            [4],
            "a conversation deleted and recreated in one change"
        );
        log.commit(&plan, &delete);
        assert_eq!((log.live(), log.dead()), (2, 2));
        assert_eq!(log.oldest_dead(10), [1, 2]);
        log.forget(&[1]);
        assert_eq!(log.oldest_dead(10), [2]);
    }

    #[test]
    fn loading_keeps_the_newest_row_unless_deleted_after_it() {
        let mut log = RecordLog::loading(0);
        // Fed newest first: b's row 5, a's row 4 (deleted at 4), a's row 2, b's row 1.
        assert!(log.loaded(&id("c2c_b"), 5, 0));
        assert!(!log.loaded(&id("c2c_a"), 4, 4));
        assert!(!log.loaded(&id("c2c_a"), 2, 4));
        assert!(!log.loaded(&id("c2c_b"), 1, 0));
        assert_eq!((log.live(), log.dead()), (1, 3));
        assert_eq!(log.plan(&upserting(&["c2c_a"])).seqs, [6]);
    }

    #[test]
    fn seqs_stay_above_a_tombstone_whose_rows_are_gone() {
        let log = RecordLog::loading(9);
        assert_eq!(log.plan(&upserting(&["c2c_a"])).seqs, [10]);
    }
}
