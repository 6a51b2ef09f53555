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

/// Checks a batch's size as given (1..=`max_batch`, else 51006), then drops repeated IDs,
/// keeping the first occurrence.
pub(crate) fn batch(ids: &[ConversationId], limits: &Limits) -> Result<Vec<ConversationId>> {
    if ids.is_empty() || ids.len() > limits.max_batch {
        return Err(Error::BatchSize {
            len: ids.len(),
            max: limits.max_batch,
        });
    }
    let mut seen = std::collections::HashSet::with_capacity(ids.len());
    Ok(ids.iter().filter(|id| seen.insert(*id)).cloned().collect())
}
