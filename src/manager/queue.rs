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
//! `shutdown` goes in the bulk lane, behind every write queued before it, and the writer takes
//! the actions queued at that moment with it.

use tokio::sync::{mpsc, oneshot};

use super::writer::{Job, MAX_GROUP, WriteFn};
use crate::error::{Error, Result};

/// Which lane a write goes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lane {
    /// What the user does: served ahead of bulk writes.
    Action,
    /// Message ingest and sync.
    Bulk,
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

    /// Queues the shutdown behind every write queued so far. [`Error::Closed`] once the
    /// writer stopped.
    pub(crate) async fn shutdown(&self, reply: oneshot::Sender<Result<()>>) -> Result<()> {
        self.bulk
            .send(Job::Shutdown(reply))
            .await
            .map_err(|_| Error::Closed)
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
    /// The next job and its lane, an action before any bulk write; `None` once every handle
    /// is gone and nothing is queued. Cancel-safe: a job is taken only when it is returned.
    pub(crate) async fn recv(&mut self) -> Option<(Lane, Job)> {
        tokio::select! {
            biased;
            Some(job) = self.actions.recv() => Some((Lane::Action, job)),
            Some(job) = self.bulk.recv() => Some((Lane::Bulk, job)),
            else => None,
        }
    }

    /// Whether nothing is queued in either lane.
    pub(crate) fn is_empty(&self) -> bool {
        self.actions.is_empty() && self.bulk.is_empty()
    }

    /// `first` and the writes queued behind it, for one group, up to [`MAX_GROUP`]. A group
    /// that starts with an action is of the actions queued alone, so that it commits quickly;
    /// the group after it takes the actions queued, then bulk writes, so that the bulk lane
    /// never starves (and one that reaches the bound with actions still takes one bulk write
    /// if any waits). Stops at a shutdown, which it records in `shutdown`, after taking the
    /// actions queued then.
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
                    // Only the bulk lane carries shutdowns.
                    while let Ok(Job::Write(plan, _)) = self.actions.try_recv() {
                        writes.push(plan);
                    }
                    break;
                }
            }
            if weight < MAX_GROUP {
                next = self.actions.try_recv().ok();
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
        let mut rounds = 0;
        while !q.bulk.is_empty() {
            // Actions are always waiting when the writer takes its next group.
            fill(&tx, Lane::Action, 4).await;
            next_group(&mut q).await;
            rounds += 1;
            assert!(
                rounds <= 6,
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
    async fn a_shutdown_ends_its_group_after_the_writes_before_it() {
        let (tx, mut q) = queue(64);
        fill(&tx, Lane::Bulk, 2).await;
        let (reply, _answer) = oneshot::channel();
        tx.shutdown(reply).await.expect("open");
        fill(&tx, Lane::Bulk, 1).await;
        let mut shutdown = None;
        let first = q.recv().await.expect("queued");
        // Actions queued while the group forms are taken with it.
        fill(&tx, Lane::Action, 3).await;
        assert_eq!(q.gather(first, &mut shutdown).len(), 5);
        assert!(shutdown.is_some());
        assert_eq!(q.bulk.len(), 1, "what came after the shutdown stays");
        drop(tx);
        assert!(q.recv().await.is_some());
        assert!(q.recv().await.is_none(), "closed once every sender is gone");
    }
}
