//! The authoritative state of one user on the loopback server, and what each operation, each
//! delivered message and each pull does to it (the rules are in the module docs of
//! [`loopback`](super)).

mod operations;

use std::collections::{BTreeMap, HashMap, HashSet};

use super::ServerState;
use crate::error::ErrorCode;
use crate::limits::Limits;
use crate::manager::messages::{order_of, position, recency};
use crate::model::{ConversationId, CustomData, Message};
use crate::transport::{
    Bookmark, GroupRename, OpId, OpOutcome, OpResult, PendingOperation, PullPage, PullResponse,
    PushResponse, RemoteChange, RemoteConversation, TransportError,
};
use operations::{is_group_op, op_groups};

/// One conversation as the server keeps it.
#[derive(Debug, Default)]
struct Record {
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
    groups: Vec<u64>,
    read_position: u64,
    /// Every stored message, ordered by `order_of`.
    messages: Vec<Message>,
    /// The `dedup_key` of every stored message.
    keys: HashSet<String>,
    show_name: String,
    face_url: String,
}

impl Record {
    fn decorated(&self) -> bool {
        self.alive && (self.marks != 0 || !self.custom_data.is_empty() || !self.groups.is_empty())
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
}

/// A conversation group: an integer ID inside, its name outside.
#[derive(Debug)]
struct Group {
    id: u64,
    name: String,
}

/// What a version of the user's history stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    Conversation(ConversationId),
    Groups,
}

/// Everything the server keeps for one user.
#[derive(Debug)]
pub(super) struct Account {
    limits: Limits,
    /// The last version given out.
    version: u64,
    /// Bookmarks older than this are too far behind.
    history_floor: u64,
    conversations: BTreeMap<ConversationId, Record>,
    /// Each conversation visible to a pull (live or tombstone) and the group list, by version.
    by_version: BTreeMap<u64, Entry>,
    groups: Vec<Group>,
    next_group_id: u64,
    groups_version: u64,
    /// Renames, with the version of the group list they gave, for incremental pulls.
    renames: Vec<(u64, GroupRename)>,
    /// Renames made by the step in progress (versioned when it finishes).
    step_renames: Vec<GroupRename>,
    outcomes: HashMap<OpId, OpOutcome>,
    applied: Vec<OpId>,
    /// Conversations changed by the step in progress, with what a pull showed before it.
    dirty: Vec<(ConversationId, Option<RemoteChange>)>,
    dirty_set: HashSet<ConversationId>,
}

impl Account {
    pub(super) fn new(limits: Limits) -> Self {
        let mut by_version = BTreeMap::new();
        // The group list exists from the start (empty), so a full pull always reports it.
        by_version.insert(0, Entry::Groups);
        Self {
            limits,
            version: 0,
            history_floor: 0,
            conversations: BTreeMap::new(),
            by_version,
            groups: Vec::new(),
            next_group_id: 1,
            groups_version: 0,
            renames: Vec::new(),
            step_renames: Vec::new(),
            outcomes: HashMap::new(),
            applied: Vec::new(),
            dirty: Vec::new(),
            dirty_set: HashSet::new(),
        }
    }

    // -- reading ------------------------------------------------------------------------------

    fn group_names(&self) -> Vec<String> {
        self.groups.iter().map(|g| g.name.clone()).collect()
    }

    fn group_id(&self, name: &str) -> Option<u64> {
        self.groups.iter().find(|g| g.name == name).map(|g| g.id)
    }

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
            groups: r
                .groups
                .iter()
                .filter_map(|gid| self.groups.iter().find(|g| g.id == *gid))
                .map(|g| g.name.clone())
                .collect(),
            read_position: r.read_position,
            messages,
            show_name: r.show_name.clone(),
            face_url: r.face_url.clone(),
        }
    }

    /// What a pull shows of a conversation: its state, its tombstone, or nothing.
    fn view(&self, id: &ConversationId) -> Option<RemoteChange> {
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

    pub(super) fn state(&self) -> ServerState {
        let mut state = ServerState {
            groups: self.group_names(),
            ..ServerState::default()
        };
        for (id, r) in &self.conversations {
            if r.alive {
                state.conversations.insert(id.clone(), self.remote(id, r));
            } else if r.tombstone {
                state
                    .deleted
                    .insert(id.clone(), r.floor.unwrap_or_default());
            }
        }
        state
    }

    pub(super) fn applied(&self) -> Vec<OpId> {
        self.applied.clone()
    }

    pub(super) fn outcome(&self, id: &OpId) -> Option<OpOutcome> {
        self.outcomes.get(id).cloned()
    }

    // -- changing -----------------------------------------------------------------------------

    /// The record of `id` for changing (created, unknown, if missing), remembering what a
    /// pull showed of it before.
    fn touch(&mut self, id: &ConversationId) -> &mut Record {
        if self.dirty_set.insert(id.clone()) {
            let before = self.view(id);
            self.dirty.push((id.clone(), before));
        }
        self.conversations.entry(id.clone()).or_default()
    }

    /// Ends a step: the group list gets a new version if its names changed, and then every
    /// conversation whose visible state changed does. (In that order, a pull reports a
    /// group created or renamed before the members that name it, so a device renames the
    /// group rather than moving each member, and never lists a member of a group it does not
    /// know yet.) Returns the conversations touched.
    fn finish(&mut self, groups_before: &[String]) -> Vec<ConversationId> {
        if self.group_names() != groups_before {
            self.bump(Entry::Groups);
        }
        let version = self.groups_version;
        self.renames.extend(
            std::mem::take(&mut self.step_renames)
                .into_iter()
                .map(|r| (version, r)),
        );
        let dirty = std::mem::take(&mut self.dirty);
        self.dirty_set.clear();
        let mut touched = Vec::with_capacity(dirty.len());
        for (id, before) in dirty {
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
        self.version += 1;
        let version = self.version;
        let (old, visible) = match &entry {
            Entry::Groups => (std::mem::replace(&mut self.groups_version, version), true),
            Entry::Conversation(id) => match self.conversations.get_mut(id) {
                Some(r) => (
                    std::mem::replace(&mut r.version, version),
                    r.alive || r.tombstone,
                ),
                None => return,
            },
        };
        if self.by_version.get(&old) == Some(&entry) {
            self.by_version.remove(&old);
        }
        if visible {
            self.by_version.insert(version, entry);
        }
    }

    /// Stores a message delivered to the user; `false` if it was ignored (a duplicate, or from
    /// before the conversation's last delete).
    pub(super) fn deliver(&mut self, id: &ConversationId, message: Message) -> bool {
        let key = message.dedup_key();
        if let Some(r) = self.conversations.get(id)
            && (r.keys.contains(&key) || r.below_floor(&message, id))
        {
            return false;
        }
        let groups_before = self.group_names();
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

    /// Applies a push; also says whether anything changed.
    pub(super) fn push(&mut self, ops: &[PendingOperation]) -> (PushResponse, bool) {
        let start = self.version;
        let mut named = Vec::new();
        let mut seen = HashSet::new();
        let mut groups_named = false;
        let mut results = Vec::with_capacity(ops.len());
        for pending in ops {
            groups_named |= is_group_op(&pending.op);
            let mut mentioned = pending.op.conversations().to_vec();
            let outcome = match self.outcomes.get(&pending.id) {
                Some(remembered) => remembered.clone(),
                None => {
                    let groups_before = self.group_names();
                    let result = self.apply(&pending.op);
                    mentioned.extend(self.finish(&groups_before));
                    let outcome = match result {
                        Ok(()) => OpOutcome::Applied,
                        Err(r) => OpOutcome::Rejected {
                            code: r.code.as_i32(),
                            message: r.message,
                        },
                    };
                    self.outcomes.insert(pending.id.clone(), outcome.clone());
                    self.applied.push(pending.id.clone());
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
        let groups: Vec<u64> = ops
            .iter()
            .flat_map(|p| op_groups(&p.op))
            .filter_map(|name| self.group_id(name))
            .collect();
        for gid in groups {
            for id in self.members_of(gid) {
                if seen.insert(id.clone()) {
                    named.push(id);
                }
            }
        }
        let mut changes: Vec<RemoteChange> = named.iter().filter_map(|id| self.view(id)).collect();
        if groups_named {
            changes.push(RemoteChange::Groups {
                names: self.group_names(),
                renamed: Vec::new(),
            });
        }
        (PushResponse { results, changes }, self.version != start)
    }

    // -- history ------------------------------------------------------------------------------

    /// Forgets the change history up to now: tombstones leave it (the floors stay, so stale
    /// messages still cannot revive those conversations), and every live conversation and the
    /// group list get versions after the new history floor, so that a full pull never hands
    /// out a bookmark older than it.
    pub(super) fn forget_history(&mut self) {
        self.history_floor = self.version;
        self.renames.clear();
        for r in self.conversations.values_mut() {
            if !r.alive {
                r.tombstone = false;
            }
        }
        let remaining: Vec<Entry> = std::mem::take(&mut self.by_version)
            .into_values()
            .filter(|e| match e {
                Entry::Groups => true,
                Entry::Conversation(id) => self.is_alive(id),
            })
            .collect();
        for entry in remaining {
            self.bump(entry);
        }
    }

    /// One page of changes after `since` (everything live when `None`).
    pub(super) fn pull(
        &self,
        since: Option<&Bookmark>,
        limit: usize,
    ) -> Result<PullResponse, TransportError> {
        let limit = limit.max(1);
        let (start, full) = match since {
            None => (0, true),
            Some(bookmark) => {
                let after: u64 = bookmark.0.parse().map_err(|_| {
                    TransportError::refused(
                        ErrorCode::ServerInvalidParameters,
                        format!("malformed bookmark {:?}", bookmark.0),
                    )
                })?;
                // A bookmark this server never gave out (from the future) is as unknown as a
                // forgotten one: the client resyncs.
                if after < self.history_floor || after > self.version {
                    return Ok(PullResponse::TooFarBehind);
                }
                (after + 1, false)
            }
        };
        let mut changes = Vec::new();
        let mut last = 0;
        let mut has_more = false;
        for (&version, entry) in self.by_version.range(start..) {
            let change = match entry {
                Entry::Groups => RemoteChange::Groups {
                    names: self.group_names(),
                    // Renames since the bookmark; a full pull starts from nothing to rename.
                    renamed: if full {
                        Vec::new()
                    } else {
                        self.renames
                            .iter()
                            .filter(|(v, _)| *v >= start)
                            .map(|(_, r)| r.clone())
                            .collect()
                    },
                },
                Entry::Conversation(id) => match self.view(id) {
                    Some(c @ RemoteChange::Conversation(_)) => c,
                    Some(c) if !full => c,
                    _ => continue,
                },
            };
            if changes.len() == limit {
                has_more = true;
                break;
            }
            changes.push(change);
            last = version;
        }
        let bookmark = if has_more { last } else { self.version };
        Ok(PullResponse::Page(PullPage {
            changes,
            bookmark: Bookmark(bookmark.to_string()),
            has_more,
        }))
    }
}
