//! Reading conversations: by ID, and as filtered, keyset-paged lists (SPEC §4, §5).

use std::sync::Arc;

use super::ConversationManager;
use crate::error::{Error, Result};
use crate::filter::ConversationFilter;
use crate::model::{Conversation, ConversationId};
use crate::paging::{Cursor, Page, read_page};

impl ConversationManager {
    /// One conversation, if it exists. Never creates one. The record is shared, not copied.
    #[must_use]
    pub fn get(&self, id: &ConversationId) -> Option<Arc<Conversation>> {
        self.shared().read_index().get(id).cloned()
    }

    /// The conversations among `ids` that exist, in the order asked (repeats once). Missing
    /// ones are simply absent; none is created (`TIMConvGetConvInfo`).
    #[must_use]
    pub fn get_many(&self, ids: &[ConversationId]) -> Vec<Arc<Conversation>> {
        let index = self.shared().read_index();
        let mut seen = std::collections::HashSet::new();
        ids.iter()
            .filter(|id| seen.insert(*id))
            .filter_map(|id| index.get(id))
            .cloned()
            .collect()
    }

    /// Every conversation, in list order (`TIMConvGetConvList`). Prefer [`list`](Self::list)
    /// for large accounts.
    #[must_use]
    pub fn conversations(&self) -> Vec<Arc<Conversation>> {
        self.shared().read_index().iter().cloned().collect()
    }

    /// One page of the conversations matching `filter`, in list order: pinned first, then by
    /// order key, newest first.
    ///
    /// Start with [`Cursor::START`] and pass back [`Page::next_cursor`] until
    /// [`Page::is_finished`]. The cursor is a position, not an offset: a walk over a list that
    /// changes between pages returns no conversation twice and misses none that existed
    /// throughout and did not move.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), timconv::Error> {
    /// use timconv::{ConversationFilter, ConversationManager, Cursor};
    ///
    /// let manager = ConversationManager::builder().in_memory().open().await?;
    /// let filter = ConversationFilter::new().has_unread(true);
    /// let mut cursor = Cursor::START;
    /// loop {
    ///     let page = manager.list(&filter, cursor, 20)?;
    ///     for conversation in &page.conversations {
    ///         println!("{} {}", conversation.id, conversation.unread_count);
    ///     }
    ///     if page.is_finished {
    ///         break;
    ///     }
    ///     cursor = page.next_cursor;
    /// }
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] (6017) for `count == 0`; [`Error::ReservedMarkBits`] (6017)
    /// for a mark criterion with reserved bits.
    pub fn list(&self, filter: &ConversationFilter, cursor: Cursor, count: u32) -> Result<Page> {
        if count == 0 {
            return Err(Error::InvalidParameter("count must be at least 1".into()));
        }
        filter.validate()?;
        let count = usize::try_from(count).unwrap_or(usize::MAX);
        Ok(read_page(
            &self.shared().read_index(),
            filter,
            cursor,
            count,
        ))
    }
}
