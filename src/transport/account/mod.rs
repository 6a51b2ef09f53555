//! The per-user rules of a sync server, independent of where the state is kept.
//!
//! Both servers of this project drive this one definition: the in-memory
//! [`loopback`](super::loopback) server keeps every user's [`Account`] whole in memory; the
//! `timconv-server` crate keeps each user's state in a database and, for each request, loads
//! into an [`Account`] only the rows the request needs ([`Account::needs`]), applies the same
//! rules, and writes back what changed ([`Account::take_changes`]) inside one serializable
//! transaction. What each operation does, the limits and their codes, delete floors,
//! idempotency by operation ID and the paging of pulls are written here once; the module docs
//! of [`loopback`](super::loopback) describe them.
//!
//! # The parts of an account
//!
//! - The [`Head`]: the user's counters (the version counter, the history floor, how many
//!   conversations are pinned and decorated) and the list of folders. It is small
//!   and always loaded whole.
//! - One [`Record`] per conversation the server has heard of, with the version of its last
//!   visible change. A request loads the records it names (and, for a group-wide operation,
//!   the members of every group, which the decoration limit keeps bounded).
//! - The version log: each record's version, and the group list's. A pull asks the store for
//!   the entries after a bookmark in version order ([`pull_start`], [`pull_page`]); an
//!   in-memory store indexes them, a database orders its rows by a version column.
//! - Remembered outcomes, by operation ID: [`Account::push`] asks for those of the IDs it is
//!   given and returns the new ones.

mod operations;
mod pull;

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::limits::Limits;
use crate::model::lifecycle::{order_of, position, recency};
use crate::model::{ConversationId, CustomData, Message};
use crate::transport::{
    FolderRename, OpId, OpOutcome, OpResult, PendingOperation, PushResponse, RemoteChange,
    RemoteConversation,
};
use operations::{is_group_op, op_groups};
pub use pull::{
    PageChange, PageOf, PullItem, PullStart, PulledConversation, pull_page, pull_page_of,
    pull_start,
};

/// One conversation as the server keeps it. Serializable, so that a database can store it as
/// one value; its fields are the server's business.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The user's version counter when its visible state last changed.
    version: u64,
    alive: bool,
    /// Deleted, and the deletion is still in the change history (see `forget_history`).
    tombstone: bool,
    /// Recency of the newest message deleted; `None` if never deleted.
    floor: Option<[u64; 3]>,
    /// A delete since it was last alive cleared its history.
    cleared: bool,
    pinned: bool,
    marks: u64,
    custom_data: CustomData,
    /// Group IDs, in the order it joined them.
    folders: Vec<u64>,
    read_position: u64,
    /// Every stored message, ordered by `order_of`.
    messages: Vec<Message>,
    /// The `dedup_key` of every stored message (rebuilt when a record is loaded).
    #[serde(skip)]
    keys: HashSet<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    show_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    face_url: String,
}

impl Record {
    /// The version of its last visible change.
    #[must_use]
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Whether a pull shows it: alive, or deleted with the delete still in the history.
    #[must_use]
    pub fn is_visible(&self) -> bool {
        self.alive || self.tombstone
    }

    /// Whether it is alive (a full pull shows only those).
    #[must_use]
    pub fn is_alive(&self) -> bool {
        self.alive
    }

    /// The IDs of the groups it belongs to, in the order it joined them.
    #[must_use]
    pub fn group_ids(&self) -> &[u64] {
        &self.folders
    }

    fn decorated(&self) -> bool {
        self.alive && (self.marks != 0 || !self.custom_data.is_empty() || !self.folders.is_empty())
    }

    fn counted_pinned(&self) -> bool {
        self.alive && self.pinned
    }

    /// Whether `message` is at or below the floor (from before the last delete).
    fn below_floor(&self, message: &Message, id: &ConversationId) -> bool {
        self.floor
            .is_some_and(|floor| recency(message, id.kind()) <= floor)
    }

    fn revive(&mut self) {
        self.alive = true;
        self.tombstone = false;
        self.cleared = false;
    }

    fn rebuild_keys(&mut self) {
        self.keys = self.messages.iter().map(Message::dedup_key).collect();
    }
}

/// A folder: an integer ID inside, its name outside.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    /// Its ID, never reused.
    pub id: u64,
    /// Its name.
    pub name: String,
}

/// A user's counters and group list: what every request needs whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    /// The last version given out.
    pub version: u64,
    /// Bookmarks older than this are too far behind.
    pub history_floor: u64,
    /// The version of the group list.
    pub groups_version: u64,
    /// The ID the next group gets.
    pub next_group_id: u64,
    /// How many live conversations are pinned.
    pub pinned: u64,
    /// How many live conversations carry marks, custom data or groups.
    pub decorated: u64,
    /// The groups, in creation order.
    pub folders: Vec<Group>,
}

impl Default for Head {
    /// A new user: version 0, where the (empty) group list stands, so that a full pull always
    /// reports it.
    fn default() -> Self {
        Self {
            version: 0,
            history_floor: 0,
            groups_version: 0,
            next_group_id: 1,
            pinned: 0,
            decorated: 0,
            folders: Vec::new(),
        }
    }
}

impl Head {
    /// The group names, in creation order.
    #[must_use]
    pub fn group_names(&self) -> Vec<String> {
        self.folders.iter().map(|g| g.name.clone()).collect()
    }

    fn group_id(&self, name: &str) -> Option<u64> {
        self.folders.iter().find(|g| g.name == name).map(|g| g.id)
    }
}

/// What a version of the user's history stands for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Entry {
    /// A conversation's state (or tombstone).
    Conversation(ConversationId),
    /// The group list.
    Groups,
}

/// An entry given a new version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bump {
    /// What changed.
    pub entry: Entry,
    /// Its version before (where an index must drop it).
    pub old: u64,
    /// Its new version.
    pub new: u64,
    /// Whether a pull shows it at its new version.
    pub visible: bool,
}

/// What an account changed since the last [`Account::take_changes`]: what a store writes back.
#[derive(Debug, Default)]
pub struct Changes {
    /// Conversations whose record changed, in the order first changed; one that
    /// [`Account::record`] no longer has is unknown again (its row, if any, goes).
    pub conversations: Vec<ConversationId>,
    /// Versions given out, in order.
    pub bumps: Vec<Bump>,
    /// Renames made, with the version of the group list they gave.
    pub renames: Vec<(u64, FolderRename)>,
    /// Every older rename was forgotten ([`Account::forget_history`]).
    pub renames_forgotten: bool,
    /// New outcomes to remember, by operation ID, in the order decided.
    pub outcomes: Vec<(OpId, OpOutcome)>,
}

/// What a request must load into an [`Account`] before it is applied.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Needs {
    /// These conversations' records (where they exist).
    pub conversations: Vec<ConversationId>,
    /// And every conversation that belongs to any group.
    pub group_members: bool,
    /// And the remembered outcomes of these operation IDs.
    pub outcomes: Vec<OpId>,
}

/// A user's state on the server, whole or the part a request loaded (see the module docs).
#[derive(Debug)]
pub struct Account {
    limits: Limits,
    head: Head,
    conversations: BTreeMap<ConversationId, Record>,
    /// Conversations changed by the step in progress, with what a pull showed of them and
    /// what they counted for before it.
    dirty: Vec<(ConversationId, Option<RemoteChange>, bool, bool)>,
    dirty_set: HashSet<ConversationId>,
    /// Renames made by the step in progress (versioned when it finishes).
    step_renames: Vec<FolderRename>,
    changes: Changes,
    changed_set: HashSet<ConversationId>,
}

impl Account {
    /// An account with `head` and no record loaded yet.
    #[must_use]
    pub fn new(limits: Limits, head: Head) -> Self {
        Self {
            limits,
            head,
            conversations: BTreeMap::new(),
            dirty: Vec::new(),
            dirty_set: HashSet::new(),
            step_renames: Vec::new(),
            changes: Changes::default(),
            changed_set: HashSet::new(),
        }
    }

    /// Adds a stored record to what is loaded.
    pub fn load(&mut self, id: ConversationId, mut record: Record) {
        record.rebuild_keys();
        self.conversations.insert(id, record);
    }

    /// What a push of `ops` needs loaded (beyond the [`Head`]).
    #[must_use]
    pub fn needs(ops: &[PendingOperation]) -> Needs {
        let mut seen = HashSet::new();
        let conversations = ops
            .iter()
            .flat_map(|p| p.op.conversations())
            .filter(|id| seen.insert(*id))
            .cloned()
            .collect();
        Needs {
            conversations,
            group_members: ops.iter().any(|p| !op_groups(&p.op).is_empty()),
            outcomes: ops.iter().map(|p| p.id.clone()).collect(),
        }
    }

    /// The head, as it stands.
    #[must_use]
    pub fn head(&self) -> &Head {
        &self.head
    }

    /// The loaded record of `id`.
    #[must_use]
    pub fn record(&self, id: &ConversationId) -> Option<&Record> {
        self.conversations.get(id)
    }

    /// Every loaded record.
    pub fn records(&self) -> impl Iterator<Item = (&ConversationId, &Record)> + '_ {
        self.conversations.iter()
    }

    /// Takes what changed since the last call.
    pub fn take_changes(&mut self) -> Changes {
        self.changed_set.clear();
        std::mem::take(&mut self.changes)
    }

    // -- reading ------------------------------------------------------------------------------

    fn remote(&self, id: &ConversationId, r: &Record) -> RemoteConversation {
        let kind = id.kind();
        let visible: Vec<&Message> = r
            .messages
            .iter()
            .filter(|m| !r.below_floor(m, id))
            .collect();
        let last = visible.len().checked_sub(1);
        let messages = visible
            .iter()
            .enumerate()
            .filter(|(i, m)| position(m, kind) > r.read_position || Some(*i) == last)
            .map(|(_, m)| (*m).clone())
            .collect();
        RemoteConversation {
            id: id.clone(),
            pinned: r.pinned,
            marks: r.marks,
            custom_data: r.custom_data.clone(),
            folders: r
                .folders
                .iter()
                .filter_map(|gid| self.head.folders.iter().find(|g| g.id == *gid))
                .map(|g| g.name.clone())
                .collect(),
            read_position: r.read_position,
            messages,
            show_name: r.show_name.clone(),
            face_url: r.face_url.clone(),
        }
    }

    /// What a pull shows of a loaded conversation: its state, its tombstone, or nothing.
    #[must_use]
    pub fn view(&self, id: &ConversationId) -> Option<RemoteChange> {
        let r = self.conversations.get(id)?;
        if r.alive {
            Some(RemoteChange::Conversation(self.remote(id, r)))
        } else if r.tombstone {
            Some(RemoteChange::Deleted {
                id: id.clone(),
                floor: r.floor.unwrap_or_default(),
                clear_messages: r.cleared,
            })
        } else {
            None
        }
    }

    fn is_alive(&self, id: &ConversationId) -> bool {
        self.conversations.get(id).is_some_and(|r| r.alive)
    }

    fn is_deleted(&self, id: &ConversationId) -> bool {
        self.conversations
            .get(id)
            .is_some_and(|r| !r.alive && r.tombstone)
    }

    fn is_decorated(&self, id: &ConversationId) -> bool {
        self.conversations.get(id).is_some_and(Record::decorated)
    }

    // -- changing -----------------------------------------------------------------------------

    /// The record of `id` for changing (created, unknown, if missing), remembering what a
    /// pull showed of it before and what it counted for.
    fn touch(&mut self, id: &ConversationId) -> &mut Record {
        if self.dirty_set.insert(id.clone()) {
            let before = self.view(id);
            let (pinned, decorated) = self
                .conversations
                .get(id)
                .map_or((false, false), |r| (r.counted_pinned(), r.decorated()));
            self.dirty.push((id.clone(), before, pinned, decorated));
        }
        if self.changed_set.insert(id.clone()) {
            self.changes.conversations.push(id.clone());
        }
        self.conversations.entry(id.clone()).or_default()
    }

    /// Ends a step: the counters follow the records touched, the group list gets a new
    /// version if its names changed, and then every conversation whose visible state changed
    /// does. (In that order, a pull reports a group created or renamed before the members
    /// that name it, so a device renames the group rather than moving each member, and never
    /// lists a member of a group it does not know yet.) Returns the conversations touched.
    fn finish(&mut self, groups_before: &[String]) -> Vec<ConversationId> {
        if self.head.group_names() != groups_before {
            self.bump(Entry::Groups);
        }
        let version = self.head.groups_version;
        for rename in std::mem::take(&mut self.step_renames) {
            self.changes.renames.push((version, rename));
        }
        let dirty = std::mem::take(&mut self.dirty);
        self.dirty_set.clear();
        let mut touched = Vec::with_capacity(dirty.len());
        for (id, before, was_pinned, was_decorated) in dirty {
            let (pinned, decorated) = self
                .conversations
                .get(&id)
                .map_or((false, false), |r| (r.counted_pinned(), r.decorated()));
            self.head.pinned = adjust(self.head.pinned, was_pinned, pinned);
            self.head.decorated = adjust(self.head.decorated, was_decorated, decorated);
            if self.view(&id) != before {
                self.bump(Entry::Conversation(id.clone()));
            }
            // A record that stayed unknown is not worth keeping.
            if self
                .conversations
                .get(&id)
                .is_some_and(|r| !r.alive && !r.tombstone && r.floor.is_none())
            {
                self.conversations.remove(&id);
            }
            touched.push(id);
        }
        touched
    }

    /// Gives `entry` the next version.
    fn bump(&mut self, entry: Entry) {
        self.head.version += 1;
        let version = self.head.version;
        let (old, visible) = match &entry {
            Entry::Groups => (
                std::mem::replace(&mut self.head.groups_version, version),
                true,
            ),
            Entry::Conversation(id) => match self.conversations.get_mut(id) {
                Some(r) => (std::mem::replace(&mut r.version, version), r.is_visible()),
                None => return,
            },
        };
        self.changes.bumps.push(Bump {
            entry,
            old,
            new: version,
            visible,
        });
    }

    /// Stores a message delivered to the user; `false` if it was ignored (a duplicate, or from
    /// before the conversation's last delete). Needs the conversation's record loaded.
    pub fn deliver(&mut self, id: &ConversationId, message: Message) -> bool {
        let key = message.dedup_key();
        if let Some(r) = self.conversations.get(id)
            && (r.keys.contains(&key) || r.below_floor(&message, id))
        {
            return false;
        }
        let groups_before = self.head.group_names();
        let kind = id.kind();
        let r = self.touch(id);
        if !r.alive {
            r.revive();
        }
        let order = order_of(&message, kind);
        let at = r.messages.partition_point(|m| order_of(m, kind) <= order);
        r.messages.insert(at, message);
        r.keys.insert(key);
        self.finish(&groups_before);
        true
    }

    /// Applies a push, with what [`needs`](Self::needs) asked for loaded: `remembered` holds
    /// the outcomes already decided for some of its IDs (those are answered again, not
    /// applied). Also says whether anything changed.
    pub fn push(
        &mut self,
        ops: &[PendingOperation],
        remembered: &HashMap<OpId, OpOutcome>,
    ) -> (PushResponse, bool) {
        let start = self.head.version;
        let mut named = Vec::new();
        let mut seen = HashSet::new();
        let mut decided: HashMap<OpId, OpOutcome> = HashMap::new();
        let mut groups_named = false;
        let mut results = Vec::with_capacity(ops.len());
        for pending in ops {
            groups_named |= is_group_op(&pending.op);
            let mut mentioned = pending.op.conversations().to_vec();
            let known = remembered
                .get(&pending.id)
                .or_else(|| decided.get(&pending.id));
            let outcome = match known {
                Some(remembered) => remembered.clone(),
                None => {
                    let groups_before = self.head.group_names();
                    let result = self.apply(&pending.op);
                    mentioned.extend(self.finish(&groups_before));
                    let outcome = match result {
                        Ok(()) => OpOutcome::Applied,
                        Err(r) => OpOutcome::Rejected {
                            code: r.code.as_i32(),
                            message: r.message,
                        },
                    };
                    decided.insert(pending.id.clone(), outcome.clone());
                    self.changes
                        .outcomes
                        .push((pending.id.clone(), outcome.clone()));
                    outcome
                }
            };
            for id in mentioned {
                if seen.insert(id.clone()) {
                    named.push(id);
                }
            }
            results.push(OpResult {
                id: pending.id.clone(),
                outcome,
            });
        }
        // Members of the groups a group-wide operation named, whether it applied or not.
        let folders: Vec<u64> = ops
            .iter()
            .flat_map(|p| op_groups(&p.op))
            .filter_map(|name| self.head.group_id(name))
            .collect();
        for gid in folders {
            for id in self.members_of(gid) {
                if seen.insert(id.clone()) {
                    named.push(id);
                }
            }
        }
        let mut changes: Vec<RemoteChange> = named.iter().filter_map(|id| self.view(id)).collect();
        if groups_named {
            changes.push(RemoteChange::Folders {
                names: self.head.group_names(),
                renamed: Vec::new(),
            });
        }
        (
            PushResponse { results, changes },
            self.head.version != start,
        )
    }

    /// Forgets the change history up to now; needs every record loaded. Tombstones leave the
    /// history (the floors stay, so stale messages still cannot revive those conversations),
    /// and every live conversation and the group list get versions after the new history
    /// floor, in their old order, so that a full pull never hands out a bookmark older than
    /// it.
    pub fn forget_history(&mut self) {
        self.head.history_floor = self.head.version;
        self.changes.renames_forgotten = true;
        self.changes.renames.clear();
        let mut remaining: Vec<(u64, Entry)> = vec![(self.head.groups_version, Entry::Groups)];
        let mut forgotten = Vec::new();
        for (id, r) in &mut self.conversations {
            if r.alive {
                remaining.push((r.version, Entry::Conversation(id.clone())));
            } else if r.tombstone {
                r.tombstone = false;
                forgotten.push(id.clone());
            }
        }
        for id in forgotten {
            if self.changed_set.insert(id.clone()) {
                self.changes.conversations.push(id.clone());
            }
            let version = self.conversations.get(&id).map_or(0, Record::version);
            self.changes.bumps.push(Bump {
                entry: Entry::Conversation(id),
                old: version,
                new: version,
                visible: false,
            });
        }
        remaining.sort_by_key(|(v, _)| *v);
        for (_, entry) in remaining {
            if let Entry::Conversation(id) = &entry
                && self.changed_set.insert(id.clone())
            {
                self.changes.conversations.push(id.clone());
            }
            self.bump(entry);
        }
    }
}

/// A counter after one record went from counting (`before`) to `after`.
fn adjust(count: u64, before: bool, after: bool) -> u64 {
    match (before, after) {
        (false, true) => count.saturating_add(1),
        (true, false) => count.saturating_sub(1),
        _ => count,
    }
}
