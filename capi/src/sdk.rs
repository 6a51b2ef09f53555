//! The library's state between `TIMInit` and `TIMUninit`: its runtime, its callback thread,
//! the queue of accepted calls, and the logged-in user's session.
//!
//! Every accepted call becomes a job on one queue, carried out one at a time in the order the
//! calls were made, by one task of the library's Tokio runtime. So a call sees the effect of
//! every call made before it (a list asked for after a pin shows the pin), logging in and out
//! happen between calls, never during one, and callbacks come in call order.

use std::collections::HashMap;
use std::ffi::c_void;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError, RwLock, RwLockReadGuard};
use std::time::Duration;

use futures::FutureExt;
use timconv::{
    ConversationFilter, ConversationManager, ErrorCode, SqliteStoreOptions, UnreadStream,
};
use tokio::runtime::Runtime;
use tokio::sync::mpsc;

use crate::codes::{Failure, Outcome};
use crate::delivery::{CallbackThread, Reply};
use crate::ffi::TIMCommCallback;
use crate::listeners::Forwarder;

/// The state, while initialised.
static SDK: RwLock<Option<Sdk>> = RwLock::new(None);

/// How long `TIMUninit` lets the calls already accepted finish before it drops the rest (they
/// then fail with `ERR_SDK_NOT_INITIALIZED`).
const UNINIT_GRACE: Duration = Duration::from_secs(10);

/// Events a slow listener may fall behind by before some are dropped (and logged).
const EVENT_CAPACITY: usize = 1 << 16;

/// One accepted call, waiting to be carried out.
pub(crate) type Job = Pin<Box<dyn Future<Output = ()> + Send>>;

/// What `TIMInit` was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Config {
    pub(crate) app_id: u64,
    pub(crate) data_dir: PathBuf,
}

impl Config {
    /// The directory of one user's store: `<data dir>/<app id>/<user id, made safe>`.
    pub(crate) fn user_dir(&self, user_id: &str) -> PathBuf {
        self.data_dir
            .join(self.app_id.to_string())
            .join(file_name_for(user_id))
    }
}

/// A directory name for a user ID: letters, digits, `-` and `_` stay, every other byte becomes
/// `%XX`, so that no two IDs share a directory and none can climb out (`..`, `/`).
pub(crate) fn file_name_for(user_id: &str) -> String {
    let mut name = String::with_capacity(user_id.len());
    for byte in user_id.bytes() {
        if byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_' {
            name.push(char::from(byte));
        } else {
            name.push_str(&format!("%{byte:02X}"));
        }
    }
    name
}

/// The default data directory: `$XDG_DATA_HOME/timconv`, else `$HOME/.local/share/timconv`,
/// else `timconv-data` in the current directory.
pub(crate) fn default_data_dir() -> PathBuf {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(data) = var("XDG_DATA_HOME") {
        return Path::new(&data).join("timconv");
    }
    if let Some(home) = var("HOME") {
        return Path::new(&home).join(".local/share/timconv");
    }
    PathBuf::from("timconv-data")
}

/// Whether a login is accepted, and which login or logout was accepted last.
#[derive(Debug, Default)]
struct LoginState {
    /// A login was accepted and no logout since (or the login failed).
    logged_in: bool,
    /// Counts accepted logins and logouts.
    generation: u64,
}

/// What the jobs share.
pub(crate) struct Core {
    pub(crate) config: Config,
    pub(crate) callbacks: Arc<CallbackThread>,
    login: Mutex<LoginState>,
    session: Mutex<Option<Session>>,
}

/// The logged-in user.
pub(crate) struct Session {
    pub(crate) user_id: String,
    pub(crate) manager: ConversationManager,
    forwarder: Forwarder,
    /// Subscribed filters: the watch that keeps each counted, and the text it was subscribed
    /// with (shared with the forwarder, which hands it to the listener).
    subscriptions: HashMap<ConversationFilter, UnreadStream>,
    pub(crate) filter_texts: Arc<Mutex<HashMap<ConversationFilter, String>>>,
}

impl Core {
    /// The logged-in user's manager, if any.
    pub(crate) fn manager(&self) -> Option<ConversationManager> {
        self.session().as_ref().map(|s| s.manager.clone())
    }

    /// Runs `f` on the session, if any.
    pub(crate) fn with_session<T>(&self, f: impl FnOnce(&mut Session) -> T) -> Option<T> {
        self.session().as_mut().map(f)
    }

    fn session(&self) -> std::sync::MutexGuard<'_, Option<Session>> {
        self.session.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn login_state(&self) -> std::sync::MutexGuard<'_, LoginState> {
        self.login.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether a login has been accepted (and no logout since).
    pub(crate) fn logged_in(&self) -> bool {
        self.login_state().logged_in
    }

    /// After a login or logout job: the accepted state follows what happened, unless another
    /// login or logout was accepted meanwhile (its own job settles it).
    fn settle(&self, generation: u64) {
        let mut state = self.login_state();
        if state.generation == generation {
            state.logged_in = self.session().is_some();
        }
    }

    /// Opens `user_id`'s store and starts forwarding its events.
    async fn login(self: &Arc<Self>, user_id: String) -> Outcome {
        if user_id.is_empty() {
            return Err(Failure::invalid("the user ID is empty"));
        }
        if let Some(current) = self.session().as_ref().map(|s| s.user_id.clone()) {
            return if current == user_id {
                Ok(String::new())
            } else {
                Err(Failure::invalid(format!(
                    "already logged in as {current:?}; log out first"
                )))
            };
        }
        let dir = self.config.user_dir(&user_id);
        let made = tokio::task::spawn_blocking({
            let dir = dir.clone();
            move || std::fs::create_dir_all(dir)
        })
        .await;
        match made {
            Ok(Ok(())) => {}
            Ok(Err(err)) => {
                return Err(Failure::new(
                    ErrorCode::IoFailed,
                    format!("cannot create the data directory {}: {err}", dir.display()),
                ));
            }
            Err(err) => return Err(Failure::new(ErrorCode::Internal, err.to_string())),
        }
        let manager = ConversationManager::builder()
            .sqlite(SqliteStoreOptions::new().filename(dir.join("conversations.db")))
            .self_user_id(user_id.clone())
            .event_capacity(EVENT_CAPACITY)
            .open()
            .await?;
        let filter_texts = Arc::new(Mutex::new(HashMap::new()));
        let forwarder = Forwarder::start(&manager, &self.callbacks, &filter_texts);
        tracing::debug!(conversations = manager.len(), "logged in");
        *self.session() = Some(Session {
            user_id,
            manager,
            forwarder,
            subscriptions: HashMap::new(),
            filter_texts,
        });
        Ok(String::new())
    }

    /// Closes the session, if any: the store is flushed and closed, and the events of the
    /// last changes reach the listeners before this returns.
    async fn logout(&self) -> Outcome {
        let session = self.session().take();
        if let Some(session) = session {
            let result = session.manager.shutdown().await;
            session.forwarder.stop().await;
            drop(session.subscriptions);
            if let Err(err) = result {
                tracing::warn!(error = %err, "closing the store failed");
                return Err(err.into());
            }
        }
        Ok(String::new())
    }
}

impl Session {
    /// Subscribes to `filter`'s unread count (once per equal filter), remembering `text`.
    pub(crate) fn subscribe(&mut self, filter: ConversationFilter, text: String) -> Outcome {
        if self.subscriptions.contains_key(&filter) {
            return Ok(String::new());
        }
        let watch = self.manager.watch_unread(&filter)?;
        self.filter_texts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(filter.clone(), text);
        self.subscriptions.insert(filter, watch);
        Ok(String::new())
    }

    /// Ends the subscription of `filter`, if any.
    pub(crate) fn unsubscribe(&mut self, filter: &ConversationFilter) {
        self.subscriptions.remove(filter);
        self.filter_texts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(filter);
    }
}

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
    let core = Arc::new(Core {
        config,
        callbacks,
        login: Mutex::new(LoginState::default()),
        session: Mutex::new(None),
    });
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
