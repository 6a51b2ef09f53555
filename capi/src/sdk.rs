//! The library's state between `TIMInit` and `TIMUninit`: its runtime, its callback thread,
//! and the queue of accepted calls.
//!
//! Every accepted call becomes a job on one queue, carried out one at a time in the order the
//! calls were made, by one task of the library's Tokio runtime. So a call sees the effect of
//! every call made before it (a list asked for after a pin shows the pin), logging in and out
//! happen between calls, never during one, and callbacks come in call order.

use std::ffi::c_void;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError, RwLock, RwLockReadGuard};
use std::time::Duration;

use futures::FutureExt;
use tokio::runtime::Runtime;
use tokio::sync::mpsc;

use crate::data_dir::Config;
use crate::delivery::{CallbackThread, Reply};
use crate::ffi::TIMCommCallback;
use crate::session::Core;

/// The state, while initialised.
static SDK: RwLock<Option<Sdk>> = RwLock::new(None);

/// Held while an uninitialisation closes its session and runtime, so that a `TIMInit` right
/// after (from another thread) starts once the previous session's store is closed.
static TEARDOWN: Mutex<()> = Mutex::new(());

/// How long `TIMUninit` lets the calls already accepted finish before it drops the rest (they
/// then fail with `ERR_SDK_NOT_INITIALIZED`).
const UNINIT_GRACE: Duration = Duration::from_secs(10);

/// One accepted call, waiting to be carried out.
pub(crate) type Job = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The state between `TIMInit` and `TIMUninit`.
pub(crate) struct Sdk {
    runtime: Runtime,
    jobs: mpsc::UnboundedSender<Job>,
    runner: tokio::task::JoinHandle<()>,
    pub(crate) core: Arc<Core>,
}

/// The state, read-locked: while a call holds it, `TIMUninit` waits, so that a call either
/// finds the SDK and is accepted before uninitialising begins, or finds none.
pub(crate) fn current() -> RwLockReadGuard<'static, Option<Sdk>> {
    SDK.read().unwrap_or_else(PoisonError::into_inner)
}

/// `TIMInit`: starts the runtime, the callback thread and the job runner.
pub(crate) fn init(config: Config) -> Result<(), InitError> {
    drop(TEARDOWN.lock().unwrap_or_else(PoisonError::into_inner));
    let mut slot = SDK.write().unwrap_or_else(PoisonError::into_inner);
    if let Some(sdk) = slot.as_ref() {
        return if sdk.core.config == config {
            Ok(())
        } else {
            Err(InitError::OtherConfig)
        };
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("timconv-worker")
        .enable_all()
        .build()
        .map_err(InitError::Start)?;
    let callbacks = CallbackThread::start().map_err(InitError::Start)?;
    let core = Arc::new(Core::new(config, callbacks));
    let (jobs, queue) = mpsc::unbounded_channel();
    let runner = runtime.spawn(run(queue, Arc::clone(&core)));
    *slot = Some(Sdk {
        runtime,
        jobs,
        runner,
        core,
    });
    tracing::debug!("initialised");
    Ok(())
}

/// Why `TIMInit` failed.
#[derive(Debug)]
pub(crate) enum InitError {
    /// Already initialised with another app ID or directory.
    OtherConfig,
    /// A thread could not be started.
    Start(std::io::Error),
}

/// Carries out the accepted calls in order; when the queue closes (`TIMUninit`), logs out.
async fn run(mut queue: mpsc::UnboundedReceiver<Job>, core: Arc<Core>) {
    while let Some(job) = queue.recv().await {
        // A job that panics (a bug) is dropped; its reply then reports an internal error.
        if AssertUnwindSafe(job).catch_unwind().await.is_err() {
            tracing::error!("a call of the C API panicked; please report it");
        }
    }
    if let Err(failure) = core.logout().await {
        tracing::warn!(
            code = failure.code,
            "logging out at uninitialisation failed"
        );
    }
}

impl Sdk {
    /// Queues a job behind every call accepted before it.
    pub(crate) fn submit(&self, job: impl Future<Output = ()> + Send + 'static) {
        // The runner lives until `TIMUninit`, which cannot begin while the caller holds the
        // state. Should it have died anyway, the job is dropped here and its reply reports it.
        let _ = self.jobs.send(Box::pin(job));
    }

    /// `TIMLogin`: accepted at once, carried out in turn.
    pub(crate) fn login(&self, user_id: String, cb: TIMCommCallback, user_data: *const c_void) {
        let core = &self.core;
        let mut state = core.login_state();
        state.logged_in = true;
        state.generation += 1;
        let generation = state.generation;
        let job_core = Arc::clone(core);
        let reply = Reply::new(cb, user_data, &core.callbacks);
        // Queued under the lock, so the queue has logins and logouts in the order of their
        // generations.
        self.submit(async move {
            let outcome = job_core.login(user_id).await;
            job_core.settle(generation);
            reply.finish(outcome);
        });
    }

    /// `TIMLogout`: `false` if not logged in; otherwise accepted and carried out in turn.
    pub(crate) fn logout(&self, cb: TIMCommCallback, user_data: *const c_void) -> bool {
        let core = &self.core;
        let mut state = core.login_state();
        if !state.logged_in {
            return false;
        }
        state.logged_in = false;
        state.generation += 1;
        let generation = state.generation;
        let job_core = Arc::clone(core);
        let reply = Reply::new(cb, user_data, &core.callbacks);
        self.submit(async move {
            let outcome = job_core.logout().await;
            job_core.settle(generation);
            reply.finish(outcome);
        });
        true
    }
}

/// `TIMUninit`: `false` if not initialised.
///
/// The calls already accepted are carried out (for up to [`UNINIT_GRACE`]; those left then
/// fail with `ERR_SDK_NOT_INITIALIZED`), the user is logged out, every callback is delivered,
/// and the threads stop.
pub(crate) fn uninit() -> bool {
    // Taken under the write lock: calls in their synchronous part finish first, later ones
    // find no SDK. The lock is released before waiting for anything a callback could need.
    let Some(sdk) = SDK.write().unwrap_or_else(PoisonError::into_inner).take() else {
        return false;
    };
    let callbacks = Arc::clone(&sdk.core.callbacks);
    callbacks.set_closing();
    let closing = TEARDOWN.lock().unwrap_or_else(PoisonError::into_inner);
    // The runtime is driven and dropped on a thread of its own: the caller may be inside
    // another runtime (a Rust host) or be the callback thread.
    let teardown = std::thread::Builder::new()
        .name("timconv-uninit".into())
        .spawn(move || teardown(sdk));
    match teardown {
        Ok(thread) => {
            if thread.join().is_err() {
                tracing::error!("uninitialising panicked");
            }
        }
        Err(err) => tracing::error!(error = %err, "cannot start a thread to uninitialise"),
    }
    drop(closing);
    // Every reply has been posted by now; deliver them (unless we are the callback thread,
    // which then stops after the current callback).
    callbacks.close();
    tracing::debug!("uninitialised");
    true
}

fn teardown(sdk: Sdk) {
    let Sdk {
        runtime,
        jobs,
        runner,
        core,
    } = sdk;
    drop(jobs);
    let finished = runtime.block_on(async { tokio::time::timeout(UNINIT_GRACE, runner).await });
    if finished.is_err() {
        tracing::warn!("calls still running at uninitialisation were dropped");
    }
    // Drops whatever still runs (a call past the grace period, the event forwarder): their
    // replies report ERR_SDK_NOT_INITIALIZED.
    runtime.shutdown_timeout(Duration::from_secs(5));
    drop(core.session().take());
}
