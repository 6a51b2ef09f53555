//! The unread entries a change adds and removes, and how it reads them: its own delta over
//! its [`Base`](super::Base).

use foldhash::HashSet;

use super::{Tx, Undo};
use crate::model::ConversationId;
use crate::store::UnreadEntry;

/// Added entries searched one by one before their keys get a set of their own.
const FEW: usize = 16;

/// What a change does to one conversation's unread entries. Both lists only grow while the
/// change is planned (an entry added and then removed is in both), so a savepoint is a pair
/// of lengths.
#[derive(Debug, Default)]
pub(super) struct UnreadDelta {
    pub(super) added: Vec<UnreadEntry>,
    /// The keys of `added` once it holds more than [`FEW`] (a short list is searched).
    added_keys: Option<HashSet<String>>,
    /// Entries removed: committed ones, and ones added by this change.
    pub(super) removed: Vec<UnreadEntry>,
    pub(super) removed_ids: HashSet<u64>,
}

impl UnreadDelta {
    pub(super) fn truncate(&mut self, added: usize, removed: usize) {
        if self.added.len() > added {
            self.added.truncate(added);
            // Rolling back is rare: the key set is rebuilt rather than kept exact by hand
            // (two added entries may share a key, one added after the other was removed).
            self.added_keys = (self.added.len() > FEW)
                .then(|| self.added.iter().map(|e| e.key.clone()).collect());
        }
        for e in self.removed.drain(removed.min(self.removed.len())..) {
            self.removed_ids.remove(&e.id);
        }
    }

    fn push_added(&mut self, entry: UnreadEntry) {
        match &mut self.added_keys {
            Some(keys) => {
                keys.insert(entry.key.clone());
            }
            None if self.added.len() >= FEW => {
                let keys = self.added.iter().chain([&entry]);
                self.added_keys = Some(keys.map(|e| e.key.clone()).collect());
            }
            None => {}
        }
        self.added.push(entry);
    }

    /// Whether an entry this change added (and maybe removed since) has identity `key`.
    fn may_have_added(&self, key: &str) -> bool {
        match &self.added_keys {
            Some(keys) => keys.contains(key),
            None => self.added.iter().any(|e| e.key == key),
        }
    }
}

impl Tx<'_> {
    /// The number of unread entries of `id` as this change sees them.
    pub(crate) fn unread_count(&self, id: &ConversationId) -> u64 {
        let committed = self.base.unread_len(id);
        let count = match self.unread.get(id) {
            Some(d) => committed + d.added.len() - d.removed.len(),
            None => committed,
        };
        count as u64
    }

    /// Whether the message with identity `key` is counted in `id`'s unread.
    pub(crate) fn is_unread(&self, id: &ConversationId, key: &str) -> bool {
        let delta = self.unread.get(id);
        let removed = |entry_id: u64| delta.is_some_and(|d| d.removed_ids.contains(&entry_id));
        if let Some(d) = delta
            && d.may_have_added(key)
            && d.added
                .iter()
                .any(|e| e.key == key && !d.removed_ids.contains(&e.id))
        {
            return true;
        }
        self.base
            .unread_id_of(id, key)
            .is_some_and(|entry_id| !removed(entry_id))
    }

    /// Counts message `key` at `position` in `id`'s unread (the caller checked it is not).
    /// The record's count follows at its next [`put`](Self::put).
    pub(crate) fn add_unread(&mut self, id: &ConversationId, key: String, position: u64) {
        let entry = UnreadEntry::new(self.next_unread_id, id.clone(), key, position);
        self.next_unread_id += 1;
        let delta = self.unread.entry(id.clone()).or_default();
        self.undo.push(Undo::Unread(
            id.clone(),
            delta.added.len(),
            delta.removed.len(),
        ));
        delta.push_added(entry);
    }

    /// Uncounts `id`'s unread messages at or before `position` (every one for `None`);
    /// returns how many. The record's count follows at its next [`put`](Self::put).
    pub(crate) fn remove_unread_through(
        &mut self,
        id: &ConversationId,
        position: Option<u64>,
    ) -> usize {
        let committed = self.base.unread_through(id, position);
        let delta = self.unread.entry(id.clone()).or_default();
        let (added_len, removed_len) = (delta.added.len(), delta.removed.len());
        let mine = delta
            .added
            .iter()
            .filter(|e| position.is_none_or(|p| e.position <= p))
            .cloned()
            .collect::<Vec<_>>();
        let mut removed = 0;
        for entry in committed.into_iter().chain(mine) {
            if delta.removed_ids.insert(entry.id) {
                delta.removed.push(entry);
                removed += 1;
            }
        }
        if removed > 0 {
            self.undo
                .push(Undo::Unread(id.clone(), added_len, removed_len));
        }
        removed
    }

    /// The highest position among `id`'s unread messages, as this change sees them.
    pub(crate) fn max_unread_position(&self, id: &ConversationId) -> Option<u64> {
        let delta = self.unread.get(id);
        let committed = match delta {
            // Some committed entries were removed by this change: look at the rest.
            Some(d) if !d.removed.is_empty() => self
                .base
                .unread_through(id, None)
                .into_iter()
                .filter(|e| !d.removed_ids.contains(&e.id))
                .map(|e| e.position)
                .max(),
            _ => self.base.unread_max_position(id),
        };
        let mine = delta.and_then(|d| {
            d.added
                .iter()
                .filter(|e| !d.removed_ids.contains(&e.id))
                .map(|e| e.position)
                .max()
        });
        committed.max(mine)
    }
}
