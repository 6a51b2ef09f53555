//! Reconciliation: what the server says, with this device's pending operations on top.
//!
//! The roaming state of a conversation on this device is always the last server state
//! received for it with every operation still in the outbox applied over it, in order. So a
//! server state older than a pending local change never undoes it, a change the server
//! rejected disappears once its rejection (and the server's state) arrives, and two devices
//! that have pushed everything and pulled the same server state agree. Read positions only
//! move up; a deleted conversation comes back only with a message newer than its delete.
//! Drafts, the order they cause, and the receive option are not roaming state and are never
//! touched here.

use std::collections::HashSet;

use crate::events::Event;
use crate::folders::{FolderEdit, join, leave};
use crate::manager::Tx;
use crate::manager::messages::{ingest, last_recency, place};
use crate::manager::unread::{Through, clean};
use crate::model::{Conversation, ConversationId, CustomData, MarkFlags};
use crate::store::Tombstone;
use crate::transport::{
    FolderRename, OpOutcome, Operation, PendingOperation, PushResponse, RemoteChange,
    RemoteConversation, TransportError,
};

/// The roaming state of one conversation (the default: what the server holds for a
/// conversation it does not know, nothing).
#[derive(Debug, Clone, Default, PartialEq)]
struct Roaming {
    pinned: bool,
    marks: MarkFlags,
    custom_data: CustomData,
    folders: Vec<String>,
    read: u64,
    /// Deleted, with the floor and the clear-messages flag of the delete.
    deleted: Option<([u64; 3], bool)>,
}

impl Roaming {
    fn of_remote(r: &RemoteConversation) -> Self {
        Self {
            pinned: r.pinned,
            marks: MarkFlags::from_bits_retain(r.marks),
            custom_data: r.custom_data.clone(),
            folders: r.folders.clone(),
            read: r.read_position,
            deleted: None,
        }
    }

    fn of_deleted(floor: [u64; 3], clear_messages: bool) -> Self {
        Self {
            read: floor[0],
            deleted: Some((floor, clear_messages)),
            ..Self::default()
        }
    }

    /// Applies a pending operation, as the server will when it receives it (limits are the
    /// server's to enforce: a refused operation is answered, and then drops out).
    fn apply(&mut self, op: &Operation, id: &ConversationId) {
        match op {
            Operation::Pin {
                conversation,
                pinned,
            } if conversation == id => self.pinned = *pinned,
            Operation::Mark {
                conversations,
                bits,
                enable,
            } if conversations.contains(id) => {
                let bits = MarkFlags::from_bits_retain(*bits);
                if *enable {
                    self.marks.insert(bits);
                } else {
                    self.marks.remove(bits);
                }
            }
            Operation::SetCustomData {
                conversations,
                data,
            } if conversations.contains(id) => self.custom_data.clone_from(data),
            Operation::Delete {
                conversation,
                clear_messages,
                floor,
            } if conversation == id => {
                let floor = self.deleted.map_or(*floor, |(old, _)| old.max(*floor));
                *self = Self {
                    read: self.read.max(floor[0]),
                    ..Self::of_deleted(floor, *clear_messages)
                };
            }
            Operation::MarkRead {
                conversation,
                position,
            } if conversation == id => self.read = self.read.max(*position),
            Operation::CreateFolder {
                name,
                conversations,
            }
            | Operation::AddToFolder {
                name,
                conversations,
            } if conversations.contains(id) => {
                join(&mut self.folders, name);
            }
            Operation::RemoveFromFolder {
                name,
                conversations,
            } if conversations.contains(id) => {
                leave(&mut self.folders, name);
            }
            Operation::DeleteFolder { name } => {
                FolderEdit::Delete(name).apply_to_memberships(&mut self.folders);
            }
            // Renaming onto a name this conversation is in already changes nothing: the
            // server refuses such a rename (6017).
            Operation::RenameFolder { from, to } => {
                FolderEdit::Rename { from, to }.apply_to_memberships(&mut self.folders);
            }
            _ => {}
        }
    }
}

/// `base` with every pending operation applied over it, in push order.
fn rebased(tx: &Tx<'_>, id: &ConversationId, mut base: Roaming) -> Roaming {
    for op in tx.pending_ops() {
        base.apply(op, id);
    }
    base
}

/// Applies one change reported by the server.
pub(crate) fn apply_remote(tx: &mut Tx<'_>, change: RemoteChange) {
    match change {
        RemoteChange::Conversation(r) => apply_conversation(tx, r),
        RemoteChange::Deleted {
            id,
            floor,
            clear_messages,
        } => apply_deleted(tx, &id, floor, clear_messages),
        RemoteChange::Folders { names, renamed } => apply_group_names(tx, names, renamed),
    }
}

fn apply_conversation(tx: &mut Tx<'_>, mut r: RemoteConversation) {
    let id = r.id.clone();
    let want = rebased(tx, &id, Roaming::of_remote(&r));
    // The server has it: create it here, unless a delete of it is still waiting (then only
    // a newer message, below, brings it back). A tombstone alone does not stop it: a delete
    // that left the outbox was answered, so this state is the server's after it (the server
    // refuses roaming changes to a deleted conversation; one it no longer knows, after a
    // resync removed it here, another device may have made anew). The tombstone still keeps
    // the messages from before the delete out.
    if tx.get(&id).is_none() && want.deleted.is_none() {
        let mut conversation = tx.new_conversation(&id);
        conversation.order_key = tx.next_order_key();
        tx.put(conversation);
    }
    for mut message in std::mem::take(&mut r.messages) {
        if place(&id, &mut message).is_ok() {
            ingest(tx, &id, message);
        }
    }
    if let (Some((floor, clear_messages)), Some(local)) = (want.deleted, tx.get(&id))
        && last_recency(local) <= floor
    {
        delete_locally(tx, &id, floor, clear_messages);
        return;
    }
    write_roaming(tx, &id, &want, Some(&r));
}

fn apply_deleted(tx: &mut Tx<'_>, id: &ConversationId, floor: [u64; 3], clear_messages: bool) {
    let want = rebased(tx, id, Roaming::of_deleted(floor, clear_messages));
    let (floor, clear_messages) = want.deleted.unwrap_or((floor, clear_messages));
    match tx.get(id) {
        // A message newer than the delete is here: the conversation is back (the server has
        // or will have that message too).
        Some(local) if last_recency(local) > floor => {
            write_roaming(tx, id, &want, None);
        }
        _ => delete_locally(tx, id, floor, clear_messages),
    }
}

/// Deletes a conversation here (or only raises its tombstone if it is not here), with the
/// events a local delete has.
fn delete_locally(tx: &mut Tx<'_>, id: &ConversationId, floor: [u64; 3], clear_messages: bool) {
    let old_floor = tx.tombstone(id).map(|t| t.last_message);
    let groups = tx.get(id).map(|c| c.folders.clone()).unwrap_or_default();
    let floor = old_floor.map_or(floor, |f| f.max(floor));
    if tx.get(id).is_none() && old_floor == Some(floor) {
        return;
    }
    for name in groups {
        tx.emit(Event::ConversationsRemovedFromFolder {
            name,
            conversations: vec![id.clone()],
            reason: crate::events::FolderRemovalReason::ByUser,
        });
    }
    tx.delete(Tombstone::new(id.clone(), floor, clear_messages));
}

/// Writes the roaming fields of `want` on the local record, if it exists.
fn write_roaming(
    tx: &mut Tx<'_>,
    id: &ConversationId,
    want: &Roaming,
    remote: Option<&RemoteConversation>,
) {
    let Some(current) = tx.get(id).cloned() else {
        return;
    };
    let c = &*current;
    let renamed = remote.is_some_and(|r| {
        (!r.show_name.is_empty() && r.show_name != c.show_name)
            || (!r.face_url.is_empty() && r.face_url != c.face_url)
    });
    if c.is_pinned == want.pinned
        && c.marks == want.marks
        && c.custom_data == want.custom_data
        && c.folders == want.folders
        && c.read_position() >= want.read
        && !renamed
    {
        // Nothing to change: the common case of a delta, checked without copying the record.
        return;
    }
    let pinning = want.pinned && !current.is_pinned;
    if want.read > current.read_position() {
        clean(tx, id, Through::Position(want.read));
    }
    let Some(cleaned) = tx.get(id) else {
        return;
    };
    let mut s = Conversation::clone(cleaned);
    let c = &mut s;
    c.is_pinned = want.pinned;
    c.marks = want.marks;
    c.custom_data.clone_from(&want.custom_data);
    c.folders.clear();
    // Each name once, whatever the server sent.
    for g in &want.folders {
        join(&mut c.folders, g);
    }
    if let Some(r) = remote {
        if !r.show_name.is_empty() {
            c.show_name.clone_from(&r.show_name);
        }
        if !r.face_url.is_empty() {
            c.face_url.clone_from(&r.face_url);
        }
    }
    let Some(before) = tx.get(id) else {
        return;
    };
    if **before == s {
        return;
    }
    // Membership changes publish the group events a local change would.
    let old_groups = current.folders.clone();
    let new_groups = &s.folders;
    for name in new_groups.iter().filter(|g| !old_groups.contains(g)) {
        tx.emit(Event::ConversationsAddedToFolder {
            name: name.clone(),
            conversations: vec![id.clone()],
        });
    }
    for name in old_groups.iter().filter(|g| !new_groups.contains(g)) {
        tx.emit(Event::ConversationsRemovedFromFolder {
            name: name.clone(),
            conversations: vec![id.clone()],
            reason: crate::events::FolderRemovalReason::ByUser,
        });
    }
    if pinning {
        // Pinning activates, as a local pin does.
        s.order_key = tx.next_order_key();
    }
    tx.put(s);
}

/// The server's list of group names, with pending group operations over it, becomes the
/// local list (keeping the server's order). The renames the server reports come first, for
/// the groups here still by their old names: they are renamed, as a local rename does (with
/// `FolderRenamed`), rather than deleted and created anew.
fn apply_group_names(tx: &mut Tx<'_>, names: Vec<String>, renamed: Vec<FolderRename>) {
    for FolderRename { from, to } in renamed {
        // A group operation of this device's still waiting on either name makes the local
        // group by that name possibly not the server's one: the list below settles it.
        let waiting = tx
            .pending_ops()
            .any(|op| names_group(op, &from) || names_group(op, &to));
        // Only a rename whose result the list still shows: the renames are history, and a
        // name may have been renamed away and then used again since.
        let current = names.contains(&to) && !names.contains(&from);
        if from != to && current && !waiting && tx.folder_exists(&from) && !tx.folder_exists(&to) {
            crate::manager::folders::rename(tx, from, to);
        }
    }
    let mut want = names;
    for op in tx.pending_ops() {
        match op {
            Operation::CreateFolder { name, .. } => {
                FolderEdit::Create(name).apply_to_list(&mut want);
            }
            Operation::DeleteFolder { name } => {
                FolderEdit::Delete(name).apply_to_list(&mut want);
            }
            Operation::RenameFolder { from, to } => {
                FolderEdit::Rename { from, to }.apply_to_list(&mut want);
            }
            _ => {}
        }
    }
    let current = tx.folder_names().to_vec();
    if current == want {
        return;
    }
    // The server's order wins: the list here becomes `want`, through the folder edits that
    // differ from the first name on.
    let same = current
        .iter()
        .zip(&want)
        .take_while(|(a, b)| a == b)
        .count();
    for name in &current[same..] {
        tx.edit_folders(FolderEdit::Delete(name));
    }
    for name in &want[same..] {
        tx.edit_folders(FolderEdit::Create(name));
    }
    for name in current.iter().filter(|n| !want.contains(n)) {
        // Members here that the server did not report (it had no state for them) leave too:
        // no conversation stays in a folder that does not exist.
        let edit = FolderEdit::Delete(name);
        for id in tx.folder_members(name) {
            let _ = tx.update(&id, |c, _| {
                edit.apply_to_memberships(&mut c.folders);
                Ok(())
            });
        }
        tx.emit(Event::FolderDeleted { name: name.clone() });
    }
    for name in want.iter().filter(|n| !current.contains(n)) {
        let conversations = tx.folder_members(name);
        tx.emit(Event::FolderCreated {
            name: name.clone(),
            conversations,
        });
    }
}

/// Whether `op` is a group operation naming group `name`.
fn names_group(op: &Operation, name: &str) -> bool {
    match op {
        Operation::CreateFolder { name: n, .. }
        | Operation::DeleteFolder { name: n }
        | Operation::AddToFolder { name: n, .. }
        | Operation::RemoveFromFolder { name: n, .. } => n == name,
        Operation::RenameFolder { from, to } => from == name || to == name,
        _ => false,
    }
}

/// Applies the server's answer to a push of `pushed`: answered operations leave the outbox
/// (rejected ones reported), then the server's state of what they touched is applied.
pub(crate) fn apply_push(tx: &mut Tx<'_>, response: PushResponse) -> usize {
    let mut answered = 0;
    let mut named: Vec<ConversationId> = Vec::new();
    for result in response.results {
        let Some(seq) = tx.outbox().seq_of(&result.id) else {
            continue;
        };
        answered += 1;
        tx.answered(seq);
        if let Some(p) = tx.outbox().get(seq) {
            named.extend(p.op.conversations().iter().cloned());
        }
        if let OpOutcome::Rejected { code, message } = &result.outcome {
            let operation = tx.outbox().get(seq).map(|p| p.op.clone());
            if let Some(operation) = operation {
                tracing::info!(op = %result.id, code, message, "the server rejected an operation");
                tx.emit(Event::OperationRejected {
                    code: result
                        .outcome
                        .rejection_code()
                        .unwrap_or(crate::error::ErrorCode::ServerInternal),
                    message: message.clone(),
                    operation,
                });
            }
        }
    }
    let reported: HashSet<ConversationId> = response
        .changes
        .iter()
        .filter_map(|c| match c {
            RemoteChange::Conversation(r) => Some(r.id.clone()),
            RemoteChange::Deleted { id, .. } => Some(id.clone()),
            RemoteChange::Folders { .. } => None,
        })
        .collect();
    for change in response.changes {
        apply_remote(tx, change);
    }
    // A conversation an answered operation named but the answer left out is one the server
    // does not know (docs/SYNC.md): its roaming state there is empty, so what stays here is
    // only what the operations still waiting make of it (a rejected pin is undone).
    let mut seen = HashSet::new();
    for id in named {
        if !reported.contains(&id) && seen.insert(id.clone()) && tx.get(&id).is_some() {
            let want = rebased(tx, &id, Roaming::default());
            write_roaming(tx, &id, &want, None);
        }
    }
    answered
}

/// The server refused a whole push: each operation in it leaves the outbox, reported as
/// rejected. (The caller then resyncs fully to learn the server's state.)
pub(crate) fn reject_all(tx: &mut Tx<'_>, pushed: &[PendingOperation], reason: &TransportError) {
    for p in pushed {
        if let Some(seq) = tx.outbox().seq_of(&p.id) {
            tx.answered(seq);
            tx.emit(Event::OperationRejected {
                operation: p.op.clone(),
                code: reason.code,
                message: reason.message.clone(),
            });
        }
    }
}

/// Applies a full resync: everything the server has. Conversations here that the server
/// does not have, and that nothing pending or recent keeps, are deleted; one that exists
/// here only for its draft (no message) stays, with the server's roaming state for a
/// conversation it does not know (none).
pub(crate) fn apply_full(tx: &mut Tx<'_>, changes: Vec<RemoteChange>, activated_before: u64) {
    let mut seen = HashSet::new();
    for change in &changes {
        match change {
            RemoteChange::Conversation(r) => seen.insert(r.id.clone()),
            RemoteChange::Deleted { id, .. } => seen.insert(id.clone()),
            RemoteChange::Folders { .. } => false,
        };
    }
    for change in changes {
        apply_remote(tx, change);
    }
    let all = crate::filter::ConversationFilter::new();
    let (draft_only, absent): (Vec<ConversationId>, Vec<ConversationId>) = tx
        .ids_matching(&all)
        .into_iter()
        .filter(|id| !seen.contains(id))
        .partition(|id| {
            tx.get(id)
                .is_some_and(|c| c.draft.is_some() && c.last_message.is_none())
        });
    for id in draft_only {
        let want = rebased(tx, &id, Roaming::default());
        write_roaming(tx, &id, &want, None);
    }
    let gone: Vec<ConversationId> = absent
        .into_iter()
        .filter(|id| tx.get(id).is_some_and(|c| c.order_key <= activated_before))
        .filter(|id| {
            !tx.pending_ops()
                .any(|op| crate::sync::outbox::touches(op, id))
        })
        .collect();
    for id in gone {
        let floor = tx.get(&id).map_or([0; 3], |c| last_recency(c));
        delete_locally(tx, &id, floor, false);
    }
}
