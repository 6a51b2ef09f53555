//! The in-memory index: every live conversation, kept in list order with its counters.
//!
//! Reads (get, list, count) are served from here and never wait on storage. Only the writer
//! changes it, through [`Index::apply`], after the store has committed the change.

mod counters;
mod sets;

use std::collections::HashMap;

use crate::events::Event;
use crate::filter::ConversationFilter;
use crate::model::{Conversation, ConversationId};
use crate::store::{ChangeSet, GroupChange, Snapshot, StoredConversation, Tombstone};
use crate::sync::Outbox;

pub(crate) use counters::{CounterChanges, Counters};
pub(crate) use sets::OrderSets;

/// One live conversation and what paging needs to know about its past moves.
#[derive(Debug)]
pub(crate) struct Row {
    pub(crate) stored: StoredConversation,
    /// Index version at which this row last moved down the list (was unpinned, or deleted and
    /// brought back); 0 if never.
    pub(crate) demoted_at: u64,
    /// The highest sort key it moved down from, over all its moves down. A walk that started
    /// before `demoted_at` skips the row below a cursor at or under this key: it was returned
    /// already, or it moved during the walk (which excuses missing it).
    pub(crate) demoted_from: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Index {
    rows: Vec<Option<Row>>,
    free: Vec<u32>,
    by_id: HashMap<ConversationId, u32>,
    pub(crate) sets: OrderSets,
    tombstones: HashMap<ConversationId, Tombstone>,
    /// Conversations deleted since open: (version, sort key) when they left the list, so a
    /// walk does not return one twice if it comes back below its cursor.
    departed: HashMap<ConversationId, (u64, u64)>,
    groups: Vec<String>,
    pinned: usize,
    decorated: usize,
    pub(crate) counters: Counters,
    order_clock: u64,
    /// Bumped by each applied change; paging cursors remember it.
    version: u64,
    /// Sync operations waiting for the server, and the last pull's bookmark.
    pub(crate) outbox: Outbox,
}

/// What applying a change did, for publishing.
#[derive(Debug, Default)]
pub(crate) struct Applied {
    pub(crate) events: Vec<Event>,
    /// The records the change replaced, to be dropped by the caller (outside the index lock).
    pub(crate) replaced: Vec<StoredConversation>,
}

impl Index {
    pub(crate) fn from_snapshot(snapshot: Snapshot, version: u64) -> Self {
        let mut index = Index {
            order_clock: snapshot.order_clock,
            groups: snapshot.groups,
            version,
            outbox: Outbox::new(snapshot.outbox, snapshot.bookmark),
            ..Index::default()
        };
        index.tombstones = snapshot
            .tombstones
            .into_iter()
            .map(|t| (t.id.clone(), t))
            .collect();
        for stored in snapshot.conversations {
            index.order_clock = index.order_clock.max(stored.conversation.order_key);
            index.insert_row(stored);
        }
        index.counters.publish_loaded();
        index
    }

    pub(crate) fn len(&self) -> usize {
        self.by_id.len()
    }

    pub(crate) fn version(&self) -> u64 {
        self.version
    }

    pub(crate) fn order_clock(&self) -> u64 {
        self.order_clock
    }

    pub(crate) fn pinned_count(&self) -> usize {
        self.pinned
    }

    pub(crate) fn decorated_count(&self) -> usize {
        self.decorated
    }

    pub(crate) fn groups(&self) -> &[String] {
        &self.groups
    }

    pub(crate) fn get(&self, id: &ConversationId) -> Option<&StoredConversation> {
        self.by_id
            .get(id)
            .and_then(|&slot| self.row(slot))
            .map(|r| &r.stored)
    }

    pub(crate) fn tombstone(&self, id: &ConversationId) -> Option<&Tombstone> {
        self.tombstones.get(id)
    }

    pub(crate) fn row(&self, slot: u32) -> Option<&Row> {
        self.rows.get(slot as usize).and_then(Option::as_ref)
    }

    /// Every conversation in list order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Conversation> + '_ {
        self.sets
            .all()
            .filter_map(|slot| self.row(slot))
            .map(|r| &r.stored.conversation)
    }

    /// Conversations matching `filter`, in list order, walking its smallest candidate set.
    pub(crate) fn matching<'a>(
        &'a self,
        filter: &'a ConversationFilter,
    ) -> impl Iterator<Item = &'a Conversation> + 'a {
        self.sets
            .candidates(filter, None)
            .filter_map(|(_, slot)| self.row(slot))
            .map(|r| &r.stored.conversation)
            .filter(|c| filter.matches(c))
    }

    /// Unread over `filter` by a walk of its candidate rows (used when it is not subscribed).
    /// Only rows with unread contribute, so the walk keeps to the cells that have some.
    pub(crate) fn recount(&self, filter: &ConversationFilter) -> u64 {
        if filter.has_unread == Some(false) {
            return 0;
        }
        let with_unread = ConversationFilter {
            has_unread: Some(true),
            ..filter.clone()
        };
        self.matching(&with_unread)
            .map(Conversation::counted_unread)
            .sum()
    }

    fn insert_row(&mut self, stored: StoredConversation) -> u32 {
        let c = &stored.conversation;
        self.pinned += usize::from(c.is_pinned);
        self.decorated += usize::from(c.is_decorated());
        self.counters.update(None, Some(c));
        let id = c.id.clone();
        let slot = match self.free.pop() {
            Some(slot) => slot,
            None => {
                self.rows.push(None);
                u32::try_from(self.rows.len() - 1).unwrap_or(u32::MAX)
            }
        };
        self.sets.insert(slot, &stored.conversation);
        self.rows[slot as usize] = Some(Row {
            stored,
            demoted_at: 0,
            demoted_from: 0,
        });
        self.by_id.insert(id, slot);
        slot
    }

    /// Replaces the record of the live conversation in `slot` (same ID: the sets, counters and
    /// paging marks follow it), returning the record it replaced.
    fn update_row(&mut self, slot: u32, stored: StoredConversation) -> Option<StoredConversation> {
        let version = self.version;
        let Some(row) = self.rows.get_mut(slot as usize).and_then(Option::as_mut) else {
            // Not reachable: `by_id` only names live slots. Keep the record all the same.
            self.by_id.remove(&stored.conversation.id);
            self.insert_row(stored);
            return None;
        };
        let before = &row.stored.conversation;
        let after = &stored.conversation;
        self.pinned = self.pinned + usize::from(after.is_pinned) - usize::from(before.is_pinned);
        self.decorated =
            self.decorated + usize::from(after.is_decorated()) - usize::from(before.is_decorated());
        self.counters.update(Some(before), Some(after));
        self.sets.update(slot, before, after);
        // Moving down the list is a move for paging: remember where it moved down from.
        let (before_key, after_key) = (before.sort_key(), after.sort_key());
        if after_key < before_key {
            row.demoted_from = before_key.max(row.demoted_from);
            row.demoted_at = version;
        }
        Some(std::mem::replace(&mut row.stored, stored))
    }

    fn remove_row(&mut self, id: &ConversationId) -> Option<Row> {
        let slot = self.by_id.remove(id)?;
        let row = self.rows.get_mut(slot as usize)?.take()?;
        let c = &row.stored.conversation;
        self.pinned -= usize::from(c.is_pinned);
        self.decorated -= usize::from(c.is_decorated());
        self.counters.update(Some(c), None);
        self.sets.remove(slot, c);
        self.free.push(slot);
        Some(row)
    }

    /// Applies a committed change and reports what to publish, in order: conversation events,
    /// then `extra` (the operation's own events, e.g. group events), then unread changes.
    ///
    /// With `listened` false (nobody subscribed to events) the conversation events, which copy
    /// every changed record, are not built.
    pub(crate) fn apply(
        &mut self,
        change: ChangeSet,
        extra: Vec<Event>,
        listened: bool,
    ) -> Applied {
        self.version += 1;
        self.order_clock = self.order_clock.max(change.order_clock);
        self.outbox
            .apply(change.outbox_added, &change.outbox_removed, change.bookmark);
        self.counters.begin();
        let mut deleted = Vec::new();
        for t in change.deletes {
            if let Some(row) = self.remove_row(&t.id) {
                // Leaving the list is a move down for paging: remember where it left from.
                let from = row.stored.conversation.sort_key().max(row.demoted_from);
                self.departed.insert(t.id.clone(), (self.version, from));
                deleted.push(t.id.clone());
            }
            self.tombstones.insert(t.id.clone(), t);
        }
        let (mut added, mut updated) = (Vec::new(), Vec::new());
        let mut replaced = Vec::with_capacity(change.upserts.len());
        for stored in change.upserts {
            if listened {
                let snapshot = stored.conversation.clone();
                match self.by_id.contains_key(&snapshot.id) {
                    false => added.push(snapshot),
                    true => updated.push(snapshot),
                }
            }
            // An existing row is updated in its slot; the record it replaces is handed back.
            match self.by_id.get(&stored.conversation.id) {
                Some(&slot) => replaced.extend(self.update_row(slot, stored)),
                None => {
                    let id = &stored.conversation.id;
                    let (demoted_at, demoted_from) = self.departed.remove(id).unwrap_or((0, 0));
                    let slot = self.insert_row(stored);
                    if let Some(row) = self.rows[slot as usize].as_mut() {
                        row.demoted_at = demoted_at;
                        row.demoted_from = demoted_from;
                    }
                }
            }
        }
        for g in change.groups {
            match g {
                GroupChange::Created(name) => self.groups.push(name),
                GroupChange::Deleted(name) => self.groups.retain(|n| *n != name),
                GroupChange::Renamed { from, to } => {
                    for n in self.groups.iter_mut().filter(|n| **n == from) {
                        n.clone_from(&to);
                    }
                }
            }
        }
        let CounterChanges { total, filters } = self.counters.finish();
        let mut events = Vec::new();
        if !deleted.is_empty() {
            events.push(Event::Deleted(deleted));
        }
        if !added.is_empty() {
            events.push(Event::Added(added));
        }
        if !updated.is_empty() {
            events.push(Event::Updated(updated));
        }
        events.extend(extra);
        if let Some(total) = total {
            events.push(Event::TotalUnreadChanged(total));
        }
        for (filter, count) in filters {
            events.push(Event::UnreadByFilterChanged { filter, count });
        }
        Applied { events, replaced }
    }
}
