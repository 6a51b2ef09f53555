//! The in-memory index: every live conversation, kept in list order with its counters.
//!
//! Reads (get, list, count) are served from here and never wait on storage. Records are held
//! as `Arc<Conversation>` and handed out shared, never copied: a read costs the same whatever
//! the size of the account. Only the writer changes the index, through [`Index::apply`], after
//! the store has committed the change.

mod build;
mod counters;
mod sets;
mod unread;

use std::sync::Arc;

use foldhash::HashMap;

use crate::events::Event;
use crate::filter::ConversationFilter;
use crate::model::{Conversation, ConversationId};
use crate::store::{ChangeSet, KeptSettings, Tombstone, UnreadEntry};

pub(crate) use counters::{CounterChanges, Counters};
pub(crate) use sets::OrderSets;
pub(crate) use unread::UnreadSet;

/// One live conversation and what paging needs to know about its past moves.
#[derive(Debug)]
pub(crate) struct Row {
    pub(crate) record: Arc<Conversation>,
    /// The messages behind its unread count (`None`: none).
    pub(crate) unread: Option<Box<UnreadSet>>,
    /// Index version at which this row last moved down the list (was unpinned, or deleted and
    /// brought back); 0 if never.
    pub(crate) demoted_at: u64,
    /// The highest sort key it moved down from, over all its moves down. A walk that started
    /// before `demoted_at` skips the row below a cursor at or under this key: it was returned
    /// already, or it moved during the walk (which excuses missing it).
    pub(crate) demoted_from: u64,
}

/// A conversation a committed change touched: its record before and after the change (`None`:
/// not in the list). Live lists are updated from these.
#[derive(Debug, Clone)]
pub(crate) struct Touched {
    pub(crate) before: Option<Arc<Conversation>>,
    pub(crate) after: Option<Arc<Conversation>>,
}

/// What [`Index::apply`] reports: the events to publish, in order, and the rows it touched.
#[derive(Debug, Default)]
pub(crate) struct Applied {
    pub(crate) events: Vec<Event>,
    /// One entry per conversation, however many times the change names it.
    pub(crate) touched: Vec<Touched>,
}

#[derive(Debug, Default)]
pub(crate) struct Index {
    rows: Vec<Option<Row>>,
    free: Vec<u32>,
    by_id: HashMap<ConversationId, u32>,
    pub(crate) sets: OrderSets,
    tombstones: HashMap<ConversationId, Tombstone>,
    /// Settings of conversations that are not in the list.
    settings: HashMap<ConversationId, KeptSettings>,
    /// Conversations deleted since open: (version, sort key) when they left the list, so a
    /// walk does not return one twice if it comes back below its cursor.
    departed: HashMap<ConversationId, (u64, u64)>,
    folders: Vec<String>,
    pinned: usize,
    decorated: usize,
    pub(crate) counters: Counters,
    order_clock: u64,
    /// Above every stored unread entry's id.
    next_unread_id: u64,
    /// Bumped by each applied change; paging cursors remember it.
    version: u64,
}

impl Index {
    pub(crate) fn len(&self) -> usize {
        self.by_id.len()
    }

    pub(crate) fn version(&self) -> u64 {
        self.version
    }

    pub(crate) fn order_clock(&self) -> u64 {
        self.order_clock
    }

    pub(crate) fn next_unread_id(&self) -> u64 {
        self.next_unread_id
    }

    pub(crate) fn pinned_count(&self) -> usize {
        self.pinned
    }

    pub(crate) fn decorated_count(&self) -> usize {
        self.decorated
    }

    pub(crate) fn folders(&self) -> &[String] {
        &self.folders
    }

    pub(crate) fn get(&self, id: &ConversationId) -> Option<&Arc<Conversation>> {
        self.live_row(id).map(|r| &r.record)
    }

    /// The unread messages of a live conversation.
    pub(crate) fn unread(&self, id: &ConversationId) -> Option<&UnreadSet> {
        self.live_row(id).and_then(|r| r.unread.as_deref())
    }

    fn live_row(&self, id: &ConversationId) -> Option<&Row> {
        self.by_id.get(id).and_then(|&slot| self.row(slot))
    }

    pub(crate) fn tombstone(&self, id: &ConversationId) -> Option<&Tombstone> {
        self.tombstones.get(id)
    }

    /// Settings kept for a conversation that is not in the list.
    pub(crate) fn kept_settings(&self, id: &ConversationId) -> Option<&KeptSettings> {
        self.settings.get(id)
    }

    pub(crate) fn row(&self, slot: u32) -> Option<&Row> {
        self.rows.get(slot as usize).and_then(Option::as_ref)
    }

    /// Every conversation in list order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Arc<Conversation>> + '_ {
        self.sets
            .all()
            .filter_map(|slot| self.row(slot))
            .map(|r| &r.record)
    }

    /// Conversations matching `filter`, in list order, walking its smallest candidate set.
    pub(crate) fn matching<'a>(
        &'a self,
        filter: &'a ConversationFilter,
    ) -> impl Iterator<Item = &'a Arc<Conversation>> + 'a {
        self.sets
            .candidates(filter, None)
            .filter_map(|(_, slot)| self.row(slot))
            .map(|r| &r.record)
            .filter(|c| filter.matches(c))
    }

    /// Conversations matching `filter` strictly below position `below` (a sort key; `None` for
    /// the top), in list order: what a live list refills its window from.
    pub(crate) fn matching_below<'a>(
        &'a self,
        filter: &'a ConversationFilter,
        below: Option<u64>,
    ) -> impl Iterator<Item = &'a Arc<Conversation>> + 'a {
        self.sets
            .candidates(filter, below)
            .filter_map(|(_, slot)| self.row(slot))
            .map(|r| &r.record)
            .filter(|c| filter.matches(c))
    }

    /// Unread over `filter` by a walk of its candidate rows (used when it is not subscribed).
    /// Only rows with unread contribute, so the walk keeps to the cells that have some.
    pub(crate) fn recount(&self, filter: &ConversationFilter) -> u64 {
        if filter.unread_criterion() == Some(false) {
            return 0;
        }
        let with_unread = filter.clone().has_unread(true);
        self.matching(&with_unread)
            .map(|c| c.counted_unread())
            .sum()
    }

    fn insert_row(&mut self, record: Arc<Conversation>, unread: Option<Box<UnreadSet>>) -> u32 {
        self.pinned += usize::from(record.is_pinned);
        self.decorated += usize::from(record.is_decorated());
        self.counters.update(None, Some(&record));
        let id = record.id.clone();
        let slot = match self.free.pop() {
            Some(slot) => slot,
            None => {
                self.rows.push(None);
                u32::try_from(self.rows.len() - 1).unwrap_or(u32::MAX)
            }
        };
        self.sets.insert(slot, &record);
        self.rows[slot as usize] = Some(Row {
            record,
            unread,
            demoted_at: 0,
            demoted_from: 0,
        });
        self.by_id.insert(id, slot);
        slot
    }

    /// Replaces the record of the live conversation in `slot` (same ID: the sets, counters and
    /// paging marks follow it).
    fn update_row(&mut self, slot: u32, record: Arc<Conversation>) {
        let version = self.version;
        let Some(row) = self.rows.get_mut(slot as usize).and_then(Option::as_mut) else {
            // Not reachable: `by_id` only names live slots. Keep the record all the same.
            self.by_id.remove(&record.id);
            self.insert_row(record, None);
            return;
        };
        let before = &row.record;
        self.pinned = self.pinned + usize::from(record.is_pinned) - usize::from(before.is_pinned);
        self.decorated = self.decorated + usize::from(record.is_decorated())
            - usize::from(before.is_decorated());
        self.counters.update(Some(before), Some(&record));
        self.sets.update(slot, before, &record);
        // Moving down the list is a move for paging: remember where it moved down from.
        let (before_key, after_key) = (before.sort_key(), record.sort_key());
        if after_key < before_key {
            row.demoted_from = before_key.max(row.demoted_from);
            row.demoted_at = version;
        }
        row.record = record;
    }

    fn remove_row(&mut self, id: &ConversationId) -> Option<Row> {
        let slot = self.by_id.remove(id)?;
        let row = self.rows.get_mut(slot as usize)?.take()?;
        let c = &row.record;
        self.pinned -= usize::from(c.is_pinned);
        self.decorated -= usize::from(c.is_decorated());
        self.counters.update(Some(c), None);
        self.sets.remove(slot, c);
        self.free.push(slot);
        Some(row)
    }

    fn row_mut(&mut self, id: &ConversationId) -> Option<&mut Row> {
        let slot = *self.by_id.get(id)?;
        self.rows.get_mut(slot as usize)?.as_mut()
    }

    fn remove_unread(&mut self, entry: &UnreadEntry) {
        if let Some(row) = self.row_mut(&entry.conversation)
            && let Some(set) = row.unread.as_deref_mut()
            && set.id_of(&entry.key) == Some(entry.id)
        {
            set.remove(&entry.key);
            if set.is_empty() {
                row.unread = None;
            }
        }
    }

    fn add_unread(&mut self, entry: &UnreadEntry) {
        self.next_unread_id = self.next_unread_id.max(entry.id.saturating_add(1));
        if let Some(row) = self.row_mut(&entry.conversation) {
            row.unread.get_or_insert_default().insert(entry);
        }
    }

    /// Applies a committed change and reports what to publish, in order: conversation events,
    /// then `extra` (the operation's own events, e.g. folder events), then unread changes; and
    /// the conversations it touched, before and after.
    pub(crate) fn apply(&mut self, change: &ChangeSet, extra: Vec<Event>) -> Applied {
        self.version += 1;
        self.order_clock = self.order_clock.max(change.order_clock);
        self.counters.begin();
        let mut touched = TouchedRows::default();
        touched
            .rows
            .reserve(change.deletes.len() + change.upserts.len());
        let mut deleted = Vec::new();
        for t in &change.deletes {
            if let Some(row) = self.remove_row(&t.id) {
                // Leaving the list is a move down for paging: remember where it left from.
                let from = row.record.sort_key().max(row.demoted_from);
                self.departed.insert(t.id.clone(), (self.version, from));
                deleted.push(t.id.clone());
                touched.deleted(&t.id, &row.record);
            }
            self.tombstones.insert(t.id.clone(), t.clone());
        }
        let (mut added, mut updated) = (Vec::new(), Vec::new());
        for record in &change.upserts {
            // An existing row is updated in its slot.
            match self.by_id.get(&record.id) {
                Some(&slot) => {
                    updated.push(Arc::clone(record));
                    let before = self.row(slot).map(|r| &r.record);
                    touched.upserted(before, record);
                    self.update_row(slot, Arc::clone(record));
                }
                None => {
                    touched.upserted(None, record);
                    added.push(Arc::clone(record));
                    let (demoted_at, demoted_from) =
                        self.departed.remove(&record.id).unwrap_or((0, 0));
                    let slot = self.insert_row(Arc::clone(record), None);
                    if let Some(row) = self.rows[slot as usize].as_mut() {
                        row.demoted_at = demoted_at;
                        row.demoted_from = demoted_from;
                    }
                }
            }
        }
        for entry in &change.unread_removed {
            self.remove_unread(entry);
        }
        for entry in &change.unread_added {
            self.add_unread(entry);
        }
        for id in &change.settings_released {
            self.settings.remove(id);
        }
        for s in &change.settings_kept {
            self.settings.insert(s.id.clone(), s.clone());
        }
        if let Some(folders) = &change.folders {
            self.folders.clone_from(folders);
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
        Applied {
            events,
            touched: touched.rows,
        }
    }
}

/// The rows a change touches, one entry per conversation: its state before the change (the
/// first seen) and after it (the last seen).
#[derive(Default)]
struct TouchedRows {
    rows: Vec<Touched>,
    at: HashMap<ConversationId, usize>,
}

impl TouchedRows {
    /// A conversation the change deletes (it may delete one twice, bringing it back between).
    fn deleted(&mut self, id: &ConversationId, before: &Arc<Conversation>) {
        match self.at.get(id) {
            Some(&n) => self.rows[n].after = None,
            None => {
                self.at.insert(id.clone(), self.rows.len());
                self.rows.push(Touched {
                    before: Some(Arc::clone(before)),
                    after: None,
                });
            }
        }
    }

    /// A conversation the change creates or updates. Upserts come after every delete and
    /// name each conversation once (a change holds one new state per conversation), so only
    /// the deleted ones need looking up.
    fn upserted(&mut self, before: Option<&Arc<Conversation>>, after: &Arc<Conversation>) {
        if !self.at.is_empty()
            && let Some(&n) = self.at.get(&after.id)
        {
            self.rows[n].after = Some(Arc::clone(after));
            return;
        }
        self.rows.push(Touched {
            before: before.cloned(),
            after: Some(Arc::clone(after)),
        });
    }
}
