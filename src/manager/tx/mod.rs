//! A change being planned: the writer's view of the index (and of the change still being
//! committed, see `inflight.rs`) plus its own pending writes. Its unread bookkeeping is in
//! `unread.rs`.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};

use crate::error::{Error, Result};
use crate::events::Event;
use crate::filter::ConversationFilter;
use crate::folders::FolderEdit;
use crate::limits::Limits;
use crate::model::{Conversation, ConversationId, ReceiveOption};
use crate::store::{ChangeSet, KeptSettings, Tombstone};

use super::inflight::{Base, InFlight, UnreadChange};

mod unread;

use crate::sync::outbox::{Outbox, OutboxDelta, OutboxEntry};
use crate::transport::{Bookmark, OpId, Operation, PendingOperation};
use unread::UnreadDelta;

fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// A change being planned: reads see its [`Base`] (the index, and the change in flight)
/// plus this change's own writes.
///
/// Several operations may be planned into one `Tx` (group commit); a [`Savepoint`] taken
/// before each lets a failing one be rolled back alone.
pub(crate) struct Tx<'a> {
    base: Base<'a>,
    outbox: &'a Outbox,
    pub(crate) limits: &'a Limits,
    pub(crate) self_user: Option<&'a str>,
    /// Conversations written by this change: `Some` upserted, `None` deleted.
    overlay: HashMap<ConversationId, Option<Arc<Conversation>>>,
    /// Written IDs in first-write order, so commits and events are deterministic.
    touched: Vec<ConversationId>,
    tombstones: HashMap<ConversationId, Tombstone>,
    /// Deleted by this change, in order.
    deleted: Vec<ConversationId>,
    unread: HashMap<ConversationId, UnreadDelta>,
    /// Kept settings written by this change: `Some` kept, `None` released.
    settings: HashMap<ConversationId, Option<KeptSettings>>,
    /// How to undo each write, newest last.
    undo: Vec<Undo>,
    folders: Option<Vec<String>>,
    events: Vec<Event>,
    order_clock: u64,
    next_unread_id: u64,
    pinned: usize,
    decorated: usize,
    /// This session's prefix of client operation IDs; `None` when no transport is configured
    /// (nothing is recorded for sync).
    sync_session: Option<u64>,
    outbox_added: Vec<OutboxEntry>,
    outbox_removed: Vec<u64>,
    /// `outbox_removed` as a set, for the pending-operation scans of reconciliation.
    removed_set: HashSet<u64>,
    bookmark: Option<Bookmark>,
    next_seq: u64,
}

/// How to undo one write of a [`Tx`]: the previous value of the entry (`None`: absent).
enum Undo {
    Overlay(ConversationId, Option<Option<Arc<Conversation>>>),
    Tombstone(ConversationId, Option<Tombstone>),
    Settings(ConversationId, Option<Option<KeptSettings>>),
    /// The lengths of a conversation's unread delta before a write.
    Unread(ConversationId, usize, usize),
}

/// A point a [`Tx`] can roll back to.
pub(crate) struct Savepoint {
    undo: usize,
    touched: usize,
    deleted: usize,
    folders: Option<Vec<String>>,
    events: usize,
    pinned: usize,
    decorated: usize,
    outbox_added: usize,
    outbox_removed: usize,
    bookmark: Option<Bookmark>,
}

/// What planning produced: the change for the store, the outbox part as the sync layer reads
/// it, and the operations' own events.
pub(crate) struct Planned {
    /// Shared with the view in flight ([`InFlight`]).
    pub(crate) change: Arc<ChangeSet>,
    pub(crate) outbox: OutboxDelta,
    pub(crate) events: Vec<Event>,
}

impl Planned {
    /// Whether it leaves the store and the outbox as they are (nothing to commit).
    pub(crate) fn is_empty(&self) -> bool {
        self.change.is_empty() && self.outbox.is_empty()
    }
}

impl<'a> Tx<'a> {
    pub(crate) fn new(
        base: Base<'a>,
        outbox: &'a Outbox,
        limits: &'a Limits,
        self_user: Option<&'a str>,
        sync_session: Option<u64>,
    ) -> Self {
        Self {
            base,
            outbox,
            limits,
            self_user,
            overlay: HashMap::new(),
            touched: Vec::new(),
            tombstones: HashMap::new(),
            deleted: Vec::new(),
            unread: HashMap::new(),
            settings: HashMap::new(),
            undo: Vec::new(),
            folders: None,
            events: Vec::new(),
            order_clock: base.order_clock(),
            next_unread_id: base.next_unread_id(),
            pinned: base.pinned_count(),
            decorated: base.decorated_count(),
            sync_session,
            outbox_added: Vec::new(),
            outbox_removed: Vec::new(),
            removed_set: HashSet::new(),
            bookmark: None,
            next_seq: outbox.next_seq(),
        }
    }

    /// The conversation as this change sees it.
    pub(crate) fn get(&self, id: &ConversationId) -> Option<&Arc<Conversation>> {
        match self.overlay.get(id) {
            Some(written) => written.as_ref(),
            None => self.base.get(id),
        }
    }

    /// The conversation, or 6004 if it does not exist.
    pub(crate) fn existing(&self, id: &ConversationId) -> Result<&Arc<Conversation>> {
        self.get(id)
            .ok_or_else(|| Error::ConversationNotFound(id.to_string()))
    }

    /// The tombstone left by the last delete of a conversation (it stays after the
    /// conversation comes back), as this change sees it.
    pub(crate) fn tombstone(&self, id: &ConversationId) -> Option<&Tombstone> {
        self.tombstones.get(id).or_else(|| self.base.tombstone(id))
    }

    /// The settings kept for a conversation that is not in the list, as this change sees them.
    pub(crate) fn kept_settings(&self, id: &ConversationId) -> Option<&KeptSettings> {
        match self.settings.get(id) {
            Some(written) => written.as_ref(),
            None => self.base.kept_settings(id),
        }
    }

    /// A new, empty record for a conversation about to appear, with the settings kept for it
    /// (from before a delete, or given before it existed).
    pub(crate) fn new_conversation(&self, id: &ConversationId) -> Conversation {
        let mut conversation = Conversation::new(id.clone());
        if let Some(kept) = self.kept_settings(id) {
            conversation.receive_option = kept.receive_option;
            conversation.group_type = kept.group_type;
        }
        conversation
    }

    /// Keeps settings for a conversation that is not in the list (replacing earlier ones).
    pub(crate) fn keep_settings(&mut self, settings: KeptSettings) {
        let id = settings.id.clone();
        let previous = self.settings.insert(id.clone(), Some(settings));
        self.undo.push(Undo::Settings(id, previous));
    }

    fn release_settings(&mut self, id: &ConversationId) {
        if self.kept_settings(id).is_some() {
            let previous = self.settings.insert(id.clone(), None);
            self.undo.push(Undo::Settings(id.clone(), previous));
        }
    }

    /// IDs of the live conversations matching `filter`, as this change sees them.
    pub(crate) fn ids_matching(&self, filter: &ConversationFilter) -> Vec<ConversationId> {
        let mut ids = self.base.ids_matching(filter);
        ids.retain(|id| !self.overlay.contains_key(id));
        ids.extend(
            self.touched
                .iter()
                .filter(|id| self.get(id).is_some_and(|c| filter.matches(c)))
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
        let (pinned_before, decorated_before) = flags(self.get(id).map(|c| &**c));
        let (pinned_after, decorated_after) = flags(after);
        self.pinned = self.pinned + pinned_after - pinned_before;
        self.decorated = self.decorated + decorated_after - decorated_before;
    }

    /// Writes a conversation's new state (creating it if needed). Its unread count is set from
    /// its unread entries as this change sees them; a conversation that appears takes its
    /// kept settings out of keeping (see [`new_conversation`](Self::new_conversation)).
    pub(crate) fn put(&mut self, mut conversation: Conversation) {
        let id = conversation.id.clone();
        conversation.unread_count = self.unread_count(&id);
        if self.get(&id).is_none() {
            self.release_settings(&id);
        }
        self.account(&id, Some(&conversation));
        self.mark_touched(&id);
        let previous = self
            .overlay
            .insert(id.clone(), Some(Arc::new(conversation)));
        self.undo.push(Undo::Overlay(id, previous));
    }

    /// Applies `edit` to a copy of an existing conversation and writes it if anything changed.
    /// Returns whether it changed; 6004 if the conversation does not exist.
    pub(crate) fn update(
        &mut self,
        id: &ConversationId,
        edit: impl FnOnce(&mut Conversation, &mut Self) -> Result<()>,
    ) -> Result<bool> {
        let before = Arc::clone(self.existing(id)?);
        let mut after = Conversation::clone(&before);
        edit(&mut after, self)?;
        after.unread_count = self.unread_count(id);
        if after == *before {
            return Ok(false);
        }
        self.put(after);
        Ok(true)
    }

    /// Deletes a conversation, leaving `tombstone`: its unread entries go, and its settings
    /// are kept for when it comes back.
    pub(crate) fn delete(&mut self, tombstone: Tombstone) {
        let id = tombstone.id.clone();
        if let Some(c) = self.get(&id) {
            let kept = (c.receive_option != ReceiveOption::Receive || c.group_type.is_some())
                .then(|| KeptSettings::new(id.clone(), c.receive_option, c.group_type));
            if let Some(kept) = kept {
                self.keep_settings(kept);
            }
        }
        self.remove_unread_through(&id, None);
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

    /// The folder list as this change sees it.
    pub(crate) fn folder_names(&self) -> &[String] {
        self.folders.as_deref().unwrap_or(self.base.folders())
    }

    pub(crate) fn folder_exists(&self, name: &str) -> bool {
        self.folder_names().iter().any(|n| n == name)
    }

    /// Applies `edit` to the folder list (members are the caller's to update).
    pub(crate) fn edit_folders(&mut self, edit: FolderEdit<'_>) {
        let base = self.base;
        let folders = self.folders.get_or_insert_with(|| base.folders().to_vec());
        edit.apply_to_list(folders);
    }

    /// Members of folder `name` as this change sees them.
    pub(crate) fn folder_members(&self, name: &str) -> Vec<ConversationId> {
        self.ids_matching(&ConversationFilter::new().folder(name))
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
            folders: self.folders.clone(),
            events: self.events.len(),
            pinned: self.pinned,
            decorated: self.decorated,
            outbox_added: self.outbox_added.len(),
            outbox_removed: self.outbox_removed.len(),
            bookmark: self.bookmark.clone(),
        }
    }

    /// Undoes everything planned since `savepoint`: the operation failed. Order keys and
    /// unread entry IDs it allocated are not reused (they only need to be unique).
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
                Undo::Settings(id, Some(previous)) => {
                    self.settings.insert(id, previous);
                }
                Undo::Settings(id, None) => {
                    self.settings.remove(&id);
                }
                Undo::Unread(id, added, removed) => {
                    if let Some(delta) = self.unread.get_mut(&id) {
                        delta.truncate(added, removed);
                    }
                }
            }
        }
        self.touched.truncate(savepoint.touched);
        self.deleted.truncate(savepoint.deleted);
        self.folders = savepoint.folders;
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
        self.bookmark = (self.stored_bookmark() != Some(&bookmark)).then_some(bookmark);
    }

    /// The pull bookmark stored before this change: the one the change being committed
    /// stores, else the committed one.
    fn stored_bookmark(&self) -> Option<&Bookmark> {
        self.base.bookmark().or_else(|| self.outbox.bookmark())
    }

    /// The pull bookmark as this change sees it: the one it stores, else the one before it.
    pub(crate) fn bookmark(&self) -> Option<&Bookmark> {
        self.bookmark.as_ref().or_else(|| self.stored_bookmark())
    }

    /// The outbox as committed (without this change's own additions and removals).
    pub(crate) fn outbox(&self) -> &Outbox {
        self.outbox
    }

    /// The operations still waiting for the server as this change sees them, in push order.
    pub(crate) fn pending_ops(&self) -> impl Iterator<Item = &Operation> + '_ {
        self.outbox
            .iter()
            .filter(|(seq, _)| !self.removed_set.contains(seq))
            .map(|(_, p)| &p.op)
            .chain(self.outbox_added.iter().map(|e| &e.operation.op))
    }

    /// The change to commit, and how the next plan sees it while it is being committed.
    ///
    /// # Errors
    /// [`Error::Internal`] if the sync data cannot be encoded (never expected).
    pub(crate) fn finish(mut self) -> Result<(Planned, InFlight)> {
        let outbox = OutboxDelta {
            added: std::mem::take(&mut self.outbox_added),
            removed: std::mem::take(&mut self.outbox_removed),
            bookmark: self.bookmark.take(),
        };
        let bookmark = outbox.bookmark.clone();
        let mut change = ChangeSet {
            order_clock: self.order_clock,
            folders: self.folders,
            sync: outbox.to_store()?,
            ..ChangeSet::default()
        };
        change.upserts.reserve(self.touched.len());
        for id in &self.touched {
            if let Some(Some(record)) = self.overlay.get(id) {
                change.upserts.push(Arc::clone(record));
            }
        }
        // A conversation deleted and brought back within one change still records its
        // tombstone, which outlives the delete.
        for id in &self.deleted {
            if let Some(t) = self.tombstones.get(id) {
                change.deletes.push(t.clone());
            }
        }
        // Unread entries in touched order, each conversation's added entries side by side (the
        // view in flight points at them): an entry added and removed by this change is in
        // neither list.
        let mut unread = HashMap::with_capacity(self.unread.len());
        let mut order: Vec<ConversationId> = self
            .touched
            .iter()
            .filter(|id| self.unread.contains_key(*id))
            .cloned()
            .collect();
        if order.len() < self.unread.len() {
            order.extend(self.unread.keys().cloned());
        }
        for id in order {
            let Some(delta) = self.unread.remove(&id) else {
                continue;
            };
            let from = change.unread_added.len();
            let mut removed = HashSet::new();
            if delta.removed.is_empty() {
                change.unread_added.extend(delta.added);
            } else {
                let mine: HashSet<u64> = delta.added.iter().map(|e| e.id).collect();
                change.unread_added.extend(
                    delta
                        .added
                        .into_iter()
                        .filter(|e| !delta.removed_ids.contains(&e.id)),
                );
                for e in delta.removed {
                    if !mine.contains(&e.id) {
                        removed.insert(e.id);
                        change.unread_removed.push(e);
                    }
                }
            }
            let seen = UnreadChange {
                added: from..change.unread_added.len(),
                removed,
            };
            unread.insert(id, seen);
        }
        for (id, settings) in &self.settings {
            match settings {
                Some(kept) => change.settings_kept.push(kept.clone()),
                None if self.base.kept_settings(id).is_some() => {
                    change.settings_released.push(id.clone());
                }
                None => {}
            }
        }
        let change = Arc::new(change);
        let inflight = InFlight {
            change: Arc::clone(&change),
            conversations: self.overlay,
            tombstones: self.tombstones,
            settings: self.settings,
            unread,
            next_unread_id: self.next_unread_id,
            pinned: self.pinned,
            decorated: self.decorated,
            bookmark,
        };
        let planned = Planned {
            change,
            outbox,
            events: self.events,
        };
        Ok((planned, inflight))
    }
}
