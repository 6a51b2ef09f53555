//! What a plan starts from when the writer pipelines: the index, plus the change still being
//! committed.
//!
//! The writer plans the next group of writes while the store commits the previous one, so
//! that the two overlap (see `writer.rs`). The next group must see the previous one's writes,
//! which the index does not show yet: it is applied only once the commit is durable, so that
//! no reader ever sees a change that might still fail. [`InFlight`] is that change as a plan
//! reads it, and [`Base`] answers a plan's reads from it first and from the index for the rest.
//! Without a commit in flight, a `Base` is the index alone.
//!
//! Invariants, which make the answers exact:
//! 1. An `InFlight` holds, for each conversation its change wrote, the full new state (or its
//!    absence), the same for tombstones and kept settings, and the absolute counters after
//!    it: what the index will hold once the change is applied.
//! 2. Its unread entries removed are entries of the index, and those added are not in it:
//!    the index's entries of a conversation, less the removed, plus the added, are its
//!    entries after the change.
//! 3. A change that adds or removes operations of the sync outbox is never planned on (the
//!    writer waits for it to be applied first), so a plan reads the outbox's operations as
//!    committed. The pull bookmark a change stores is part of its view.

use std::ops::Range;
use std::sync::Arc;

use foldhash::{HashMap, HashSet};

use crate::filter::ConversationFilter;
use crate::index::Index;
use crate::model::{Conversation, ConversationId};
use crate::store::{ChangeSet, KeptSettings, Tombstone, UnreadEntry};
use crate::transport::Bookmark;

/// A conversation's unread entries, as a change in flight alters them.
#[derive(Debug, Default)]
pub(crate) struct UnreadChange {
    /// Where the entries the change adds (none of them in the index) sit in its
    /// `unread_added`.
    pub(crate) added: Range<usize>,
    /// IDs of the index's entries the change removes.
    pub(crate) removed: HashSet<u64>,
}

/// The change being committed, as the next plan reads it (invariants in the module doc).
#[derive(Debug, Default)]
pub(crate) struct InFlight {
    /// The change itself, shared with its commit: its folder list, order clock and the unread
    /// entries it adds are read from it.
    pub(crate) change: Arc<ChangeSet>,
    /// Written conversations: `Some` their new state, `None` deleted.
    pub(crate) conversations: HashMap<ConversationId, Option<Arc<Conversation>>>,
    pub(crate) tombstones: HashMap<ConversationId, Tombstone>,
    /// Kept settings written: `Some` kept, `None` released.
    pub(crate) settings: HashMap<ConversationId, Option<KeptSettings>>,
    pub(crate) unread: HashMap<ConversationId, UnreadChange>,
    pub(crate) next_unread_id: u64,
    pub(crate) pinned: usize,
    pub(crate) decorated: usize,
    /// The pull bookmark the change stores, if it stores one.
    pub(crate) bookmark: Option<Bookmark>,
}

/// The state a plan starts from: the index, and the change in flight if there is one.
#[derive(Clone, Copy)]
pub(crate) struct Base<'a> {
    index: &'a Index,
    inflight: Option<&'a InFlight>,
}

impl<'a> Base<'a> {
    pub(crate) fn new(index: &'a Index, inflight: Option<&'a InFlight>) -> Self {
        Self { index, inflight }
    }

    pub(crate) fn get(&self, id: &ConversationId) -> Option<&'a Arc<Conversation>> {
        match self.inflight.and_then(|f| f.conversations.get(id)) {
            Some(written) => written.as_ref(),
            None => self.index.get(id),
        }
    }

    pub(crate) fn tombstone(&self, id: &ConversationId) -> Option<&'a Tombstone> {
        self.inflight
            .and_then(|f| f.tombstones.get(id))
            .or_else(|| self.index.tombstone(id))
    }

    pub(crate) fn kept_settings(&self, id: &ConversationId) -> Option<&'a KeptSettings> {
        match self.inflight.and_then(|f| f.settings.get(id)) {
            Some(written) => written.as_ref(),
            None => self.index.kept_settings(id),
        }
    }

    pub(crate) fn folders(&self) -> &'a [String] {
        match self.inflight.and_then(|f| f.change.folders.as_deref()) {
            Some(folders) => folders,
            None => self.index.folders(),
        }
    }

    /// The pull bookmark the change in flight stores, if it stores one.
    pub(crate) fn bookmark(&self) -> Option<&'a Bookmark> {
        self.inflight.and_then(|f| f.bookmark.as_ref())
    }

    pub(crate) fn order_clock(&self) -> u64 {
        self.inflight
            .map_or_else(|| self.index.order_clock(), |f| f.change.order_clock)
    }

    pub(crate) fn next_unread_id(&self) -> u64 {
        self.inflight
            .map_or_else(|| self.index.next_unread_id(), |f| f.next_unread_id)
    }

    pub(crate) fn pinned_count(&self) -> usize {
        self.inflight
            .map_or_else(|| self.index.pinned_count(), |f| f.pinned)
    }

    pub(crate) fn decorated_count(&self) -> usize {
        self.inflight
            .map_or_else(|| self.index.decorated_count(), |f| f.decorated)
    }

    /// How the change in flight alters `id`'s unread entries, and the entries it adds.
    fn unread_change(&self, id: &ConversationId) -> Option<(&'a UnreadChange, &'a [UnreadEntry])> {
        let inflight = self.inflight?;
        let change = inflight.unread.get(id)?;
        let added = inflight
            .change
            .unread_added
            .get(change.added.clone())
            .unwrap_or_default();
        Some((change, added))
    }

    /// How many unread entries `id` has.
    pub(crate) fn unread_len(&self, id: &ConversationId) -> usize {
        let committed = self.index.unread(id).map_or(0, |s| s.len());
        match self.unread_change(id) {
            Some((c, added)) => committed + added.len() - c.removed.len(),
            None => committed,
        }
    }

    /// The entry ID of `id`'s unread message with identity `key`, if it is counted.
    pub(crate) fn unread_id_of(&self, id: &ConversationId, key: &str) -> Option<u64> {
        let change = self.unread_change(id);
        if let Some(e) = change.and_then(|(_, added)| added.iter().find(|e| e.key == key)) {
            return Some(e.id);
        }
        self.index
            .unread(id)
            .and_then(|s| s.id_of(key))
            .filter(|entry| change.is_none_or(|(c, _)| !c.removed.contains(entry)))
    }

    /// `id`'s unread entries at or before `position` (every one for `None`).
    pub(crate) fn unread_through(
        &self,
        id: &ConversationId,
        position: Option<u64>,
    ) -> Vec<UnreadEntry> {
        let mut entries = self
            .index
            .unread(id)
            .map(|s| s.through(id, position))
            .unwrap_or_default();
        if let Some((change, added)) = self.unread_change(id) {
            entries.retain(|e| !change.removed.contains(&e.id));
            entries.extend(
                added
                    .iter()
                    .filter(|e| position.is_none_or(|p| e.position <= p))
                    .cloned(),
            );
        }
        entries
    }

    /// The highest position among `id`'s unread messages.
    pub(crate) fn unread_max_position(&self, id: &ConversationId) -> Option<u64> {
        match self.unread_change(id) {
            None => self.index.unread(id).and_then(|s| s.max_position()),
            Some(_) => self
                .unread_through(id, None)
                .iter()
                .map(|e| e.position)
                .max(),
        }
    }

    /// IDs of the conversations matching `filter`, in list order.
    pub(crate) fn ids_matching(&self, filter: &ConversationFilter) -> Vec<ConversationId> {
        let Some(inflight) = self.inflight.filter(|f| !f.conversations.is_empty()) else {
            return self.index.matching(filter).map(|c| c.id.clone()).collect();
        };
        // The index's matches that the change did not write, and the change's own, merged in
        // list order (larger sort keys first; sort keys are unique).
        let mut matches: Vec<(u64, &ConversationId)> = self
            .index
            .matching(filter)
            .filter(|c| !inflight.conversations.contains_key(&c.id))
            .map(|c| (c.sort_key(), &c.id))
            .chain(
                inflight
                    .conversations
                    .values()
                    .flatten()
                    .filter(|c| filter.matches(c))
                    .map(|c| (c.sort_key(), &c.id)),
            )
            .collect();
        matches.sort_unstable_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(b.1)));
        matches.into_iter().map(|(_, id)| id.clone()).collect()
    }
}
