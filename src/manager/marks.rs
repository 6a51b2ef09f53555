//! Marks (SPEC §3): star, unread, fold, hide and extension marks, only recorded.

use super::{ConversationManager, Tx};
use crate::error::{Error, Result};
use crate::model::{ConversationId, MarkFlags};
use crate::outcome::{ConversationOutcome, batch};
use crate::store::StoredConversation;

impl ConversationManager {
    /// Sets (`enable = true`) or clears (`false`) the mark bits `marks` on up to
    /// [`Limits::max_batch`](crate::Limits::max_batch) conversations.
    ///
    /// Returns one result per distinct conversation: 6004 if it does not exist, 51008 if
    /// marking it would make more than [`Limits::max_decorated`](crate::Limits::max_decorated)
    /// conversations carry marks, custom data or groups. Marks are only recorded: they change
    /// no unread count and hide nothing.
    ///
    /// # Errors
    /// For the whole call, changing nothing: [`Error::BatchSize`] (51006),
    /// [`Error::ReservedMarkBits`] (6017) for bits 4..=31, [`Error::InvalidParameter`] (6017)
    /// for empty `marks`.
    #[tracing::instrument(skip_all, fields(count = ids.len(), marks = marks.bits(), enable), err)]
    pub async fn mark(
        &self,
        ids: &[ConversationId],
        marks: MarkFlags,
        enable: bool,
    ) -> Result<Vec<ConversationOutcome>> {
        let marks = MarkFlags::checked(marks.bits())?;
        if marks.is_empty() {
            return Err(Error::InvalidParameter("no mark bit given".into()));
        }
        let ids = batch(ids, self.limits())?;
        self.write(move |tx| {
            Ok(each(tx, ids, |s| {
                if enable {
                    s.conversation.marks.insert(marks);
                } else {
                    s.conversation.marks.remove(marks);
                }
            }))
        })
        .await
    }
}

/// Applies `edit` to each conversation on its own, enforcing the decoration limit: the shared
/// per-conversation loop of marks, custom data and group membership.
pub(crate) fn each(
    tx: &mut Tx<'_>,
    ids: Vec<ConversationId>,
    mut edit: impl FnMut(&mut StoredConversation),
) -> Vec<ConversationOutcome> {
    ids.into_iter()
        .map(|id| {
            let result = decorate(tx, &id, &mut edit);
            ConversationOutcome::new(id, result)
        })
        .collect()
}

/// Edits one conversation's roaming decoration (marks, custom data, groups), refusing to
/// decorate one more conversation past the limit (51008).
pub(crate) fn decorate(
    tx: &mut Tx<'_>,
    id: &ConversationId,
    edit: &mut impl FnMut(&mut StoredConversation),
) -> Result<()> {
    let before = tx.existing(id)?;
    let was_decorated = before.conversation.is_decorated();
    let mut after = before.clone();
    edit(&mut after);
    if after == *before {
        return Ok(());
    }
    if !was_decorated
        && after.conversation.is_decorated()
        && tx.decorated_count() >= tx.limits.max_decorated
    {
        return Err(Error::TooManyDecorated {
            max: tx.limits.max_decorated,
        });
    }
    tx.put(after);
    Ok(())
}
