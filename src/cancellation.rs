//! What happens when the future of a call is dropped before it completes (cancelled by
//! `tokio::select!`, a timeout, or a task being aborted).
//!
//! Every write of a [`ConversationManager`](crate::ConversationManager) is carried out by one
//! writer task, one write at a time. A write's future checks its arguments and hands the write
//! to the writer when it is first polled, waiting for room if the writer's queue is full
//! ([`ManagerBuilder::queue_capacity`](crate::ManagerBuilder::queue_capacity)). From then on
//! the write is **submitted**:
//!
//! - **Dropped before it was submitted** (never polled, refused by its checks, or dropped while
//!   waiting for room in the queue): nothing happens.
//! - **Dropped after it was submitted**: the write is made all the same, committed to the store,
//!   applied and published with its events, exactly as if it had been awaited. Only its answer
//!   is lost: read the state or the events to learn what it did.
//!
//! A write is never left half-done, and dropping its future never rolls it back. So a write
//! that loses a `select!` race or a timeout may still take effect a moment later; an app that
//! retries it gets the write's usual answer for a repeat (pinning a pinned conversation
//! changes nothing, an identical message is a duplicate).
//!
//! Each write method says so in one line: *Cancellation: once submitted, the write is made
//! even if this future is dropped.* The other calls:
//!
//! - [`ManagerBuilder::open`](crate::ManagerBuilder::open) and
//!   [`ConversationManager::open`](crate::ConversationManager::open): dropped, nothing stays
//!   open; a store file locked meanwhile is released.
//! - [`shutdown`](crate::ConversationManager::shutdown): once submitted, the manager shuts
//!   down after the writes queued before it.
//! - [`sync`](crate::ConversationManager::sync): the cycle it started runs to its end.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), timconv::Error> {
//! use futures::FutureExt;
//! use timconv::{ConversationId, ConversationManager};
//!
//! let manager = ConversationManager::builder().in_memory().open().await?;
//! let alice = ConversationId::c2c("alice")?;
//! manager.create_conversation(&alice).await?;
//! // Polled once (submitted), then dropped before its answer.
//! assert!(manager.pin(&alice).now_or_never().is_none());
//! // The next write is applied after it: the pin was made.
//! manager.create_conversation(&ConversationId::c2c("bob")?).await?;
//! assert!(manager.get(&alice).is_some_and(|c| c.is_pinned));
//! # Ok(())
//! # }
//! ```
