//! Pinning: pinned conversations come first in every list.

use super::ConversationManager;
use crate::error::{Error, Result};
use crate::model::ConversationId;
use crate::transport::Operation;

impl ConversationManager {
    /// Pins a conversation: it comes first in every list, and pinning activates it, so it
    /// comes first among the pinned ones. Pinning a pinned conversation changes nothing and
    /// emits nothing. Dropping the returned future does not cancel the write.
    ///
    /// # Errors
    /// [`Error::ConversationNotFound`] (6004); [`Error::TooManyPinned`] (51012) when
    /// [`Limits::max_pinned`](crate::Limits::max_pinned) conversations are pinned already.
    #[tracing::instrument(skip_all, fields(conversation = %id), err(level = "debug"))]
    pub async fn pin(&self, id: &ConversationId) -> Result<()> {
        self.set_pinned(id, true).await
    }

    /// Unpins a conversation; unpinning one that is not pinned changes nothing and emits
    /// nothing.
    ///
    /// # Errors
    /// [`Error::ConversationNotFound`] (6004).
    #[tracing::instrument(skip_all, fields(conversation = %id), err(level = "debug"))]
    pub async fn unpin(&self, id: &ConversationId) -> Result<()> {
        self.set_pinned(id, false).await
    }

    async fn set_pinned(&self, id: &ConversationId, pinned: bool) -> Result<()> {
        let id = id.clone();
        self.write(move |tx| {
            if tx.existing(&id)?.is_pinned == pinned {
                return Ok(());
            }
            if pinned && tx.pinned_count() >= tx.limits.max_pinned {
                return Err(Error::TooManyPinned {
                    max: tx.limits.max_pinned,
                });
            }
            tx.update(&id, |c, tx| {
                c.is_pinned = pinned;
                if pinned {
                    c.order_key = tx.next_order_key();
                }
                Ok(())
            })?;
            tx.record(Operation::Pin {
                conversation: id,
                pinned,
            });
            Ok(())
        })
        .await
    }
}
