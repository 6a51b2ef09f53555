//! Per-conversation results of batch operations (`TIMConversationOperationResult`).

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use crate::error::{Error, Result};
use crate::limits::Limits;
use crate::model::ConversationId;

/// The result of a batch operation for one conversation.
///
/// Batch calls (mark, custom data, delete many, group membership) return one of these per
/// distinct conversation, in the order given. The call as a whole succeeds when its input is
/// valid; each conversation then succeeds or fails on its own (not found: 6004, limit reached:
/// 51008, ...). Serialises with the C API keys `conversation_operation_result_conversation_id`,
/// `conversation_operation_result_result_code` and `conversation_operation_result_result_info`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ConversationOutcome {
    /// The conversation.
    pub id: ConversationId,
    /// What happened to it.
    pub result: Result<()>,
}

impl ConversationOutcome {
    pub(crate) fn new(id: ConversationId, result: Result<()>) -> Self {
        Self { id, result }
    }

    /// Whether it succeeded.
    #[must_use]
    pub fn is_ok(&self) -> bool {
        self.result.is_ok()
    }

    /// Its numeric code (0 on success).
    #[must_use]
    pub fn code(&self) -> i32 {
        self.result
            .as_ref()
            .map_or_else(|e| e.code().as_i32(), |()| 0)
    }
}

impl Serialize for ConversationOutcome {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(3))?;
        map.serialize_entry("conversation_operation_result_conversation_id", &self.id)?;
        map.serialize_entry("conversation_operation_result_result_code", &self.code())?;
        let info = self
            .result
            .as_ref()
            .err()
            .map(Error::to_string)
            .unwrap_or_default();
        map.serialize_entry("conversation_operation_result_result_info", &info)?;
        map.end()
    }
}

/// The results of a batch call, one per distinct conversation, in the order given.
///
/// The call as a whole succeeded (its input was valid); each conversation then succeeded or
/// failed on its own. [`into_result`](Self::into_result) turns any failure into an error, for
/// callers that want all or nothing reported:
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), timconv::Error> {
/// use timconv::{ConversationId, ConversationManager, MarkFlags};
///
/// let manager = ConversationManager::builder().in_memory().open().await?;
/// let alice = ConversationId::c2c("alice")?;
/// manager.create_conversation(&alice).await?;
/// let nobody = ConversationId::c2c("nobody")?;
/// let outcome = manager.mark([&alice, &nobody], MarkFlags::STAR).await?;
/// assert_eq!(outcome.succeeded().collect::<Vec<_>>(), [&alice]);
/// let err = outcome.into_result().expect_err("nobody does not exist");
/// assert_eq!(err.code().as_i32(), 6004);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Default)]
#[must_use = "some conversations may have failed"]
pub struct BatchOutcome(Vec<ConversationOutcome>);

impl BatchOutcome {
    pub(crate) fn new(outcomes: Vec<ConversationOutcome>) -> Self {
        Self(outcomes)
    }

    /// Whether every conversation succeeded.
    #[must_use]
    pub fn all_ok(&self) -> bool {
        self.0.iter().all(ConversationOutcome::is_ok)
    }

    /// The conversations that succeeded, in order.
    pub fn succeeded(&self) -> impl Iterator<Item = &ConversationId> + '_ {
        self.0.iter().filter(|o| o.is_ok()).map(|o| &o.id)
    }

    /// The outcomes that failed, in order.
    pub fn failures(&self) -> impl Iterator<Item = &ConversationOutcome> + '_ {
        self.0.iter().filter(|o| !o.is_ok())
    }

    /// `Ok` if every conversation succeeded, else [`Error::PartlyFailed`] with the failures
    /// (its code is the first failure's).
    ///
    /// # Errors
    /// [`Error::PartlyFailed`].
    pub fn into_result(self) -> Result<()> {
        let failures: Vec<ConversationOutcome> =
            self.0.into_iter().filter(|o| !o.is_ok()).collect();
        if failures.is_empty() {
            Ok(())
        } else {
            Err(Error::PartlyFailed { failures })
        }
    }

    /// The outcomes.
    #[must_use]
    pub fn into_vec(self) -> Vec<ConversationOutcome> {
        self.0
    }
}

impl std::ops::Deref for BatchOutcome {
    type Target = [ConversationOutcome];

    fn deref(&self) -> &[ConversationOutcome] {
        &self.0
    }
}

impl IntoIterator for BatchOutcome {
    type Item = ConversationOutcome;
    type IntoIter = std::vec::IntoIter<ConversationOutcome>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a BatchOutcome {
    type Item = &'a ConversationOutcome;
    type IntoIter = std::slice::Iter<'a, ConversationOutcome>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// The array of `TIMConversationOperationResult`.
impl Serialize for BatchOutcome {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

/// Checks a batch's size as given (1..=`max_batch`, else 51006), then drops repeated IDs,
/// keeping the first occurrence.
pub(crate) fn batch(ids: Vec<ConversationId>, limits: &Limits) -> Result<Vec<ConversationId>> {
    if ids.is_empty() || ids.len() > limits.max_batch {
        return Err(Error::BatchSize {
            len: ids.len(),
            max: limits.max_batch,
        });
    }
    let mut seen = std::collections::HashSet::with_capacity(ids.len());
    Ok(ids
        .into_iter()
        .filter(|id| seen.insert(id.clone()))
        .collect())
}
