//! Marks (SPEC §3): star, unread, fold, hide and extension marks, only recorded.

use super::{ConversationManager, Tx};
use crate::error::{Error, Result};
use crate::model::Conversation;
use crate::model::{ConversationId, IntoConversationIds, MarkFlags};
use crate::outcome::{BatchOutcome, ConversationOutcome, batch};
use crate::transport::Operation;

impl ConversationManager {
    /// Sets the mark bits `marks` on up to [`Limits::max_batch`](crate::Limits::max_batch)
    /// conversations (one ID, or any collection of them: [`IntoConversationIds`]).
    ///
    /// Returns one result per distinct conversation: 6004 if it does not exist, 51008 if
    /// marking it would make more than [`Limits::max_decorated`](crate::Limits::max_decorated)
    /// conversations carry marks, custom data or folders. Marks are only recorded: they change
    /// no unread count and hide nothing. A conversation that has the marks already succeeds
    /// and changes nothing.
    ///
    /// Dropping the returned future does not cancel the write: once sent to the writer it is
    /// committed (and published) all the same.
    ///
    /// # Errors
    /// For the whole call, changing nothing: [`Error::BatchSize`] (51006),
    /// [`Error::ReservedMarkBits`] (6017) for bits 4..=31, [`Error::InvalidParameter`] (6017)
    /// for empty `marks`.
    #[tracing::instrument(skip_all, fields(marks = marks.bits()), err(level = "debug"))]
    pub async fn mark(
        &self,
        ids: impl IntoConversationIds,
        marks: MarkFlags,
    ) -> Result<BatchOutcome> {
        self.set_marks(ids.into_conversation_ids(), marks, true)
            .await
    }

    /// Clears the mark bits `marks`; otherwise as [`mark`](Self::mark).
    ///
    /// # Errors
    /// As [`mark`](Self::mark).
    #[tracing::instrument(skip_all, fields(marks = marks.bits()), err(level = "debug"))]
    pub async fn unmark(
        &self,
        ids: impl IntoConversationIds,
        marks: MarkFlags,
    ) -> Result<BatchOutcome> {
        self.set_marks(ids.into_conversation_ids(), marks, false)
            .await
    }

    async fn set_marks(
        &self,
        ids: Vec<ConversationId>,
        marks: MarkFlags,
        enable: bool,
    ) -> Result<BatchOutcome> {
        let marks = MarkFlags::checked(marks.bits())?;
        if marks.is_empty() {
            return Err(Error::InvalidParameter("no mark bit given".into()));
        }
        let ids = batch(ids, self.limits())?;
        self.write(move |tx| {
            let (outcomes, changed) = each(tx, ids, |c| {
                if enable {
                    c.marks.insert(marks);
                } else {
                    c.marks.remove(marks);
                }
            });
            if !changed.is_empty() {
                tx.record(Operation::Mark {
                    conversations: changed,
                    bits: marks.bits(),
                    enable,
                });
            }
            Ok(outcomes)
        })
        .await
    }
}

/// Applies `edit` to each conversation on its own, enforcing the decoration limit: the shared
/// per-conversation loop of marks and custom data. Returns the results and the conversations
/// that changed.
pub(crate) fn each(
    tx: &mut Tx<'_>,
    ids: Vec<ConversationId>,
    mut edit: impl FnMut(&mut Conversation),
) -> (BatchOutcome, Vec<ConversationId>) {
    let mut changed = Vec::new();
    let outcomes = ids
        .into_iter()
        .map(|id| {
            let result = decorate(tx, &id, &mut edit);
            if matches!(result, Ok(true)) {
                changed.push(id.clone());
            }
            ConversationOutcome::new(id, result.map(drop))
        })
        .collect();
    (BatchOutcome::new(outcomes), changed)
}

/// Edits one conversation's roaming decoration (marks, custom data, groups), refusing to
/// decorate one more conversation past the limit (51008). Returns whether it changed.
pub(crate) fn decorate(
    tx: &mut Tx<'_>,
    id: &ConversationId,
    edit: &mut impl FnMut(&mut Conversation),
) -> Result<bool> {
    let before = tx.existing(id)?;
    let was_decorated = before.is_decorated();
    let mut after = Conversation::clone(before);
    edit(&mut after);
    if after == **before {
        return Ok(false);
    }
    if !was_decorated && after.is_decorated() && tx.decorated_count() >= tx.limits.max_decorated {
        return Err(Error::TooManyDecorated {
            max: tx.limits.max_decorated,
        });
    }
    tx.put(after);
    Ok(true)
}
