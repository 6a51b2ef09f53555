//! The one writer path: every change is validated, planned, committed to the store, applied to
//! the index and published here, one group at a time, in a dedicated task.
//!
//! Callers send a job and await its reply. Because the job runs in the writer task, a caller
//! that stops waiting (its future dropped) does not cancel its change half-way: it is committed
//! and published all the same, and never lost.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use super::Shared;
use super::tx::{Planned, Tx};
use crate::error::Result;
use crate::store::Store;

/// Most writes planned into one commit when callers queue up faster than the store commits.
const MAX_GROUP: usize = 512;

/// Called with the commit's result once the change is durable and published (or failed).
pub(crate) type Completion = Box<dyn FnOnce(Result<()>) + Send>;
/// Plans a change into a [`Tx`]; returns how to reply.
pub(crate) type WriteFn = Box<dyn FnOnce(&mut Tx<'_>) -> Completion + Send>;

pub(crate) enum Job {
    Write(WriteFn),
    Shutdown(oneshot::Sender<Result<()>>),
}

/// Wraps an operation into a job whose reply reaches `reply`. An operation that fails is rolled
/// back out of the transaction, so none of it is committed or published.
pub(crate) fn job<T: Send + 'static>(
    op: impl FnOnce(&mut Tx<'_>) -> Result<T> + Send + 'static,
    reply: oneshot::Sender<Result<T>>,
) -> Job {
    Job::Write(Box::new(move |tx: &mut Tx<'_>| -> Completion {
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
    }))
}

/// The writer task: runs jobs in order until the manager is shut down or every handle is gone
/// (then it closes the store, which releases its file).
///
/// Writes that queue up while a commit is under way are planned one after the other into one
/// transaction and committed together (group commit): each still sees the writes before it,
/// fails alone, and is acknowledged only once the whole group is durable. The group is simply
/// what is queued when the writer takes the next job; nothing waits for more to arrive.
pub(crate) async fn run(shared: Arc<Shared>, store: Arc<dyn Store>, mut jobs: mpsc::Receiver<Job>) {
    let mut shutdown = None;
    while let Some(first) = jobs.recv().await {
        let mut writes = Vec::new();
        let mut next = Some(first);
        while let Some(job) = next.take() {
            match job {
                Job::Write(plan) => writes.push(plan),
                Job::Shutdown(reply) => {
                    shutdown = Some(reply);
                    break;
                }
            }
            if writes.len() < MAX_GROUP {
                next = jobs.try_recv().ok();
            }
        }
        if !writes.is_empty() {
            commit_group(&shared, store.as_ref(), writes).await;
        }
        if shutdown.is_some() {
            break;
        }
    }
    // Live lists and watches end with the writer.
    shared.live.close();
    let closed = store.close().await;
    if let Err(err) = &closed {
        tracing::warn!(error = %err, "closing the store failed");
    }
    shared.closed.send_replace(true);
    if let Some(reply) = shutdown {
        let _ = reply.send(closed);
    }
    tracing::debug!("conversation writer stopped");
}

/// Plans `writes` into one change, commits it, applies it and publishes, then replies to each.
async fn commit_group(shared: &Shared, store: &dyn Store, writes: Vec<WriteFn>) {
    let count = writes.len();
    let (planned, completions) = {
        let index = shared.read_index();
        let outbox = shared.lock_outbox();
        let mut tx = Tx::new(
            &index,
            &outbox,
            &shared.limits,
            shared.self_user.as_deref(),
            shared.sync_session,
        );
        let completions: Vec<Completion> = writes.into_iter().map(|plan| plan(&mut tx)).collect();
        (tx.finish(), completions)
    };
    let committed = match planned {
        Err(err) => Err(err),
        Ok(Planned {
            change,
            outbox,
            events,
        }) if change.is_empty() && outbox.is_empty() => {
            drop((change, events));
            Ok(())
        }
        Ok(Planned {
            change,
            outbox,
            events,
        }) => {
            let committed = store.commit(&change).await;
            match &committed {
                Err(err) => {
                    tracing::warn!(error = %err, writes = count, "commit failed; nothing applied");
                }
                Ok(()) => {
                    let recorded = !outbox.added.is_empty();
                    let events = {
                        let mut index = shared.write_index();
                        let applied = index.apply(&change, events);
                        // Under the same lock: live lists move with the index.
                        shared.live.apply(&index, &applied.touched);
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
            }
            committed
        }
    };
    for done in completions {
        done(committed.clone());
    }
}
