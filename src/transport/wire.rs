//! The data a transport carries: operations pushed, changes pulled, events pushed by the
//! server. Plain serde types with stable snake_case names (the wire format of docs/SYNC.md).

use serde::{Deserialize, Serialize};

use crate::error::ErrorCode;
use crate::model::{ConversationId, CustomData, Message};

/// Where a client is in the server's history of changes: opaque to the client, which stores
/// the last one it fully applied and sends it back with its next pull.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Bookmark(pub String);

/// A client operation ID: unique across devices and restarts, so that the server applies each
/// operation at most once however often it is pushed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OpId(pub String);

impl std::fmt::Display for OpId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A change the user made on this device to state that roams (SPEC §11): pin, marks, custom
/// data, folders, deletes and read positions. Drafts never leave the device.
///
/// Each is recorded, already applied locally, in the same transaction as the local change,
/// with the conversations it actually changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Operation {
    /// Pin or unpin a conversation.
    Pin {
        /// The conversation.
        conversation: ConversationId,
        /// Pinned after the operation.
        pinned: bool,
    },
    /// Set (`enable`) or clear mark bits on conversations.
    Mark {
        /// The conversations.
        conversations: Vec<ConversationId>,
        /// The mark bits.
        bits: u64,
        /// Set (`true`) or clear.
        enable: bool,
    },
    /// Replace the custom data of conversations.
    SetCustomData {
        /// The conversations.
        conversations: Vec<ConversationId>,
        /// The new custom data.
        data: CustomData,
    },
    /// Delete a conversation, up to its newest message the device had seen.
    Delete {
        /// The conversation.
        conversation: ConversationId,
        /// Also drop its message history.
        clear_messages: bool,
        /// Recency of the newest message deleted: (read position, server time, sequence).
        /// Only a newer message brings the conversation back.
        floor: [u64; 3],
    },
    /// Move a read position up (it never moves back).
    MarkRead {
        /// The conversation.
        conversation: ConversationId,
        /// The new read position: server time (C2C) or sequence (group).
        position: u64,
    },
    /// Create a folder with members.
    #[serde(rename = "create_group")]
    CreateFolder {
        /// Its name.
        name: String,
        /// Its first members.
        conversations: Vec<ConversationId>,
    },
    /// Delete a folder (its members stay, outside it).
    #[serde(rename = "delete_group")]
    DeleteFolder {
        /// Its name.
        name: String,
    },
    /// Rename a folder.
    #[serde(rename = "rename_group")]
    RenameFolder {
        /// The old name.
        from: String,
        /// The new name.
        to: String,
    },
    /// Add conversations to a group.
    #[serde(rename = "add_to_group")]
    AddToFolder {
        /// The group.
        name: String,
        /// The conversations.
        conversations: Vec<ConversationId>,
    },
    /// Remove conversations from a group.
    #[serde(rename = "remove_from_group")]
    RemoveFromFolder {
        /// The group.
        name: String,
        /// The conversations.
        conversations: Vec<ConversationId>,
    },
}

impl Operation {
    /// The conversations it names (none for the group-wide `DeleteFolder` / `RenameFolder`).
    #[must_use]
    pub fn conversations(&self) -> &[ConversationId] {
        match self {
            Operation::Pin { conversation, .. }
            | Operation::Delete { conversation, .. }
            | Operation::MarkRead { conversation, .. } => std::slice::from_ref(conversation),
            Operation::Mark { conversations, .. }
            | Operation::SetCustomData { conversations, .. }
            | Operation::CreateFolder { conversations, .. }
            | Operation::AddToFolder { conversations, .. }
            | Operation::RemoveFromFolder { conversations, .. } => conversations,
            Operation::DeleteFolder { .. } | Operation::RenameFolder { .. } => &[],
        }
    }

    /// Whether it changes every member of a group (`DeleteFolder`, `RenameFolder`).
    #[must_use]
    pub fn is_folder_wide(&self) -> bool {
        matches!(
            self,
            Operation::DeleteFolder { .. } | Operation::RenameFolder { .. }
        )
    }
}

/// An operation waiting in the outbox (or being pushed), with its client operation ID.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingOperation {
    /// Its client operation ID.
    pub id: OpId,
    /// What it does.
    #[serde(flatten)]
    pub op: Operation,
}

/// What the server did with one pushed operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum OpOutcome {
    /// Applied (now, or by an earlier push of the same ID).
    Applied,
    /// Refused, with a SPEC §10 code (e.g. 51012 too many pinned): the device rolls its local
    /// change back and reports it.
    Rejected {
        /// The numeric code.
        code: i32,
        /// Why.
        message: String,
    },
}

impl OpOutcome {
    /// The code of a rejection as an [`ErrorCode`] (50004 for a code this crate does not know);
    /// `None` when applied.
    #[must_use]
    pub fn rejection_code(&self) -> Option<ErrorCode> {
        match self {
            OpOutcome::Applied => None,
            OpOutcome::Rejected { code, .. } => {
                Some(ErrorCode::from_i32(*code).unwrap_or(ErrorCode::ServerInternal))
            }
        }
    }
}

/// The server's answer for one operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpResult {
    /// The operation.
    pub id: OpId,
    /// What happened to it.
    #[serde(flatten)]
    pub outcome: OpOutcome,
}

/// The server's answer to a push.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PushResponse {
    /// One result per pushed operation, in order.
    pub results: Vec<OpResult>,
    /// The current server state of every conversation the operations named (and of the group
    /// list when they changed groups), after applying them.
    pub changes: Vec<RemoteChange>,
}

/// The server's state of one live conversation: everything that roams, plus the messages the
/// device needs to count unread and show the last message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemoteConversation {
    /// The conversation.
    pub id: ConversationId,
    /// Pinned.
    pub pinned: bool,
    /// Mark bits (every bit, extension ones too).
    pub marks: u64,
    /// Custom data.
    #[serde(default)]
    pub custom_data: CustomData,
    /// The groups it belongs to, in the order it joined them.
    #[serde(default)]
    #[serde(rename = "groups")]
    pub folders: Vec<String>,
    /// Read position: server time (C2C) or sequence (group).
    pub read_position: u64,
    /// The messages after the read position, and the last message, oldest first (messages
    /// from before the conversation's last delete are left out).
    #[serde(default)]
    pub messages: Vec<Message>,
    /// Display name, if the server knows one.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub show_name: String,
    /// Avatar URL, if the server knows one.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub face_url: String,
}

impl RemoteConversation {
    /// A conversation with nothing set.
    #[must_use]
    pub fn new(id: ConversationId) -> Self {
        Self {
            id,
            pinned: false,
            marks: 0,
            custom_data: CustomData::default(),
            folders: Vec::new(),
            read_position: 0,
            messages: Vec::new(),
            show_name: String::new(),
            face_url: String::new(),
        }
    }
}

/// One change the server reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum RemoteChange {
    /// A conversation exists with this state.
    Conversation(RemoteConversation),
    /// A conversation was deleted.
    Deleted {
        /// The conversation.
        id: ConversationId,
        /// Recency of the newest message deleted: only a newer one brings it back.
        floor: [u64; 3],
        /// Its history was cleared too.
        clear_messages: bool,
    },
    /// The folder list (names, in creation order).
    #[serde(rename = "groups")]
    Folders {
        /// The names.
        names: Vec<String>,
        /// The renames among the changes since the bookmark pulled from, oldest first (none
        /// in a full pull or a push answer): a device that still has a group by its old name
        /// renames it, rather than deleting it and creating one by the new name. A hint: a
        /// server may leave it empty, and `names` is the list either way.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        renamed: Vec<FolderRename>,
    },
}

/// A group renamed on the server, as a pull reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FolderRename {
    /// The name before.
    pub from: String,
    /// The name after.
    pub to: String,
}

/// A page of changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PullPage {
    /// The changes, oldest first; a conversation appears once, with its current state.
    pub changes: Vec<RemoteChange>,
    /// Where the next pull continues; stored with the changes it covers.
    pub bookmark: Bookmark,
    /// More changes follow: pull again from `bookmark`.
    pub has_more: bool,
}

/// The server's answer to a pull.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "pull", rename_all = "snake_case")]
pub enum PullResponse {
    /// Changes after the bookmark (or everything, for a pull without one).
    Page(PullPage),
    /// The server no longer knows what changed since that bookmark: pull everything again
    /// (without a bookmark).
    TooFarBehind,
}

/// Something the server pushes while connected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
// Events are few and short-lived; boxing the message would only add an allocation per event.
#[allow(clippy::large_enum_variant)]
pub enum ServerEvent {
    /// A message was delivered to the user in a conversation.
    Message {
        /// The conversation.
        conversation: ConversationId,
        /// The message, as this user sees it (`message_is_from_self` set for their own).
        message: Message,
    },
    /// State changed on the server (another device, or server-side): pull.
    Changed,
}
