//! Deleting conversations, leaving tombstones so stale state cannot revive them.

use super::messages::last_recency;
use super::{ConversationManager, Tx};
use crate::error::Result;
use crate::events::{Event, FolderRemovalReason};
use crate::model::{ConversationId, IntoConversationIds};
use crate::outcome::{BatchOutcome, ConversationOutcome, batch};
use crate::store::Tombstone;
use crate::transport::Operation;

/// What a delete does to the conversation's message history.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum MessageHistory {
    /// Keep it (the default): only the conversation leaves the list.
    #[default]
    Keep,
    /// Clear it too: the delete asks the message store and the server to drop the history
    /// (it is recorded with the delete and roams; this crate keeps no history itself).
    Clear,
}

impl MessageHistory {
    fn clears(self) -> bool {
        self == MessageHistory::Clear
    }
}

impl ConversationManager {
    /// Deletes a conversation: it leaves every list, the totals and its folders; its unread
    /// messages go, its receive option and group type are kept for when it comes back. It
    /// comes back only when a message newer than its last one arrives (a late or replayed copy
    /// of an older one stays deleted). Dropping the returned future does not cancel the write.
    ///
    /// # Errors
    /// [`Error::ConversationNotFound`](crate::Error::ConversationNotFound) (6004).
    #[tracing::instrument(skip_all, fields(conversation = %id, history = ?history), err(level = "debug"))]
    pub async fn delete(&self, id: &ConversationId, history: MessageHistory) -> Result<()> {
        let id = id.clone();
        self.write(move |tx| {
            let mut removed = Vec::new();
            delete_one(tx, &id, history.clears(), &mut removed)?;
            emit_folder_removals(tx, removed);
            Ok(())
        })
        .await
    }

    /// Deletes up to [`Limits::max_batch`](crate::Limits::max_batch) conversations (one ID, or
    /// any collection of them), as [`delete`](Self::delete) does each, in one atomic change.
    /// One result per distinct conversation (6004 for one that does not exist).
    ///
    /// # Errors
    /// [`Error::BatchSize`](crate::Error::BatchSize) (51006), changing nothing.
    #[tracing::instrument(skip_all, fields(history = ?history), err(level = "debug"))]
    pub async fn delete_many(
        &self,
        ids: impl IntoConversationIds,
        history: MessageHistory,
    ) -> Result<BatchOutcome> {
        let ids = batch(ids.into_conversation_ids(), self.limits())?;
        self.write(move |tx| {
            let mut removed = Vec::new();
            let outcomes = ids
                .into_iter()
                .map(|id| {
                    let result = delete_one(tx, &id, history.clears(), &mut removed);
                    ConversationOutcome::new(id, result)
                })
                .collect();
            emit_folder_removals(tx, removed);
            Ok(BatchOutcome::new(outcomes))
        })
        .await
    }
}

/// Deletes one conversation, noting the folders it leaves in `removed`.
fn delete_one(
    tx: &mut Tx<'_>,
    id: &ConversationId,
    clear_messages: bool,
    removed: &mut Vec<(String, ConversationId)>,
) -> Result<()> {
    let conversation = tx.existing(id)?;
    let floor = tx.tombstone(id).map_or([0; 3], |t| t.last_message);
    let tombstone = Tombstone::new(
        id.clone(),
        last_recency(conversation).max(floor),
        clear_messages,
    );
    removed.extend(conversation.folders.iter().map(|g| (g.clone(), id.clone())));
    tx.record(Operation::Delete {
        conversation: id.clone(),
        clear_messages,
        floor: tombstone.last_message,
    });
    tx.delete(tombstone);
    Ok(())
}

/// One "removed from folder" event per folder that lost members.
fn emit_folder_removals(tx: &mut Tx<'_>, removed: Vec<(String, ConversationId)>) {
    let mut by_group: Vec<(String, Vec<ConversationId>)> = Vec::new();
    for (group, id) in removed {
        match by_group.iter_mut().find(|(g, _)| *g == group) {
            Some((_, ids)) => ids.push(id),
            None => by_group.push((group, vec![id])),
        }
    }
    for (name, conversations) in by_group {
        tx.emit(Event::ConversationsRemovedFromFolder {
            name,
            conversations,
            reason: FolderRemovalReason::ByUser,
        });
    }
}
