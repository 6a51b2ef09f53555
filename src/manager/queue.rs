//! The writer's queue: two lanes, so that a user's action does not wait behind a burst of
//! incoming messages.
//!
//! Message ingest and the sync task's writes go in the **bulk** lane; every other write (pin,
//! marks, drafts, folders, deletes, read positions, settings) in the **action** lane. Actions
//! waiting when the writer forms a group are committed alone, in a small group that commits
//! quickly; the group after it takes the actions queued, then bulk writes (and at least one
//! bulk write when some wait), so neither lane starves. Each lane keeps its order. A
//! write that waits for its answer before the next is sent is therefore always applied in the
//! order it was made; only writes in flight together, in different lanes, may be applied in
//! another order than they were sent.
//!
//! `shutdown` puts a mark at the end of the action lane, then goes in the bulk lane: the writer
//! stops once it has taken every write queued before it in both lanes (callers still waiting
//! for room in a full lane included), and takes no action queued after the mark.

use tokio::sync::{mpsc, oneshot};

use super::writer::WriteFn;
use crate::error::{Error, Result};

/// Most writes planned into one commit when callers queue up faster than the store commits
/// (a batch of messages counts as its messages). The write that reaches the bound is the
/// group's last, so a group holds less than the bound plus one write (plus one bulk write more
/// when a group of actions reaches it: see [`Queue::gather`]). A user's action queued during a
/// burst waits for about two such commits, so the bound is kept small: 256 gave the same
/// throughput as 512 and half the action's wait.
const MAX_GROUP: usize = 256;

/// Which lane a write goes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lane {
    /// What the user does: served ahead of bulk writes.
    Action,
    /// Message ingest and sync.
    Bulk,
}

/// What a lane carries.
pub(crate) enum Job {
    /// A write, and how many writes it counts as toward a group's [`MAX_GROUP`] (its
    /// messages for `ingest_messages`, 1 for any other write).
    Write(WriteFn, usize),
    /// The end of the actions to carry out before a shutdown (action lane).
    EndOfActions,
    /// Stop after what is before this (bulk lane).
    Shutdown(oneshot::Sender<Result<()>>),
}

/// The sending side, held by the manager's handles.
pub(crate) struct QueueSender {
    actions: mpsc::Sender<Job>,
    bulk: mpsc::Sender<Job>,
}

/// The writer's side.
pub(crate) struct Queue {
    actions: mpsc::Receiver<Job>,
    bulk: mpsc::Receiver<Job>,
    /// A shutdown's mark was met: no more actions are taken.
    actions_ended: bool,
    /// Whether the last group was of actions alone (then the next one takes bulk writes too).
    last_only_actions: bool,
}

/// A queue whose lanes each hold up to `capacity` jobs before senders wait.
pub(crate) fn queue(capacity: usize) -> (QueueSender, Queue) {
    let (actions, actions_rx) = mpsc::channel(capacity);
    let (bulk, bulk_rx) = mpsc::channel(capacity);
    (
        QueueSender { actions, bulk },
        Queue {
            actions: actions_rx,
            bulk: bulk_rx,
            actions_ended: false,
            last_only_actions: false,
        },
    )
}

impl QueueSender {
    /// Queues a write in `lane`, counting as `weight` writes toward a group's bound, waiting
    /// while the lane is full. [`Error::Closed`] once the writer stopped.
    pub(crate) async fn write(&self, lane: Lane, plan: WriteFn, weight: usize) -> Result<()> {
        let sender = match lane {
            Lane::Action => &self.actions,
            Lane::Bulk => &self.bulk,
        };
        sender
            .send(Job::Write(plan, weight))
            .await
            .map_err(|_| Error::Closed)
    }

    /// Queues the shutdown behind every write queued so far, in both lanes. [`Error::Closed`]
    /// once the writer stopped.
    ///
    /// Both are sent at once, once both lanes have room: a caller that stops waiting before
    /// that sends neither (and the action lane is never left closed without a shutdown).
    pub(crate) async fn shutdown(&self, reply: oneshot::Sender<Result<()>>) -> Result<()> {
        let end = self.actions.reserve().await.map_err(|_| Error::Closed)?;
        let stop = self.bulk.reserve().await.map_err(|_| Error::Closed)?;
        end.send(Job::EndOfActions);
        stop.send(Job::Shutdown(reply));
        Ok(())
    }

    /// Whether the writer has stopped.
    pub(crate) fn is_closed(&self) -> bool {
        self.bulk.is_closed()
    }
}

/// Where the writer records a shutdown it met, and whom to answer when the store is closed
/// (`Some(None)`: every handle is gone, nobody to answer).
pub(crate) type ShutdownSlot = Option<Option<oneshot::Sender<Result<()>>>>;

impl Queue {
    /// The next write or shutdown and its lane, an action before any bulk write; `None` once
    /// every handle is gone and nothing is queued. Cancel-safe: a job is taken only when it
    /// is returned.
    pub(crate) async fn recv(&mut self) -> Option<(Lane, Job)> {
        loop {
            let (lane, job) = tokio::select! {
                biased;
                Some(job) = self.actions.recv(), if !self.actions_ended => (Lane::Action, job),
                Some(job) = self.bulk.recv() => (Lane::Bulk, job),
                else => return None,
            };
            match job {
                Job::EndOfActions => self.actions_ended = true,
                job => return Some((lane, job)),
            }
        }
    }

    /// Whether nothing is queued in either lane.
    pub(crate) fn is_empty(&self) -> bool {
        (self.actions_ended || self.actions.is_empty()) && self.bulk.is_empty()
    }

    /// The next action queued, if any and if no shutdown's mark came before it.
    fn next_action(&mut self) -> Option<Job> {
        if self.actions_ended {
            return None;
        }
        match self.actions.try_recv().ok()? {
            Job::EndOfActions => {
                self.actions_ended = true;
                None
            }
            job => Some(job),
        }
    }

    /// `first` and the writes queued behind it, for one group, up to [`MAX_GROUP`]. A group
    /// that starts with an action is of the actions queued alone, so that it commits quickly;
    /// the group after it takes the actions queued, then bulk writes, so that the bulk lane
    /// never starves (and one that reaches the bound with actions still takes one bulk write
    /// if any waits). Stops at a shutdown, which it records in `shutdown`, after taking the
    /// actions queued before it.
    pub(crate) fn gather(
        &mut self,
        first: (Lane, Job),
        shutdown: &mut ShutdownSlot,
    ) -> Vec<WriteFn> {
        let (lane, first) = first;
        let only_actions = lane == Lane::Action && !self.last_only_actions;
        self.last_only_actions = only_actions;
        let mut writes = Vec::new();
        let mut weight = 0;
        let mut took_bulk = lane == Lane::Bulk;
        let mut next = Some(first);
        while let Some(job) = next.take() {
            match job {
                Job::Write(plan, counts) => {
                    writes.push(plan);
                    weight += counts;
                }
                Job::Shutdown(reply) => {
                    *shutdown = Some(Some(reply));
                    // The shutdown's mark is in the action lane already (it is sent first).
                    while let Some(job) = self.next_action() {
                        if let Job::Write(plan, _) = job {
                            writes.push(plan);
                        }
                    }
                    break;
                }
                // Not reached: `recv` and `next_action` keep the mark to themselves.
                Job::EndOfActions => self.actions_ended = true,
            }
            if weight < MAX_GROUP {
                next = self.next_action();
            }
            if next.is_none() && !only_actions && (weight < MAX_GROUP || !took_bulk) {
                next = self.bulk.try_recv().ok();
                took_bulk |= next.is_some();
            }
        }
        writes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write() -> WriteFn {
        Box::new(|_| Box::new(|_| {}))
    }

    async fn fill(tx: &QueueSender, lane: Lane, n: usize) {
        for _ in 0..n {
            tx.write(lane, write(), 1).await.expect("open");
        }
    }

    async fn next_group(q: &mut Queue) -> usize {
        let first = q.recv().await.expect("something queued");
        q.gather(first, &mut None).len()
    }

    #[tokio::test]
    async fn actions_go_first_and_alone_then_with_bulk_writes() {
        let (tx, mut q) = queue(64);
        fill(&tx, Lane::Bulk, 10).await;
        fill(&tx, Lane::Action, 3).await;
        // The actions alone, though bulk writes were queued first.
        assert_eq!(next_group(&mut q).await, 3);
        assert_eq!((q.actions.len(), q.bulk.len()), (0, 10));
        // Actions queued again: this time the group takes the bulk writes too.
        fill(&tx, Lane::Action, 2).await;
        assert_eq!(next_group(&mut q).await, 12);
        assert!(q.is_empty());
    }

    #[tokio::test]
    async fn a_steady_stream_of_actions_does_not_starve_bulk_writes() {
        let (tx, mut q) = queue(1024);
        fill(&tx, Lane::Bulk, 1000).await;
        // Every other group takes bulk writes: up to the bound, less the actions.
        let limit = 2 * 1000_usize.div_ceil(MAX_GROUP - 4) + 1;
        let mut rounds = 0;
        while !q.bulk.is_empty() {
            // Actions are always waiting when the writer takes its next group.
            fill(&tx, Lane::Action, 4).await;
            next_group(&mut q).await;
            rounds += 1;
            assert!(
                rounds <= limit,
                "bulk writes still waiting after {rounds} groups"
            );
        }
    }

    #[tokio::test]
    async fn a_group_stops_at_the_bound_and_takes_one_bulk_write_past_it() {
        let (tx, mut q) = queue(2048);
        fill(&tx, Lane::Action, 1).await;
        assert_eq!(next_group(&mut q).await, 1, "actions alone");
        fill(&tx, Lane::Bulk, 5).await;
        fill(&tx, Lane::Action, MAX_GROUP + 10).await;
        // After a group of actions alone: actions up to the bound, then one bulk write.
        assert_eq!(next_group(&mut q).await, MAX_GROUP + 1);
        assert_eq!((q.actions.len(), q.bulk.len()), (10, 4));
    }

    #[tokio::test]
    async fn a_shutdown_comes_after_the_writes_before_it_in_both_lanes() {
        let (tx, mut q) = queue(64);
        fill(&tx, Lane::Bulk, 2).await;
        fill(&tx, Lane::Action, 3).await;
        let (reply, _answer) = oneshot::channel();
        tx.shutdown(reply).await.expect("open");
        fill(&tx, Lane::Action, 2).await;
        fill(&tx, Lane::Bulk, 1).await;
        let mut shutdown = None;
        // The three actions before the shutdown, alone; then the two bulk writes and it.
        let first = q.recv().await.expect("queued");
        assert_eq!(q.gather(first, &mut shutdown).len(), 3);
        assert!(shutdown.is_none());
        let first = q.recv().await.expect("queued");
        assert_eq!(q.gather(first, &mut shutdown).len(), 2);
        assert!(shutdown.is_some());
        // What came after the shutdown stays, and no action is taken any more.
        assert_eq!((q.actions.len(), q.bulk.len()), (2, 1));
        assert!(!q.is_empty());
        drop(tx);
        assert!(q.recv().await.is_some(), "the bulk write after it");
        assert!(q.recv().await.is_none(), "closed once every sender is gone");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_shutdown_waits_for_actions_still_waiting_for_room() {
        let (tx, mut q) = queue(2);
        let tx = std::sync::Arc::new(tx);
        fill(&tx, Lane::Action, 2).await;
        // A third action waits for room; the shutdown is made after it.
        let waiting = tokio::spawn({
            let tx = std::sync::Arc::clone(&tx);
            async move { fill(&tx, Lane::Action, 1).await }
        });
        tokio::task::yield_now().await;
        let (reply, _answer) = oneshot::channel();
        let shutting = tokio::spawn({
            let tx = std::sync::Arc::clone(&tx);
            async move { tx.shutdown(reply).await }
        });
        tokio::task::yield_now().await;
        let mut shutdown = None;
        let mut writes = 0;
        while shutdown.is_none() {
            let first = q.recv().await.expect("queued");
            writes += q.gather(first, &mut shutdown).len();
        }
        assert_eq!(writes, 3, "the action that waited for room is carried out");
        waiting.await.expect("sent");
        shutting.await.expect("sent").expect("open");
    }
}
