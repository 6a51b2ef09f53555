//! A change being planned: the writer's view of the index plus its own pending writes.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{Error, Result};
use crate::events::Event;
use crate::filter::ConversationFilter;
use crate::index::Index;
use crate::limits::Limits;
use crate::model::{Conversation, ConversationId};
use crate::store::{ChangeSet, GroupChange, OutboxEntry, StoredConversation, Tombstone};
use crate::transport::{Bookmark, OpId, Operation, PendingOperation};

fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// A change being planned: reads see the index plus this change's own writes.
///
/// Several operations may be planned into one `Tx` (group commit); a [`Savepoint`] taken
/// before each lets a failing one be rolled back alone.
pub(crate) struct Tx<'a> {
    index: &'a Index,
    pub(crate) limits: &'a Limits,
    pub(crate) self_user: Option<&'a str>,
    /// Conversations written by this change: `Some` upserted, `None` deleted. (Boxed: the
    /// table then moves pointers, not records, as it grows.)
    overlay: HashMap<ConversationId, Option<Box<StoredConversation>>>,
    /// Written IDs in first-write order, so commits and events are deterministic.
    touched: Vec<ConversationId>,
    tombstones: HashMap<ConversationId, Tombstone>,
    /// Deleted by this change, in order.
    deleted: Vec<ConversationId>,
    /// How to undo each write to `overlay` and `tombstones`, newest last.
    undo: Vec<Undo>,
    groups: Option<Vec<String>>,
    group_changes: Vec<GroupChange>,
    events: Vec<Event>,
    order_clock: u64,
    pinned: usize,
    decorated: usize,
    /// This session's prefix of client operation IDs; `None` when no transport is configured
    /// (nothing is recorded for sync).
    sync_session: Option<u64>,
    outbox_added: Vec<OutboxEntry>,
    outbox_removed: Vec<u64>,
    /// `outbox_removed` as a set, for the pending-operation scans of reconciliation.
    removed_set: std::collections::HashSet<u64>,
    bookmark: Option<Bookmark>,
    next_seq: u64,
}

/// How to undo one write of a [`Tx`]: the previous value of the entry (`None`: absent).
enum Undo {
    Overlay(ConversationId, Option<Option<Box<StoredConversation>>>),
    Tombstone(ConversationId, Option<Tombstone>),
}

/// A point a [`Tx`] can roll back to.
pub(crate) struct Savepoint {
    undo: usize,
    touched: usize,
    deleted: usize,
    groups: Option<Vec<String>>,
    group_changes: usize,
    events: usize,
    pinned: usize,
    decorated: usize,
    outbox_added: usize,
    outbox_removed: usize,
    bookmark: Option<Bookmark>,
}

impl<'a> Tx<'a> {
    pub(crate) fn new(
        index: &'a Index,
        limits: &'a Limits,
        self_user: Option<&'a str>,
        sync_session: Option<u64>,
    ) -> Self {
        Self {
            index,
            limits,
            self_user,
            overlay: HashMap::new(),
            touched: Vec::new(),
            tombstones: HashMap::new(),
            deleted: Vec::new(),
            undo: Vec::new(),
            groups: None,
            group_changes: Vec::new(),
            events: Vec::new(),
            order_clock: index.order_clock(),
            pinned: index.pinned_count(),
            decorated: index.decorated_count(),
            sync_session,
            outbox_added: Vec::new(),
            outbox_removed: Vec::new(),
            removed_set: std::collections::HashSet::new(),
            bookmark: None,
            next_seq: index.outbox.next_seq(),
        }
    }

    /// The conversation as this change sees it.
    pub(crate) fn get(&self, id: &ConversationId) -> Option<&StoredConversation> {
        match self.overlay.get(id) {
            Some(written) => written.as_deref(),
            None => self.index.get(id),
        }
    }

    /// The conversation, or 6004 if it does not exist.
    pub(crate) fn existing(&self, id: &ConversationId) -> Result<&StoredConversation> {
        self.get(id)
            .ok_or_else(|| Error::ConversationNotFound(id.to_string()))
    }

    /// The tombstone left by the last delete of a conversation (it stays after the
    /// conversation comes back), as this change sees it.
    pub(crate) fn tombstone(&self, id: &ConversationId) -> Option<&Tombstone> {
        self.tombstones.get(id).or_else(|| self.index.tombstone(id))
    }

    /// IDs of the live conversations matching `filter`, as this change sees them.
    pub(crate) fn ids_matching(&self, filter: &ConversationFilter) -> Vec<ConversationId> {
        let mut ids: Vec<_> = self
            .index
            .matching(filter)
            .map(|c| c.id.clone())
            .filter(|id| !self.overlay.contains_key(id))
            .collect();
        ids.extend(
            self.touched
                .iter()
                .filter(|id| {
                    self.get(id)
                        .is_some_and(|s| filter.matches(&s.conversation))
                })
                .cloned(),
        );
        ids
    }

    fn mark_touched(&mut self, id: &ConversationId) {
        if !self.overlay.contains_key(id) {
            self.touched.push(id.clone());
        }
    }

    /// Keeps the pinned and decorated counts as `id` goes to `after` (absent: deleted).
    fn account(&mut self, id: &ConversationId, after: Option<&Conversation>) {
        let flags = |c: Option<&Conversation>| {
            c.map_or((0, 0), |c| {
                (usize::from(c.is_pinned), usize::from(c.is_decorated()))
            })
        };
        let (pinned_before, decorated_before) = flags(self.get(id).map(|s| &s.conversation));
        let (pinned_after, decorated_after) = flags(after);
        self.pinned = self.pinned + pinned_after - pinned_before;
        self.decorated = self.decorated + decorated_after - decorated_before;
    }

    /// Writes a conversation's new state (creating it if needed).
    pub(crate) fn put(&mut self, stored: StoredConversation) {
        let id = stored.conversation.id.clone();
        self.account(&id, Some(&stored.conversation));
        self.mark_touched(&id);
        let previous = self.overlay.insert(id.clone(), Some(Box::new(stored)));
        self.undo.push(Undo::Overlay(id, previous));
    }

    /// Applies `edit` to a copy of an existing conversation and writes it if anything changed.
    /// Returns whether it changed; 6004 if the conversation does not exist.
    pub(crate) fn update(
        &mut self,
        id: &ConversationId,
        edit: impl FnOnce(&mut StoredConversation, &mut Self) -> Result<()>,
    ) -> Result<bool> {
        let before = self.existing(id)?.clone();
        let mut after = before.clone();
        edit(&mut after, self)?;
        if after == before {
            return Ok(false);
        }
        self.put(after);
        Ok(true)
    }

    /// Deletes a conversation, leaving `tombstone`.
    pub(crate) fn delete(&mut self, tombstone: Tombstone) {
        let id = tombstone.id.clone();
        self.account(&id, None);
        self.mark_touched(&id);
        let previous = self.overlay.insert(id.clone(), None);
        self.undo.push(Undo::Overlay(id.clone(), previous));
        let previous = self.tombstones.insert(id.clone(), tombstone);
        self.undo.push(Undo::Tombstone(id.clone(), previous));
        self.deleted.push(id);
    }

    /// Allocates the next order key: unique, increasing, close to the clock in microseconds.
    pub(crate) fn next_order_key(&mut self) -> u64 {
        self.order_clock = (self.order_clock + 1).max(now_micros());
        self.order_clock
    }

    pub(crate) fn pinned_count(&self) -> usize {
        self.pinned
    }

    pub(crate) fn decorated_count(&self) -> usize {
        self.decorated
    }

    /// Conversation-group names as this change sees them.
    pub(crate) fn group_names(&self) -> &[String] {
        self.groups.as_deref().unwrap_or(self.index.groups())
    }

    pub(crate) fn group_exists(&self, name: &str) -> bool {
        self.group_names().iter().any(|n| n == name)
    }

    fn groups_mut(&mut self) -> &mut Vec<String> {
        let index = self.index;
        self.groups.get_or_insert_with(|| index.groups().to_vec())
    }

    pub(crate) fn change_groups(&mut self, change: GroupChange) {
        let groups = self.groups_mut();
        match &change {
            GroupChange::Created(name) => groups.push(name.clone()),
            GroupChange::Deleted(name) => groups.retain(|n| n != name),
            GroupChange::Renamed { from, to } => {
                for n in groups.iter_mut().filter(|n| *n == from) {
                    n.clone_from(to);
                }
            }
        }
        self.group_changes.push(change);
    }

    /// Members of group `name` as this change sees them.
    pub(crate) fn group_members(&self, name: &str) -> Vec<ConversationId> {
        self.ids_matching(&ConversationFilter::new().group(name))
    }

    /// Queues an event to publish after commit (conversation events are derived on apply).
    pub(crate) fn emit(&mut self, event: Event) {
        self.events.push(event);
    }

    /// Marks the state to return to if the next operation fails.
    pub(crate) fn savepoint(&self) -> Savepoint {
        Savepoint {
            undo: self.undo.len(),
            touched: self.touched.len(),
            deleted: self.deleted.len(),
            groups: self.groups.clone(),
            group_changes: self.group_changes.len(),
            events: self.events.len(),
            pinned: self.pinned,
            decorated: self.decorated,
            outbox_added: self.outbox_added.len(),
            outbox_removed: self.outbox_removed.len(),
            bookmark: self.bookmark.clone(),
        }
    }

    /// Undoes everything planned since `savepoint`: the operation failed. Order keys it
    /// allocated are not reused (keys only need to be unique and increasing).
    pub(crate) fn rollback_to(&mut self, savepoint: Savepoint) {
        for undo in self.undo.drain(savepoint.undo..).rev() {
            match undo {
                Undo::Overlay(id, Some(previous)) => {
                    self.overlay.insert(id, previous);
                }
                Undo::Overlay(id, None) => {
                    self.overlay.remove(&id);
                }
                Undo::Tombstone(id, Some(previous)) => {
                    self.tombstones.insert(id, previous);
                }
                Undo::Tombstone(id, None) => {
                    self.tombstones.remove(&id);
                }
            }
        }
        self.touched.truncate(savepoint.touched);
        self.deleted.truncate(savepoint.deleted);
        self.groups = savepoint.groups;
        self.group_changes.truncate(savepoint.group_changes);
        self.events.truncate(savepoint.events);
        self.pinned = savepoint.pinned;
        self.decorated = savepoint.decorated;
        self.outbox_added.truncate(savepoint.outbox_added);
        if self.outbox_removed.len() > savepoint.outbox_removed {
            self.outbox_removed.truncate(savepoint.outbox_removed);
            self.removed_set = self.outbox_removed.iter().copied().collect();
        }
        self.bookmark = savepoint.bookmark;
    }

    /// Records a roaming change for the server, in the outbox of this same change; nothing
    /// when no transport is configured.
    pub(crate) fn record(&mut self, op: Operation) {
        let Some(session) = self.sync_session else {
            return;
        };
        let seq = self.next_seq;
        self.next_seq += 1;
        self.outbox_added.push(OutboxEntry {
            seq,
            operation: PendingOperation {
                id: OpId(format!("{session:016x}-{seq}")),
                op,
            },
        });
    }

    /// Takes an answered operation out of the outbox.
    pub(crate) fn answered(&mut self, seq: u64) {
        if self.removed_set.insert(seq) {
            self.outbox_removed.push(seq);
        }
    }

    /// Stores the bookmark covering the pulled changes planned into this change.
    pub(crate) fn set_bookmark(&mut self, bookmark: Bookmark) {
        // The bookmark already stored needs no write (a pull that found nothing new).
        self.bookmark = (self.index.outbox.bookmark() != Some(&bookmark)).then_some(bookmark);
    }

    /// The outbox as committed (without this change's own additions and removals).
    pub(crate) fn outbox(&self) -> &crate::sync::Outbox {
        &self.index.outbox
    }

    /// The operations still waiting for the server as this change sees them, in push order.
    pub(crate) fn pending_ops(&self) -> impl Iterator<Item = &Operation> + '_ {
        self.index
            .outbox
            .iter()
            .filter(|(seq, _)| !self.removed_set.contains(seq))
            .map(|(_, p)| &p.op)
            .chain(self.outbox_added.iter().map(|e| &e.operation.op))
    }

    pub(crate) fn finish(mut self) -> (ChangeSet, Vec<Event>) {
        let mut change = ChangeSet {
            order_clock: self.order_clock,
            groups: std::mem::take(&mut self.group_changes),
            outbox_added: std::mem::take(&mut self.outbox_added),
            outbox_removed: std::mem::take(&mut self.outbox_removed),
            bookmark: self.bookmark.take(),
            ..ChangeSet::default()
        };
        change.upserts.reserve(self.touched.len());
        for id in &self.touched {
            if let Some(Some(stored)) = self.overlay.remove(id) {
                change.upserts.push(*stored);
            }
        }
        // A conversation deleted and brought back within one change still records its
        // tombstone, which outlives the delete.
        for id in &self.deleted {
            if let Some(t) = self.tombstones.remove(id) {
                change.deletes.push(t);
            }
        }
        (change, self.events)
    }
}
