//! Unread counts (SPEC §6): totals, filtered counts, watches, cleaning and receive options.

use std::pin::Pin;
use std::sync::Weak;
use std::task::{Context, Poll};

use futures::Stream;
use futures::stream::FusedStream;
use tokio::sync::watch;

use super::messages::last_position;
use super::{ConversationManager, Shared, Tx};
use crate::error::{Error, Result};
use crate::filter::ConversationFilter;
use crate::model::{Conversation, ConversationId, ConversationType};
use crate::streams::{Ending, watch_values};
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

impl From<&ConversationId> for CleanTarget {
    fn from(id: &ConversationId) -> Self {
        CleanTarget::Conversation(id.clone())
    }
}

/// How far [`ConversationManager::clean_unread`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ReadUpTo {
    /// Everything: up to each conversation's newest message.
    Everything,
    /// C2C conversations up to this server time; group conversations are left as they are.
    Timestamp(u64),
    /// Group conversations up to this sequence; C2C conversations are left as they are.
    Sequence(u64),
    /// Both kinds: C2C conversations up to `timestamp`, groups up to `sequence`; `None` reads
    /// that kind up to its newest message.
    Positions {
        /// For C2C conversations.
        timestamp: Option<u64>,
        /// For group conversations.
        sequence: Option<u64>,
    },
}

impl ReadUpTo {
    /// How far a conversation of `kind` is read; `None` if this does not apply to it.
    pub(crate) fn through(self, kind: ConversationType) -> Option<Through> {
        let group = kind == ConversationType::Group;
        match self {
            ReadUpTo::Everything => Some(Through::Newest),
            ReadUpTo::Timestamp(t) if !group => Some(Through::Position(t)),
            ReadUpTo::Sequence(s) if group => Some(Through::Position(s)),
            ReadUpTo::Timestamp(_) | ReadUpTo::Sequence(_) => None,
            ReadUpTo::Positions {
                timestamp,
                sequence,
            } => {
                let at = if group { sequence } else { timestamp };
                Some(at.map_or(Through::Newest, Through::Position))
            }
        }
    }
}

/// A watch on an unread count: yields the current value first, then each new value.
///
/// Values are "latest wins": a consumer that polls slowly sees the newest count, never a stale
/// one, possibly skipping intermediate values. Dropping the stream unsubscribes; watchers of
/// equal filters share one subscription. The stream is `Send + Sync`, fused, and ends when the
/// manager shuts down.
#[must_use = "streams do nothing unless polled"]
pub struct UnreadStream {
    inner: Ending<u64>,
    _subscription: Option<FilterSubscription>,
}

impl std::fmt::Debug for UnreadStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UnreadStream")
    }
}

impl UnreadStream {
    fn new(
        rx: watch::Receiver<u64>,
        closed: watch::Receiver<bool>,
        subscription: Option<FilterSubscription>,
    ) -> Self {
        Self {
            inner: watch_values(rx, closed),
            _subscription: subscription,
        }
    }
}

impl Stream for UnreadStream {
    type Item = u64;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<u64>> {
        Pin::new(&mut self.inner).poll_next(cx)
    }
}

impl FusedStream for UnreadStream {
    fn is_terminated(&self) -> bool {
        self.inner.is_terminated()
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
        UnreadStream::new(
            self.shared().read_index().counters.watch_total(),
            self.shared().closed.subscribe(),
            None,
        )
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
        Ok(UnreadStream::new(
            rx,
            self.shared().closed.subscribe(),
            Some(subscription),
        ))
    }

    /// Marks messages read, for one conversation or all C2C / all group / all conversations
    /// ([`CleanTarget`]; a conversation ID converts into one), as far as `up_to` says.
    /// Read positions never move back; the unread messages and @ info at or before the new
    /// position go. Dropping the returned future does not cancel the write.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), timconv::Error> {
    /// use timconv::{CleanTarget, ConversationId, ConversationManager, Message, ReadUpTo};
    ///
    /// let manager = ConversationManager::builder().in_memory().self_user_id("me").open().await?;
    /// let team = ConversationId::group("team")?;
    /// for seq in 1..=5 {
    ///     let message = Message::builder().msg_id(format!("m{seq}")).seq(seq).text("hi").build();
    ///     manager.ingest_message(&team, message).await?;
    /// }
    /// manager.clean_unread(&team, ReadUpTo::Sequence(3)).await?;
    /// assert_eq!(manager.total_unread(), 2);
    /// manager.clean_unread(CleanTarget::All, ReadUpTo::Everything).await?;
    /// assert_eq!(manager.total_unread(), 0);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::ConversationNotFound`] (6004) for a single conversation that does not exist;
    /// [`Error::InvalidParameter`] (6017) for a single conversation of the kind `up_to` does
    /// not cover (a timestamp for a group, a sequence for a C2C conversation).
    #[tracing::instrument(skip_all, fields(target, up_to = ?up_to), err(level = "debug"))]
    pub async fn clean_unread(
        &self,
        target: impl Into<CleanTarget>,
        up_to: ReadUpTo,
    ) -> Result<()> {
        let target = target.into();
        tracing::Span::current().record("target", tracing::field::debug(&target));
        self.write(move |tx| {
            let ids = match &target {
                CleanTarget::Conversation(id) => {
                    tx.existing(id)?;
                    if up_to.through(id.kind()).is_none() {
                        return Err(Error::InvalidParameter(format!(
                            "{up_to:?} does not apply to {id}"
                        )));
                    }
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
                let Some(through) = up_to.through(id.kind()) else {
                    continue;
                };
                if let Some(position) = clean(tx, &id, through) {
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
}

/// How far a clean reads one conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Through {
    /// Up to its newest message.
    Newest,
    /// Up to this position (timestamp for C2C, sequence for groups).
    Position(u64),
}

/// Moves conversation `id`'s read position up to `through` and uncounts the unread messages
/// and @ info at or before it. Returns the new read position if it moved; nothing is written
/// when nothing changes (most conversations of a bulk clean are clean).
pub(crate) fn clean(tx: &mut Tx<'_>, id: &ConversationId, through: Through) -> Option<u64> {
    let c = std::sync::Arc::clone(tx.get(id)?);
    let target = match through {
        Through::Newest => last_position(&c).max(tx.max_unread_position(id).unwrap_or(0)),
        Through::Position(p) => p,
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
