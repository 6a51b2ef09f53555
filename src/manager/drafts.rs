//! Drafts: local only; setting one activates the conversation.

use super::ConversationManager;
use crate::error::Result;
use crate::model::{Conversation, ConversationId, Draft};

impl ConversationManager {
    /// Sets the draft of a conversation, creating the conversation if it does not exist (a
    /// user may start writing to someone new). Activates it. Drafts never leave this device.
    ///
    /// Cancellation: once submitted, the write is made even if this future is dropped (see
    /// [`cancellation`](crate::cancellation)).
    ///
    /// # Errors
    /// Only the store's (6019) or [`Error::Closed`](crate::Error::Closed).
    #[tracing::instrument(skip_all, fields(conversation = %id), err(level = "debug"))]
    pub async fn set_draft(&self, id: &ConversationId, draft: Draft) -> Result<()> {
        let id = id.clone();
        self.write(move |tx| {
            let mut conversation = match tx.get(&id) {
                Some(c) => Conversation::clone(c),
                None => tx.new_conversation(&id),
            };
            conversation.draft = Some(Box::new(draft));
            conversation.order_key = tx.next_order_key();
            tx.put(conversation);
            Ok(())
        })
        .await
    }

    /// Removes the draft of a conversation. Does not activate it; without a draft, nothing
    /// changes and nothing is emitted.
    ///
    /// Cancellation: once submitted, the write is made even if this future is dropped (see
    /// [`cancellation`](crate::cancellation)).
    ///
    /// # Errors
    /// [`Error::ConversationNotFound`](crate::Error::ConversationNotFound) (6004).
    #[tracing::instrument(skip_all, fields(conversation = %id), err(level = "debug"))]
    pub async fn cancel_draft(&self, id: &ConversationId) -> Result<()> {
        let id = id.clone();
        self.write(move |tx| {
            tx.update(&id, |c, _| {
                c.draft = None;
                Ok(())
            })
            .map(drop)
        })
        .await
    }
}
