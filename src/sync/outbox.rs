//! The outbox: operations made on this device that the server has not answered yet, in push
//! order, and the bookmark of the last pull.
//!
//! It is the sync layer's own state, not the list's: the writer keeps it beside the index (a
//! change being planned reads it and records into it), the sync task reads it to push, and the
//! store keeps it as opaque [`SyncRecord`]s and a state value written in the same transaction
//! as the change they belong to:
//!
//! - one record per waiting operation, keyed by its place in the outbox (`seq`): a format byte
//!   ([`FORMAT`]), then the JSON of the [`PendingOperation`] (`{"id": …, "op": …, …}`, as on the
//!   wire);
//! - the state value: the format byte, then `{"bookmark": …}` (absent before the first pull).

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::ConversationId;
use crate::store::{SyncChange, SyncRecord};
use crate::transport::{Bookmark, OpId, Operation, PendingOperation};

/// The format byte of outbox records and of the sync state value.
pub(crate) const FORMAT: u8 = 1;

/// An operation waiting in the outbox to be pushed (or for the server's answer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OutboxEntry {
    /// Its place in the outbox: increasing, never reused while the entry is stored.
    pub(crate) seq: u64,
    /// The operation and its client operation ID.
    pub(crate) operation: PendingOperation,
}

/// What one committed change did to the outbox.
#[derive(Debug, Default)]
pub(crate) struct OutboxDelta {
    pub(crate) added: Vec<OutboxEntry>,
    pub(crate) removed: Vec<u64>,
    pub(crate) bookmark: Option<Bookmark>,
}

#[derive(Serialize, Deserialize)]
struct State {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    bookmark: Option<Bookmark>,
}

fn versioned(value: &impl Serialize) -> Result<Vec<u8>> {
    let mut bytes = vec![FORMAT];
    serde_json::to_writer(&mut bytes, value)
        .map_err(|e| Error::Internal(format!("encoding sync data: {e}")))?;
    Ok(bytes)
}

fn unversioned<'a, T: Deserialize<'a>>(bytes: &'a [u8], what: &str) -> Result<T> {
    match bytes.split_first() {
        Some((&FORMAT, json)) => {
            serde_json::from_slice(json).map_err(|e| Error::CorruptDatabase(format!("{what}: {e}")))
        }
        Some((version, _)) => Err(Error::CorruptDatabase(format!(
            "{what}: unknown format {version}"
        ))),
        None => Err(Error::CorruptDatabase(format!("{what}: empty"))),
    }
}

impl OutboxDelta {
    /// Whether it changes nothing.
    pub(crate) fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.bookmark.is_none()
    }

    /// The delta as the store keeps it.
    pub(crate) fn to_store(&self) -> Result<SyncChange> {
        let mut change = SyncChange::default();
        for entry in &self.added {
            change
                .put
                .push(SyncRecord::new(entry.seq, versioned(&entry.operation)?));
        }
        change.remove.clone_from(&self.removed);
        if let Some(bookmark) = &self.bookmark {
            change.state = Some(versioned(&State {
                bookmark: Some(bookmark.clone()),
            })?);
        }
        Ok(change)
    }
}

#[derive(Debug, Default)]
pub(crate) struct Outbox {
    entries: BTreeMap<u64, PendingOperation>,
    by_id: HashMap<OpId, u64>,
    /// The next `seq` to allocate (above every stored one).
    next_seq: u64,
    bookmark: Option<Bookmark>,
}

impl Outbox {
    /// The outbox a store kept.
    ///
    /// # Errors
    /// [`Error::CorruptDatabase`] for a record or state this version cannot read.
    pub(crate) fn from_store(records: Vec<SyncRecord>, state: Option<Vec<u8>>) -> Result<Self> {
        let mut outbox = Outbox::default();
        let mut delta = OutboxDelta::default();
        for record in records {
            let operation: PendingOperation =
                unversioned(&record.value, &format!("sync outbox entry {}", record.key))?;
            delta.added.push(OutboxEntry {
                seq: record.key,
                operation,
            });
        }
        if let Some(state) = state {
            let state: State = unversioned(&state, "sync state")?;
            delta.bookmark = state.bookmark;
        }
        outbox.apply(delta);
        Ok(outbox)
    }

    /// Applies a committed change's outbox part.
    pub(crate) fn apply(&mut self, delta: OutboxDelta) {
        for seq in &delta.removed {
            if let Some(op) = self.entries.remove(seq) {
                self.by_id.remove(&op.id);
            }
        }
        for entry in delta.added {
            self.next_seq = self.next_seq.max(entry.seq.saturating_add(1));
            self.by_id.insert(entry.operation.id.clone(), entry.seq);
            self.entries.insert(entry.seq, entry.operation);
        }
        if delta.bookmark.is_some() {
            self.bookmark = delta.bookmark;
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

/// Whether `op` bears on conversation `id`'s roaming state (folder-wide operations bear on
/// every member).
pub(crate) fn touches(op: &Operation, id: &ConversationId) -> bool {
    op.is_folder_wide() || op.conversations().contains(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_unknown_formats_are_refused() -> Result<()> {
        let delta = OutboxDelta {
            added: vec![OutboxEntry {
                seq: 7,
                operation: PendingOperation {
                    id: OpId("s-7".into()),
                    op: Operation::Pin {
                        conversation: "c2c_a".parse()?,
                        pinned: true,
                    },
                },
            }],
            removed: vec![],
            bookmark: Some(Bookmark("b1".into())),
        };
        let change = delta.to_store()?;
        let outbox = Outbox::from_store(change.put.clone(), change.state.clone())?;
        assert_eq!(outbox.len(), 1);
        assert_eq!(outbox.next_seq(), 8);
        assert_eq!(outbox.bookmark(), Some(&Bookmark("b1".into())));
        assert_eq!(outbox.seq_of(&OpId("s-7".into())), Some(7));
        let mut bad = change.put[0].clone();
        bad.value[0] = 9;
        assert!(matches!(
            Outbox::from_store(vec![bad], None),
            Err(Error::CorruptDatabase(_))
        ));
        assert!(Outbox::from_store(vec![], Some(vec![])).is_err());
        Ok(())
    }
}
