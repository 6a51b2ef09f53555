//! The one writer path: every change is planned, committed, applied and published here, one
//! at a time, in a dedicated task (DESIGN "The shape", steps 1–5).
//!
//! Callers send a job and await its reply. Because the job runs in the writer task, a caller
//! that stops waiting (its future dropped) does not cancel its change half-way: it is committed
//! and published all the same, and never lost.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use super::Shared;
use super::tx::Tx;
use crate::error::Result;
use crate::store::{Store, StoredConversation};

/// Most writes planned into one commit when callers queue up faster than the store commits.
const MAX_GROUP: usize = 512;

/// Times the writer yields, its queue empty, before it does the store's deferred work.
const IDLE_YIELDS: usize = 8;

/// Replaced records from which the writer, with jobs waiting, frees them on a blocking thread
/// rather than itself.
const OFFLOAD_DROP: usize = 64;

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

/// The writer task: runs jobs in order until every manager handle is gone or shut down.
///
/// Writes that queue up while a commit is under way are planned one after the other into one
/// transaction and committed together (group commit): each still sees the writes before it,
/// fails alone, and is acknowledged only once the whole group is durable.
pub(crate) async fn run(shared: Arc<Shared>, store: Arc<dyn Store>, mut jobs: mpsc::Receiver<Job>) {
    // Whether the store may have deferred work (`Store::idle`): from the start (a previous
    // session may have left some), after every commit, and while it says there is more.
    let mut maintenance = true;
    loop {
        let first = if maintenance {
            match jobs.try_recv() {
                Ok(job) => job,
                Err(mpsc::error::TryRecvError::Empty) => {
                    // Idle only if nothing arrives while every runnable task gets a turn: a
                    // caller about to send should not wait behind deferred work.
                    if !settled(&jobs).await {
                        continue;
                    }
                    maintenance = store.idle().await.unwrap_or_else(|err| {
                        tracing::warn!(error = %err, "deferred store work failed");
                        false
                    });
                    continue;
                }
                Err(mpsc::error::TryRecvError::Disconnected) => break,
            }
        } else {
            match jobs.recv().await {
                Some(job) => job,
                None => break,
            }
        };
        let mut writes = Vec::new();
        let mut shutdown = None;
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
            let replaced = commit_group(&shared, store.as_ref(), writes).await;
            free(replaced, !jobs.is_empty());
            maintenance = true;
        }
        if let Some(reply) = shutdown {
            let _ = reply.send(store.close().await);
            break;
        }
    }
    tracing::debug!("conversation writer stopped");
}

/// Yields a few times; whether the job queue stayed empty meanwhile.
async fn settled(jobs: &mpsc::Receiver<Job>) -> bool {
    for _ in 0..IDLE_YIELDS {
        tokio::task::yield_now().await;
        if !jobs.is_empty() {
            return false;
        }
    }
    true
}

/// Frees the records a change replaced. With jobs waiting, many of them (a group's old last
/// messages are thousands of small allocations) are freed on a blocking thread, off the path of
/// the next commit: a burst of incoming messages is ~15-40% faster so. With none waiting the
/// writer frees them itself: a sync delta on the memory store, whose records the writer
/// allocated moments before, applied ~20% slower when a blocking thread freed them (likely
/// the two threads contending for the allocator; docs/PERFORMANCE.md section 6).
fn free(replaced: Vec<StoredConversation>, jobs_waiting: bool) {
    if jobs_waiting && replaced.len() >= OFFLOAD_DROP {
        drop(tokio::task::spawn_blocking(move || drop(replaced)));
    }
}

/// Plans `writes` into one change, commits it, applies it and publishes, then replies to each.
/// Returns the records the change replaced, for the caller to free.
async fn commit_group(
    shared: &Shared,
    store: &dyn Store,
    writes: Vec<WriteFn>,
) -> Vec<StoredConversation> {
    let count = writes.len();
    let (change, extra_events, completions) = {
        let index = shared.read_index();
        let mut tx = Tx::new(
            &index,
            &shared.limits,
            shared.self_user.as_deref(),
            shared.sync_session,
        );
        let completions: Vec<Completion> = writes.into_iter().map(|plan| plan(&mut tx)).collect();
        let (change, events) = tx.finish();
        (change, events, completions)
    };
    let recorded = !change.outbox_added.is_empty();
    let mut replaced = Vec::new();
    let committed = if change.is_empty() {
        Ok(())
    } else {
        let committed = store.commit(&change).await;
        match &committed {
            Err(err) => {
                tracing::warn!(error = %err, writes = count, "commit failed; nothing applied")
            }
            Ok(()) => {
                let listened = shared.events.receiver_count() > 0;
                // The change is committed: the index takes its records without copying them.
                let applied = shared.write_index().apply(change, extra_events, listened);
                for event in applied.events {
                    // No receiver is fine: nobody is listening.
                    let _ = shared.events.send(event);
                }
                replaced = applied.replaced;
            }
        }
        committed
    };
    if recorded
        && committed.is_ok()
        && let Some(wake) = &shared.sync_wake
    {
        wake.notify_one();
    }
    for done in completions {
        done(committed.clone());
    }
    replaced
}
