//! What each pushed operation does to an account: its checks (all made before anything
//! changes, so that a rejected operation changes nothing) and its effect.

use std::collections::HashSet;

use super::{Account, Group};
use crate::error::ErrorCode;
use crate::model::lifecycle::recency;
use crate::model::{ConversationId, CustomData, MarkFlags, Message};
use crate::transport::{FolderRename, Operation};

/// A refused operation: its SPEC §10 code and why.
pub(super) struct Rejection {
    pub(super) code: ErrorCode,
    pub(super) message: String,
}

fn reject(code: ErrorCode, message: impl Into<String>) -> Rejection {
    Rejection {
        code,
        message: message.into(),
    }
}

impl Account {
    /// Applies `op` whole, or refuses it having changed nothing.
    pub(super) fn apply(&mut self, op: &Operation) -> Result<(), Rejection> {
        match op {
            Operation::Pin {
                conversation,
                pinned,
            } => self.pin(conversation, *pinned),
            Operation::Mark {
                conversations,
                bits,
                enable,
            } => self.mark(conversations, *bits, *enable),
            Operation::SetCustomData {
                conversations,
                data,
            } => self.set_custom_data(conversations, data),
            Operation::Delete {
                conversation,
                clear_messages,
                floor,
            } => {
                self.delete(conversation, *clear_messages, *floor);
                Ok(())
            }
            Operation::MarkRead {
                conversation,
                position,
            } => {
                if self.is_alive(conversation) {
                    let r = self.touch(conversation);
                    r.read_position = r.read_position.max(*position);
                }
                Ok(())
            }
            Operation::CreateFolder {
                name,
                conversations,
            } => self.create_folder(name, conversations),
            Operation::DeleteFolder { name } => self.delete_folder(name),
            Operation::RenameFolder { from, to } => self.rename_folder(from, to),
            Operation::AddToFolder {
                name,
                conversations,
            } => self.add_to_folder(name, conversations),
            Operation::RemoveFromFolder {
                name,
                conversations,
            } => self.remove_from_folder(name, conversations),
        }
    }

    fn pin(&mut self, id: &ConversationId, pinned: bool) -> Result<(), Rejection> {
        if self.is_deleted(id) {
            return Err(deleted(id));
        }
        let already = self
            .conversations
            .get(id)
            .is_some_and(|r| r.alive && r.pinned);
        if pinned && !already {
            let count = self.head.pinned;
            if count >= self.limits.max_pinned as u64 {
                return Err(reject(
                    ErrorCode::TooManyPinned,
                    format!("{count} conversations are pinned already"),
                ));
            }
        }
        let r = self.touch(id);
        if !r.alive {
            r.revive();
        }
        r.pinned = pinned;
        Ok(())
    }

    /// The checks shared by marks and custom data once the parameters are valid: deleted
    /// conversations (6004), then the decoration limit if the change decorates (51008).
    fn check_targets(
        &self,
        conversations: &[ConversationId],
        decorates: bool,
    ) -> Result<(), Rejection> {
        if let Some(id) = conversations.iter().find(|id| self.is_deleted(id)) {
            return Err(deleted(id));
        }
        if decorates {
            self.check_decorated(conversations.iter())?;
        }
        Ok(())
    }

    fn check_batch(&self, conversations: &[ConversationId], min: usize) -> Result<(), Rejection> {
        let n = conversations.len();
        if n < min || n > self.limits.max_batch {
            return Err(reject(
                ErrorCode::BatchSize,
                format!(
                    "{n} conversations in one operation (allowed {min}..={})",
                    self.limits.max_batch
                ),
            ));
        }
        Ok(())
    }

    /// 51008 if decorating `ids` would make too many conversations decorated.
    fn check_decorated<'a>(
        &self,
        ids: impl Iterator<Item = &'a ConversationId>,
    ) -> Result<(), Rejection> {
        let fresh: HashSet<&ConversationId> = ids.filter(|id| !self.is_decorated(id)).collect();
        if fresh.is_empty() {
            return Ok(());
        }
        let now = self.head.decorated;
        if now.saturating_add(fresh.len() as u64) > self.limits.max_decorated as u64 {
            return Err(reject(
                ErrorCode::TooManyDecorated,
                format!(
                    "{} more decorated conversations would pass the limit of {}",
                    fresh.len(),
                    self.limits.max_decorated
                ),
            ));
        }
        Ok(())
    }

    fn mark(&mut self, ids: &[ConversationId], bits: u64, enable: bool) -> Result<(), Rejection> {
        self.check_batch(ids, 1)?;
        let reserved = bits & MarkFlags::RESERVED;
        if reserved != 0 {
            return Err(reject(
                ErrorCode::InvalidParameters,
                format!("reserved mark bits {reserved:#x}"),
            ));
        }
        self.check_targets(ids, enable && bits != 0)?;
        for id in ids {
            let r = self.touch(id);
            if !r.alive {
                r.revive();
            }
            if enable {
                r.marks |= bits;
            } else {
                r.marks &= !bits;
            }
        }
        Ok(())
    }

    fn set_custom_data(
        &mut self,
        ids: &[ConversationId],
        data: &CustomData,
    ) -> Result<(), Rejection> {
        self.check_batch(ids, 1)?;
        if data.len() > self.limits.max_custom_data_bytes {
            return Err(reject(
                ErrorCode::InvalidParameters,
                format!(
                    "custom data of {} bytes (at most {})",
                    data.len(),
                    self.limits.max_custom_data_bytes
                ),
            ));
        }
        self.check_targets(ids, !data.is_empty())?;
        for id in ids {
            let r = self.touch(id);
            if !r.alive {
                r.revive();
            }
            r.custom_data = data.clone();
        }
        Ok(())
    }

    fn delete(&mut self, id: &ConversationId, clear_messages: bool, floor: [u64; 3]) {
        let r = self.touch(id);
        let was_deleted = !r.alive && r.tombstone;
        let floor = r.floor.map_or(floor, |f| f.max(floor));
        r.floor = Some(floor);
        r.pinned = false;
        r.marks = 0;
        r.custom_data = CustomData::default();
        r.folders.clear();
        r.read_position = r.read_position.max(floor[0]);
        let kind = id.kind();
        if clear_messages {
            r.messages.retain(|m| recency(m, kind) > floor);
            r.keys = r.messages.iter().map(Message::dedup_key).collect();
        }
        r.alive = r.messages.iter().any(|m| recency(m, kind) > floor);
        r.tombstone = !r.alive;
        r.cleared = !r.alive && (clear_messages || (was_deleted && r.cleared));
    }

    fn check_group_name(&self, name: &str) -> Result<(), Rejection> {
        if name.is_empty() || name.len() > self.limits.max_folder_name_bytes {
            return Err(reject(
                ErrorCode::FolderNameLength,
                format!(
                    "a group name of {} bytes (allowed 1..={})",
                    name.len(),
                    self.limits.max_folder_name_bytes
                ),
            ));
        }
        Ok(())
    }

    fn existing_group(&self, name: &str) -> Result<u64, Rejection> {
        self.head
            .group_id(name)
            .ok_or_else(|| reject(ErrorCode::FolderNotFound, format!("no group {name:?}")))
    }

    /// The conversations of `ids` that are not deleted, each once, in order. (An unknown one
    /// joins as it would be marked: it is created, as the device that grouped it has it.)
    fn live_members(&self, ids: &[ConversationId]) -> Vec<ConversationId> {
        let mut seen = HashSet::new();
        ids.iter()
            .filter(|id| !self.is_deleted(id) && seen.insert(*id))
            .cloned()
            .collect()
    }

    /// Makes `id` a member of group `gid`, creating the conversation if it is unknown.
    fn join(&mut self, id: &ConversationId, gid: u64) {
        let r = self.touch(id);
        if !r.alive {
            r.revive();
        }
        if !r.folders.contains(&gid) {
            r.folders.push(gid);
        }
    }

    /// The loaded members of `group` (every member, when the request loaded them).
    pub(super) fn members_of(&self, group: u64) -> Vec<ConversationId> {
        self.conversations
            .iter()
            .filter(|(_, r)| r.folders.contains(&group))
            .map(|(id, _)| id.clone())
            .collect()
    }

    fn create_folder(&mut self, name: &str, ids: &[ConversationId]) -> Result<(), Rejection> {
        self.check_group_name(name)?;
        if self.head.group_id(name).is_some() {
            return Err(reject(
                ErrorCode::InvalidParameters,
                format!("group {name:?} exists"),
            ));
        }
        if self.head.folders.len() >= self.limits.max_folders {
            return Err(reject(
                ErrorCode::TooManyFolders,
                format!("{} groups exist already", self.head.folders.len()),
            ));
        }
        self.check_batch(ids, 0)?;
        let members = self.live_members(ids);
        self.check_decorated(members.iter())?;
        let gid = self.head.next_group_id;
        self.head.next_group_id += 1;
        self.head.folders.push(Group {
            id: gid,
            name: name.to_owned(),
        });
        for id in &members {
            self.join(id, gid);
        }
        Ok(())
    }

    fn delete_folder(&mut self, name: &str) -> Result<(), Rejection> {
        let gid = self.existing_group(name)?;
        for id in self.members_of(gid) {
            self.touch(&id).folders.retain(|g| *g != gid);
        }
        self.head.folders.retain(|g| g.id != gid);
        Ok(())
    }

    fn rename_folder(&mut self, from: &str, to: &str) -> Result<(), Rejection> {
        self.check_group_name(to)?;
        let gid = self.existing_group(from)?;
        if from == to {
            return Ok(());
        }
        if self.head.group_id(to).is_some() {
            return Err(reject(
                ErrorCode::InvalidParameters,
                format!("group {to:?} exists"),
            ));
        }
        // Touch the members first: their state as pulled (group names) is about to change.
        for id in self.members_of(gid) {
            self.touch(&id);
        }
        if let Some(g) = self.head.folders.iter_mut().find(|g| g.id == gid) {
            g.name = to.to_owned();
        }
        self.step_renames.push(FolderRename {
            from: from.to_owned(),
            to: to.to_owned(),
        });
        Ok(())
    }

    fn add_to_folder(&mut self, name: &str, ids: &[ConversationId]) -> Result<(), Rejection> {
        let gid = self.existing_group(name)?;
        self.check_batch(ids, 1)?;
        let members: Vec<ConversationId> = self
            .live_members(ids)
            .into_iter()
            .filter(|id| {
                self.conversations
                    .get(id)
                    .is_none_or(|r| !r.folders.contains(&gid))
            })
            .collect();
        self.check_decorated(members.iter())?;
        for id in &members {
            self.join(id, gid);
        }
        Ok(())
    }

    fn remove_from_folder(&mut self, name: &str, ids: &[ConversationId]) -> Result<(), Rejection> {
        let gid = self.existing_group(name)?;
        self.check_batch(ids, 1)?;
        for id in self.live_members(ids) {
            if self
                .conversations
                .get(&id)
                .is_some_and(|r| r.folders.contains(&gid))
            {
                self.touch(&id).folders.retain(|g| *g != gid);
            }
        }
        Ok(())
    }
}

fn deleted(id: &ConversationId) -> Rejection {
    reject(
        ErrorCode::InvalidConversation,
        format!("conversation {id} is deleted"),
    )
}

pub(super) fn is_group_op(op: &Operation) -> bool {
    matches!(
        op,
        Operation::CreateFolder { .. }
            | Operation::DeleteFolder { .. }
            | Operation::RenameFolder { .. }
            | Operation::AddToFolder { .. }
            | Operation::RemoveFromFolder { .. }
    )
}

/// The groups whose members a group-wide operation changes (or would have changed, had it
/// been applied): a device that applied it locally needs those members' state back.
pub(super) fn op_groups(op: &Operation) -> Vec<&str> {
    match op {
        Operation::DeleteFolder { name } => vec![name.as_str()],
        Operation::RenameFolder { from, to } => vec![from.as_str(), to.as_str()],
        _ => Vec::new(),
    }
}
