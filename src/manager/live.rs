//! Live lists and conversation watches: a window of a filtered list kept exact by diffs, and
//! one conversation's record as it changes (see the [`live`](crate::live) module).

use std::collections::BTreeSet;
use std::sync::Arc;

use super::{ConversationManager, Shared};
use crate::error::{Error, Result};
use crate::filter::ConversationFilter;
use crate::live::{ConversationWatch, ListKey, LiveList, Source, Subscription, Vector};
use crate::model::{Conversation, ConversationId};

impl Source for Shared {
    fn subscribe(&self, key: &ListKey) -> Option<(Vector<Arc<Conversation>>, Subscription)> {
        // Under the index lock: no change falls between the rows and the first diff.
        let index = self.read_index();
        self.live.subscribe(&index, key)
    }

    fn unsubscribe(&self, key: &ListKey) {
        self.live.unsubscribe(key);
    }
}

impl ConversationManager {
    /// A live list: the first `window` conversations matching `filter`, in list order, and a
    /// stream of diffs that keeps a copy of them exact after every committed change, as
    /// [`list(filter, Cursor::START, window)`](Self::list) would return them. Its controller
    /// changes the filter, loads more (a page of `window` rows at a time) and keeps
    /// conversations visible after they stop matching. See the [`live`](crate::live) module
    /// for a guide.
    ///
    /// The first window and the diffs are taken together: no change falls between them.
    /// Equal live lists (same filter, size and kept conversations) share one window, updated
    /// once per change.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), timconv::Error> {
    /// use futures::StreamExt;
    /// use timconv::{ConversationFilter, ConversationId, ConversationManager, Message};
    ///
    /// let manager = ConversationManager::builder().in_memory().self_user_id("me").open().await?;
    /// let unread = ConversationFilter::new().has_unread(true);
    /// let live = manager.watch_list(&unread, 20)?;
    /// let (mut rows, mut diffs) = (live.window, live.diffs);
    ///
    /// let bob = ConversationId::c2c("bob")?;
    /// let mut hi = Message::text("m1", "hi");
    /// hi.server_time = Some(1_700_000_000);
    /// manager.ingest_message(&bob, hi).await?;
    ///
    /// let batch = diffs.next().await.unwrap_or_default();
    /// for diff in batch {
    ///     diff.apply(&mut rows);
    /// }
    /// let listed = manager.list(&unread, timconv::Cursor::START, 20)?;
    /// assert!(rows.iter().eq(listed.conversations.iter()));
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] (6017) for `window == 0`; [`Error::ReservedMarkBits`] (6017)
    /// for a mark criterion with reserved bits; [`Error::Closed`] (6013) after shutdown.
    pub fn watch_list(&self, filter: &ConversationFilter, window: u32) -> Result<LiveList> {
        if window == 0 {
            return Err(Error::InvalidParameter("window must be at least 1".into()));
        }
        filter.validate()?;
        let key = ListKey {
            filter: filter.clone(),
            size: usize::try_from(window).unwrap_or(usize::MAX),
            kept: BTreeSet::new(),
        };
        let shared = self.shared();
        let (rows, subscription) = shared.subscribe(&key).ok_or(Error::Closed)?;
        let source: std::sync::Weak<dyn Source> = Arc::downgrade(shared) as _;
        Ok(LiveList::new(source, key, rows, subscription))
    }

    /// Watches conversation `id`: its record now (`None` if it is not in the list), then its
    /// state after each committed change to it, `None` when it is deleted. See
    /// [`ConversationWatch`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), timconv::Error> {
    /// use futures::StreamExt;
    /// use timconv::{ConversationId, ConversationManager, MessageHistory};
    ///
    /// let manager = ConversationManager::builder().in_memory().open().await?;
    /// let alice = ConversationId::c2c("alice")?;
    /// let mut watch = manager.watch(&alice)?;
    /// assert!(matches!(watch.next().await, Some(None))); // not created yet
    /// manager.create_conversation(&alice).await?;
    /// assert!(matches!(watch.next().await, Some(Some(c)) if c.id == alice));
    /// manager.delete(&alice, MessageHistory::Keep).await?;
    /// assert!(matches!(watch.next().await, Some(None)));
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::Closed`] (6013) after shutdown.
    pub fn watch(&self, id: &ConversationId) -> Result<ConversationWatch> {
        let shared = self.shared();
        let index = shared.read_index();
        let rx = shared.live.watch(&index, id).ok_or(Error::Closed)?;
        Ok(ConversationWatch::new(rx, shared.closed.subscribe()))
    }

    /// How many distinct live windows are kept up to date now (equal live lists share one).
    #[must_use]
    pub fn live_windows(&self) -> usize {
        self.shared().live.window_count()
    }
}
