//! Deleting conversations (SPEC §8), leaving tombstones so stale state cannot revive them.

use super::messages::last_recency;
use super::{ConversationManager, Tx};
use crate::error::Result;
use crate::events::{Event, GroupRemovalReason};
use crate::model::ConversationId;
use crate::outcome::{ConversationOutcome, batch};
use crate::store::Tombstone;
use crate::transport::Operation;

impl ConversationManager {
    /// Deletes a conversation: it leaves every list, the totals and its groups. It comes back
    /// only when a message newer than its last one arrives. `clear_messages` also asks for its
    /// message history to be dropped (recorded with the delete; history itself is kept by
    /// the message store and the server, not by this crate).
    ///
    /// # Errors
    /// [`Error::ConversationNotFound`](crate::Error::ConversationNotFound) (6004).
    #[tracing::instrument(skip_all, fields(conversation = %id, clear_messages), err)]
    pub async fn delete(&self, id: &ConversationId, clear_messages: bool) -> Result<()> {
        let id = id.clone();
        self.write(move |tx| {
            let mut removed = Vec::new();
            delete_one(tx, &id, clear_messages, &mut removed)?;
            emit_group_removals(tx, removed);
            Ok(())
        })
        .await
    }

    /// Deletes up to [`Limits::max_batch`](crate::Limits::max_batch) conversations, as
    /// [`delete`](Self::delete) does each, in one atomic change. One result per distinct
    /// conversation (6004 for one that does not exist).
    ///
    /// # Errors
    /// [`Error::BatchSize`](crate::Error::BatchSize) (51006), changing nothing.
    #[tracing::instrument(skip_all, fields(count = ids.len(), clear_messages), err)]
    pub async fn delete_many(
        &self,
        ids: &[ConversationId],
        clear_messages: bool,
    ) -> Result<Vec<ConversationOutcome>> {
        let ids = batch(ids, self.limits())?;
        self.write(move |tx| {
            let mut removed = Vec::new();
            let outcomes = ids
                .into_iter()
                .map(|id| {
                    let result = delete_one(tx, &id, clear_messages, &mut removed);
                    ConversationOutcome::new(id, result)
                })
                .collect();
            emit_group_removals(tx, removed);
            Ok(outcomes)
        })
        .await
    }
}

/// Deletes one conversation, noting the groups it leaves in `removed`.
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
    removed.extend(conversation.groups.iter().map(|g| (g.clone(), id.clone())));
    tx.record(Operation::Delete {
        conversation: id.clone(),
        clear_messages,
        floor: tombstone.last_message,
    });
    tx.delete(tombstone);
    Ok(())
}

/// One "removed from group" event per group that lost members.
fn emit_group_removals(tx: &mut Tx<'_>, removed: Vec<(String, ConversationId)>) {
    let mut by_group: Vec<(String, Vec<ConversationId>)> = Vec::new();
    for (group, id) in removed {
        match by_group.iter_mut().find(|(g, _)| *g == group) {
            Some((_, ids)) => ids.push(id),
            None => by_group.push((group, vec![id])),
        }
    }
    for (name, conversations) in by_group {
        tx.emit(Event::ConversationsRemovedFromGroup {
            name,
            conversations,
            reason: GroupRemovalReason::ByUser,
        });
    }
}
