//! The outbox as committed: operations made on this device that the server has not answered
//! yet, in push order, and the bookmark of the last pull. Kept in the index (it is committed
//! state, changed only by the writer after a commit) so that a change being planned sees it.

use std::collections::{BTreeMap, HashMap};

use crate::model::ConversationId;
use crate::store::OutboxEntry;
use crate::transport::{Bookmark, OpId, Operation, PendingOperation};

#[derive(Debug, Default)]
pub(crate) struct Outbox {
    entries: BTreeMap<u64, PendingOperation>,
    by_id: HashMap<OpId, u64>,
    /// The next `seq` to allocate (above every stored one).
    next_seq: u64,
    bookmark: Option<Bookmark>,
}

impl Outbox {
    pub(crate) fn new(entries: Vec<OutboxEntry>, bookmark: Option<Bookmark>) -> Self {
        let mut outbox = Self {
            bookmark,
            ..Self::default()
        };
        outbox.apply(entries, &[], None);
        outbox
    }

    /// Applies a committed change's outbox part.
    pub(crate) fn apply(
        &mut self,
        added: Vec<OutboxEntry>,
        removed: &[u64],
        bookmark: Option<Bookmark>,
    ) {
        for seq in removed {
            if let Some(op) = self.entries.remove(seq) {
                self.by_id.remove(&op.id);
            }
        }
        for entry in added {
            self.next_seq = self.next_seq.max(entry.seq.saturating_add(1));
            self.by_id.insert(entry.operation.id.clone(), entry.seq);
            self.entries.insert(entry.seq, entry.operation);
        }
        if bookmark.is_some() {
            self.bookmark = bookmark;
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn next_seq(&self) -> u64 {
        self.next_seq
    }

    pub(crate) fn bookmark(&self) -> Option<&Bookmark> {
        self.bookmark.as_ref()
    }

    pub(crate) fn seq_of(&self, id: &OpId) -> Option<u64> {
        self.by_id.get(id).copied()
    }

    pub(crate) fn get(&self, seq: u64) -> Option<&PendingOperation> {
        self.entries.get(&seq)
    }

    /// The first `n` operations, in push order.
    pub(crate) fn first(&self, n: usize) -> Vec<PendingOperation> {
        self.entries.values().take(n).cloned().collect()
    }

    /// Every waiting operation with its `seq`, in push order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u64, &PendingOperation)> + '_ {
        self.entries.iter().map(|(seq, op)| (*seq, op))
    }
}

/// Whether `op` bears on conversation `id`'s roaming state (group-wide operations bear on
/// every member).
pub(crate) fn touches(op: &Operation, id: &ConversationId) -> bool {
    op.is_group_wide() || op.conversations().contains(id)
}
