//! Pinning (SPEC §3, §4): pinned conversations come first in every list.

use super::ConversationManager;
use crate::error::{Error, Result};
use crate::model::ConversationId;
use crate::transport::Operation;

impl ConversationManager {
    /// Pins (`true`) or unpins (`false`) a conversation.
    ///
    /// Pinning activates the conversation, so it comes first among the pinned ones. Pinning a
    /// pinned conversation, or unpinning one that is not, changes nothing and emits nothing.
    ///
    /// # Errors
    /// [`Error::ConversationNotFound`] (6004); [`Error::TooManyPinned`] (51012) when
    /// [`Limits::max_pinned`](crate::Limits::max_pinned) conversations are pinned already.
    #[tracing::instrument(skip_all, fields(conversation = %id, pinned), err)]
    pub async fn pin(&self, id: &ConversationId, pinned: bool) -> Result<()> {
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
