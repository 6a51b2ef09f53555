//! Custom data (SPEC §3): an opaque byte string per conversation that roams.

use super::ConversationManager;
use super::marks::each;
use crate::error::{Error, Result};
use crate::model::{CustomData, IntoConversationIds};
use crate::outcome::{BatchOutcome, batch};
use crate::transport::Operation;

impl ConversationManager {
    /// Sets the custom data of up to [`Limits::max_batch`](crate::Limits::max_batch)
    /// conversations (one ID, or any collection of them: [`IntoConversationIds`]); empty data
    /// clears it.
    ///
    /// Returns one result per distinct conversation: 6004 if it does not exist, 51008 if it
    /// would make more than [`Limits::max_decorated`](crate::Limits::max_decorated)
    /// conversations carry marks, custom data or groups.
    ///
    /// # Errors
    /// For the whole call, changing nothing: [`Error::BatchSize`] (51006),
    /// [`Error::CustomDataTooLarge`] (6017) over
    /// [`Limits::max_custom_data_bytes`](crate::Limits::max_custom_data_bytes).
    ///
    /// Dropping the returned future does not cancel the write.
    #[tracing::instrument(skip_all, fields(bytes), err(level = "debug"))]
    pub async fn set_custom_data(
        &self,
        ids: impl IntoConversationIds,
        data: impl Into<CustomData>,
    ) -> Result<BatchOutcome> {
        let data = data.into();
        tracing::Span::current().record("bytes", data.len());
        let max = self.limits().max_custom_data_bytes;
        if data.len() > max {
            return Err(Error::CustomDataTooLarge {
                len: data.len(),
                max,
            });
        }
        let ids = batch(ids.into_conversation_ids(), self.limits())?;
        self.write(move |tx| {
            let (outcomes, changed) = each(tx, ids, |c| c.custom_data = data.clone());
            if !changed.is_empty() {
                tx.record(Operation::SetCustomData {
                    conversations: changed,
                    data,
                });
            }
            Ok(outcomes)
        })
        .await
    }
}
