//! The one writer path: every change is validated, planned, committed to the store, applied to
//! the index and published here, one group at a time, in a dedicated task.
//!
//! Callers send a job and await its reply. Because the job runs in the writer task, a caller
//! that stops waiting (its future dropped) does not cancel its change half-way: it is committed
//! and published all the same, and never lost.

use std::sync::Arc;

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::Shared;
use super::inflight::{Base, InFlight};
use super::queue::{Queue, ShutdownSlot};
use super::tx::{Planned, Tx};
use crate::error::{Error, Result};
use crate::events::Event;
use crate::store::{ChangeSet, Store};
use crate::sync::outbox::OutboxDelta;

/// Called with the commit's result once the change is durable and published (or failed).
pub(crate) type Completion = Box<dyn FnOnce(Result<()>) + Send>;
/// Plans a change into a [`Tx`]; returns how to reply.
pub(crate) type WriteFn = Box<dyn FnOnce(&mut Tx<'_>) -> Completion + Send>;

/// Wraps an operation into a write whose reply reaches `reply`. An operation that fails is
/// rolled back out of the transaction, so none of it is committed or published.
pub(crate) fn write_fn<T: Send + 'static>(
    op: impl FnOnce(&mut Tx<'_>) -> Result<T> + Send + 'static,
    reply: oneshot::Sender<Result<T>>,
) -> WriteFn {
    Box::new(move |tx: &mut Tx<'_>| -> Completion {
        let savepoint = tx.savepoint();
        match op(tx) {
            Ok(value) => Box::new(move |committed: Result<()>| {
                let _ = reply.send(committed.map(|()| value));
            }),
            Err(err) => {
                tx.rollback_to(savepoint);
                Box::new(move |_| {
                    let _ = reply.send(Err(err));
                })
            }
        }
    })
}

/// The writer task: runs jobs in order until the manager is shut down or every handle is gone
/// (then it closes the store, which releases its file).
///
/// **Group commit.** Writes that queue up while a commit is under way are planned one after the
/// other into one transaction and committed together: each still sees the writes before it,
/// fails alone, and is acknowledged only once the whole group is durable. The group is simply
/// what is queued when the writer takes the next job (user actions ahead of message ingests:
/// see `queue.rs`); nothing waits for more to arrive.
///
/// **Pipelining.** When writes are already queued behind a group (or the group before it is
/// still to be applied), the group commits on a task of its own (for SQLite, mostly on its
/// connection's thread) while the writer plans the next group on top of it (see
/// `inflight.rs`), so planning and committing overlap. The next group is committed, applied
/// and acknowledged only after the previous one: events, the index and the store see the
/// groups in order, and nothing is visible before it is durable. Its commit starts as soon as
/// the previous one is durable, before that one is applied, so that applying a group overlaps
/// with committing the next. If a commit fails, the group planned on top of it is not
/// committed either and its writes fail with the same error (they were planned on writes that
/// did not happen); nothing of either is applied. A group that adds or removes operations of
/// the sync outbox is applied before anything is planned on it (a pulled page's bookmark does
/// not stop the next page from being planned on it).
pub(crate) async fn run(shared: Arc<Shared>, store: Arc<dyn Store>, mut jobs: Queue) {
    let mut shutdown: ShutdownSlot = None;
    let mut committing: Option<Committing> = None;
    loop {
        // 1. The next group: waited for when nothing commits; while a commit is under way,
        //    taken if it arrives first and the commit can be planned on.
        let group = match committing.as_mut() {
            _ if shutdown.is_some() => None,
            None => match jobs.recv().await {
                Some(first) => Some(jobs.gather(first, &mut shutdown)),
                None => break,
            },
            Some(c) if !c.stackable => None,
            Some(c) => {
                let arrived = tokio::select! {
                    biased;
                    done = &mut c.rest.task => Err(done),
                    job = jobs.recv() => Ok(job),
                };
                match arrived {
                    Err(done) => {
                        if let Some(c) = committing.take() {
                            settle(&shared, c.rest, done);
                        }
                        continue;
                    }
                    Ok(Some(first)) => Some(jobs.gather(first, &mut shutdown)),
                    // Every handle is gone: finish what commits, then stop.
                    Ok(None) => {
                        shutdown.get_or_insert(None);
                        None
                    }
                }
            }
        };
        // 2. Plan it on top of the commit under way.
        let planned =
            group.map(|writes| plan(&shared, committing.as_ref().map(|c| &c.view), writes));
        // 3. The commit under way ends.
        let mut ended = None;
        if let Some(Committing { view, mut rest, .. }) = committing.take() {
            drop(view);
            let done = (&mut rest.task).await;
            ended = Some((rest, done));
        }
        // 4. Commit the planned group, or fail it with the commit it was planned on. The store
        //    has finished the commit before, so the two reach it in order. A group that
        //    commits starts before the one before is applied (5), so that applying overlaps
        //    with its commit; any other is answered at once, so only after the one before.
        if let Some(planned) = planned {
            let failed = ended.as_ref().and_then(|(_, done)| committed(done).err());
            if failed.is_none() && planned.commits() {
                let overlaps = !jobs.is_empty() || ended.is_some();
                committing = start(&store, planned, overlaps);
            } else {
                if let Some((rest, done)) = ended.take() {
                    settle(&shared, rest, done);
                }
                match failed {
                    Some(err) => {
                        tracing::warn!(
                            writes = planned.completions.len(),
                            "writes planned on a failed commit fail with it"
                        );
                        for done in planned.completions {
                            done(Err(err.clone()));
                        }
                    }
                    None => committing = start(&store, planned, false),
                }
            }
        }
        // 5. Apply and answer the commit that ended.
        if let Some((rest, done)) = ended {
            settle(&shared, rest, done);
        }
        if committing.is_none() && shutdown.is_some() {
            break;
        }
    }
    // Live lists and watches end with the writer.
    shared.live.close();
    let closed = store.close().await;
    if let Err(err) = &closed {
        tracing::warn!(error = %err.report(), "closing the store failed");
    }
    shared.closed.send_replace(true);
    if let Some(Some(reply)) = shutdown {
        let _ = reply.send(closed);
    }
    tracing::debug!("conversation writer stopped");
}

/// A planned group: what to commit, how later plans see it, and whom to answer.
struct PlannedGroup {
    planned: Result<(Planned, InFlight)>,
    completions: Vec<Completion>,
}

impl PlannedGroup {
    /// Whether it has something to commit (otherwise [`start`] answers it at once).
    fn commits(&self) -> bool {
        self.planned
            .as_ref()
            .is_ok_and(|(planned, _)| !planned.is_empty())
    }
}

/// Plans `writes` into one change, on top of `inflight` (the change being committed).
fn plan(shared: &Shared, inflight: Option<&InFlight>, writes: Vec<WriteFn>) -> PlannedGroup {
    let index = shared.read_index();
    let outbox = shared.lock_outbox();
    let mut tx = Tx::new(
        Base::new(&index, inflight),
        &outbox,
        &shared.limits,
        shared.self_user.as_deref(),
        shared.sync_session,
    );
    let completions: Vec<Completion> = writes.into_iter().map(|plan| plan(&mut tx)).collect();
    PlannedGroup {
        planned: tx.finish(),
        completions,
    }
}

/// What a commit under way hands back: its result and the change it committed.
type Committed = (Result<()>, Arc<ChangeSet>);

/// A group being committed.
struct Committing {
    /// How the next plan sees it.
    view: InFlight,
    /// Whether the next group may be planned on it before it is applied.
    stackable: bool,
    rest: Pending,
}

/// A commit under way: on a task of its own, or run by the writer itself.
enum CommitTask {
    Spawned(JoinHandle<Committed>),
    Inline(BoxFuture<'static, Committed>),
}

impl Future for CommitTask {
    type Output = std::result::Result<Committed, tokio::task::JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut *self {
            CommitTask::Spawned(task) => Pin::new(task).poll(cx),
            CommitTask::Inline(commit) => commit.as_mut().poll(cx).map(Ok),
        }
    }
}

/// A group being committed, without its view.
struct Pending {
    task: CommitTask,
    outbox: OutboxDelta,
    events: Vec<Event>,
    completions: Vec<Completion>,
}

/// Starts committing a planned group; a group that changes nothing is answered at once (the
/// group it was planned on, if any, is applied already).
///
/// When the writer has work to overlap with the commit (`overlaps`: writes queued behind it
/// to plan, or the group before to apply), the commit runs on a task of its own and the next
/// group may be planned on it meanwhile. Without, the writer awaits the commit itself, which
/// saves a task and its wake-ups per commit when callers each wait for their write before
/// sending the next (the writes that arrive meanwhile form the next group).
fn start(store: &Arc<dyn Store>, group: PlannedGroup, overlaps: bool) -> Option<Committing> {
    let PlannedGroup {
        planned,
        completions,
    } = group;
    let (planned, view) = match planned {
        Ok(planned) => planned,
        Err(err) => {
            for done in completions {
                done(Err(err.clone()));
            }
            return None;
        }
    };
    if planned.is_empty() {
        drop((planned, view));
        for done in completions {
            done(Ok(()));
        }
        return None;
    }
    let Planned {
        change,
        outbox,
        events,
    } = planned;
    let store = Arc::clone(store);
    let commit = async move {
        let result = store.commit(&change).await;
        (result, change)
    };
    let task = if overlaps {
        CommitTask::Spawned(tokio::spawn(commit))
    } else {
        CommitTask::Inline(Box::pin(commit))
    };
    Some(Committing {
        stackable: overlaps && outbox.added.is_empty() && outbox.removed.is_empty(),
        view,
        rest: Pending {
            task,
            outbox,
            events,
            completions,
        },
    })
}

/// A commit has ended: applies it to the index and live lists, publishes, answers its writes.
fn settle(
    shared: &Shared,
    pending: Pending,
    done: std::result::Result<Committed, tokio::task::JoinError>,
) {
    let Pending {
        task: _,
        outbox,
        events,
        completions,
    } = pending;
    let count = completions.len();
    // The records the change replaced, freed once its writes are answered (a group's old last
    // messages are many small allocations; its callers need not wait for them).
    let mut replaced = Vec::new();
    let outcome = committed(&done);
    match done {
        Ok((Ok(()), change)) => {
            let recorded = !outbox.added.is_empty();
            let events = {
                let mut index = shared.write_index();
                let applied = index.apply(&change, events);
                // Under the same lock: live lists move with the index.
                shared.live.apply(&index, &applied.touched);
                replaced = applied.touched;
                applied.events
            };
            shared.lock_outbox().apply(outbox);
            for event in events {
                // No receiver is fine: nobody is listening.
                let _ = shared.events.send(event);
            }
            if recorded && let Some(wake) = &shared.sync_wake {
                wake.notify_one();
            }
        }
        _ => {
            if let Err(err) = &outcome {
                tracing::warn!(error = %err.report(), writes = count, "commit failed; nothing applied");
            }
        }
    }
    for done in completions {
        done(outcome.clone());
    }
    drop(replaced);
}

/// Whether a commit that ended made its change durable, as its writes are answered.
fn committed(done: &std::result::Result<Committed, tokio::task::JoinError>) -> Result<()> {
    match done {
        Ok((result, _)) => result.clone(),
        Err(join) => Err(Error::Internal(format!(
            "the store's commit did not finish: {join}"
        ))),
    }
}
