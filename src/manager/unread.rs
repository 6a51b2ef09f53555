//! Unread counts (SPEC §6): totals, filtered counts, watches, cleaning and receive options.

use std::pin::Pin;
use std::sync::Weak;
use std::task::{Context, Poll};

use futures::Stream;
use futures::stream::BoxStream;
use tokio::sync::watch;

use super::messages::last_position;
use super::{ConversationManager, Shared, Tx};
use crate::error::{Error, Result};
use crate::filter::ConversationFilter;
use crate::model::{Conversation, ConversationId, ConversationType, ReceiveOption};
use crate::transport::Operation;

/// Which conversations [`ConversationManager::clean_unread`] cleans.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CleanTarget {
    /// One conversation.
    Conversation(ConversationId),
    /// Every C2C conversation (the C API's `"c2c"`).
    AllC2c,
    /// Every group conversation (the C API's `"group"`).
    AllGroups,
    /// Every conversation (the C API's `""`).
    All,
}

impl CleanTarget {
    /// The target named as the C API names it: `"c2c"`, `"group"`, `""` or a conversation ID.
    ///
    /// # Errors
    /// [`Error::InvalidConversationId`] (6017) for anything else.
    pub fn parse(text: &str) -> Result<Self> {
        Ok(match text {
            "c2c" => CleanTarget::AllC2c,
            "group" => CleanTarget::AllGroups,
            "" => CleanTarget::All,
            id => CleanTarget::Conversation(id.parse()?),
        })
    }
}

impl From<ConversationId> for CleanTarget {
    fn from(id: ConversationId) -> Self {
        CleanTarget::Conversation(id)
    }
}

/// A watch on an unread count: yields the current value first, then each new value.
///
/// Values are "latest wins": a consumer that polls slowly sees the newest count, never a stale
/// one, possibly skipping intermediate values. Dropping the stream unsubscribes; watchers of
/// equal filters share one subscription.
#[must_use = "streams do nothing unless polled"]
pub struct UnreadStream {
    inner: BoxStream<'static, u64>,
    _subscription: Option<FilterSubscription>,
}

impl std::fmt::Debug for UnreadStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UnreadStream")
    }
}

impl UnreadStream {
    fn new(rx: watch::Receiver<u64>, subscription: Option<FilterSubscription>) -> Self {
        Self {
            inner: crate::watch::watch_values(rx),
            _subscription: subscription,
        }
    }
}

impl Stream for UnreadStream {
    type Item = u64;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<u64>> {
        self.inner.as_mut().poll_next(cx)
    }
}

/// Ends one watcher's share of a filter subscription when dropped.
struct FilterSubscription {
    shared: Weak<Shared>,
    filter: ConversationFilter,
}

impl Drop for FilterSubscription {
    fn drop(&mut self) {
        if let Some(shared) = self.shared.upgrade() {
            shared.write_index().counters.unwatch_filter(&self.filter);
        }
    }
}

impl ConversationManager {
    /// The total unread: the sum over conversations whose receive option is neither
    /// NotReceive nor NotNotify, audio-video chat rooms excluded. O(1).
    #[must_use]
    pub fn total_unread(&self) -> u64 {
        self.shared().read_index().counters.total()
    }

    /// The unread count over conversations matching `filter`, by the same rule as the total.
    /// O(1) while the filter is watched; otherwise a walk of its matching conversations.
    ///
    /// # Errors
    /// [`Error::ReservedMarkBits`] (6017) for a mark criterion with reserved bits.
    pub fn unread_by_filter(&self, filter: &ConversationFilter) -> Result<u64> {
        filter.validate()?;
        let index = self.shared().read_index();
        Ok(index
            .counters
            .subscribed(filter)
            .unwrap_or_else(|| index.recount(filter)))
    }

    /// How many distinct filters are watched now (watchers of equal filters share one).
    #[must_use]
    pub fn watched_filters(&self) -> usize {
        self.shared().read_index().counters.subscription_count()
    }

    /// Watches the total unread. See [`UnreadStream`].
    pub fn watch_total_unread(&self) -> UnreadStream {
        UnreadStream::new(self.shared().read_index().counters.watch_total(), None)
    }

    /// Watches the unread count of `filter`; while watched, its count is kept incrementally,
    /// and [`Event::UnreadByFilterChanged`](crate::Event::UnreadByFilterChanged) is emitted
    /// when it changes. See [`UnreadStream`].
    ///
    /// # Errors
    /// [`Error::ReservedMarkBits`] (6017) for a mark criterion with reserved bits.
    pub fn watch_unread(&self, filter: &ConversationFilter) -> Result<UnreadStream> {
        filter.validate()?;
        let rx = {
            let mut index = self.shared().write_index();
            let recount = index.recount(filter);
            index.counters.watch_filter(filter, || recount)
        };
        let subscription = FilterSubscription {
            shared: std::sync::Arc::downgrade(self.shared()),
            filter: filter.clone(),
        };
        Ok(UnreadStream::new(rx, Some(subscription)))
    }

    /// Marks messages read: C2C conversations up to `timestamp`, groups up to `sequence`
    /// (0 = everything), for one conversation or all C2C / all group / all conversations.
    /// Read positions never move back; @ info at or before the new position goes too.
    ///
    /// # Errors
    /// [`Error::ConversationNotFound`] (6004) for a single conversation that does not exist.
    #[tracing::instrument(skip_all, fields(timestamp, sequence), err)]
    pub async fn clean_unread(
        &self,
        target: impl Into<CleanTarget>,
        timestamp: u64,
        sequence: u64,
    ) -> Result<()> {
        let target = target.into();
        tracing::debug!(?target, "cleaning unread");
        self.write(move |tx| {
            let ids = match &target {
                CleanTarget::Conversation(id) => {
                    tx.existing(id)?;
                    vec![id.clone()]
                }
                bulk => {
                    let mut of_type = ConversationFilter::new();
                    of_type.conv_type = match bulk {
                        CleanTarget::AllC2c => Some(ConversationType::C2c),
                        CleanTarget::AllGroups => Some(ConversationType::Group),
                        _ => None,
                    };
                    tx.ids_matching(&of_type)
                }
            };
            for id in ids {
                let up_to = match id.kind() {
                    ConversationType::Group => sequence,
                    _ => timestamp,
                };
                if let Some(position) = clean(tx, &id, up_to) {
                    tx.record(Operation::MarkRead {
                        conversation: id,
                        position,
                    });
                }
            }
            Ok(())
        })
        .await
    }

    /// Sets how a conversation's messages are received; this decides whether its unread
    /// counts toward totals (SPEC §6).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] (6017) for an unknown option, [`Error::ConversationNotFound`]
    /// (6004).
    #[tracing::instrument(skip_all, fields(conversation = %id, option = option.as_u32()), err)]
    pub async fn set_receive_option(
        &self,
        id: &ConversationId,
        option: ReceiveOption,
    ) -> Result<()> {
        if let ReceiveOption::Unknown(n) = option {
            return Err(Error::InvalidParameter(format!(
                "unknown receive option {n}"
            )));
        }
        let id = id.clone();
        self.write(move |tx| {
            tx.update(&id, |c, _| {
                c.receive_option = option;
                Ok(())
            })
            .map(drop)
        })
        .await
    }
}

/// Moves conversation `id`'s read position up to `up_to` (0 = its newest message) and uncounts
/// the unread messages and @ info at or before it. Returns the new read position if it moved;
/// nothing is written when nothing changes (most conversations of a bulk clean are clean).
pub(crate) fn clean(tx: &mut Tx<'_>, id: &ConversationId, up_to: u64) -> Option<u64> {
    let c = std::sync::Arc::clone(tx.get(id)?);
    let target = if up_to == 0 {
        last_position(&c).max(tx.max_unread_position(id).unwrap_or(0))
    } else {
        up_to
    };
    let read = c.read_position().max(target);
    let moved = read > c.read_position();
    let removed = if tx.unread_count(id) > 0 {
        tx.remove_unread_through(id, Some(read))
    } else {
        0
    };
    let at_info_read = c.group_at_info.iter().any(|a| a.seq <= read);
    if !moved && removed == 0 && !at_info_read {
        return None;
    }
    let mut cleaned = Conversation::clone(&c);
    match cleaned.id.kind() {
        ConversationType::Group => cleaned.group_read_sequence = read,
        _ => cleaned.c2c_read_timestamp = read,
    }
    cleaned.group_at_info.retain(|a| a.seq > read);
    tx.put(cleaned);
    moved.then_some(read)
}
