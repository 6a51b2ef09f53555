//! The logged-in user: their manager, the task that hands their events to the listeners, and
//! their unread subscriptions; logging in and out.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use timconv::{
    ConversationFilter, ConversationManager, ErrorCode, SqliteStoreOptions, UnreadStream,
};

use crate::codes::{Failure, Outcome};
use crate::data_dir::Config;
use crate::delivery::CallbackThread;
use crate::forwarder::Forwarder;

/// Events a slow listener may fall behind by before some are dropped (and logged).
const EVENT_CAPACITY: usize = 1 << 16;

/// Whether a login is accepted, and which login or logout was accepted last.
#[derive(Debug, Default)]
pub(crate) struct LoginState {
    /// A login was accepted and no logout since (or the login failed).
    pub(crate) logged_in: bool,
    /// Counts accepted logins and logouts.
    pub(crate) generation: u64,
}

/// What the jobs share.
pub(crate) struct Core {
    pub(crate) config: Config,
    pub(crate) callbacks: Arc<CallbackThread>,
    login: Mutex<LoginState>,
    session: Mutex<Option<Session>>,
}

impl Core {
    /// The state of a fresh initialisation: nobody logged in.
    pub(crate) fn new(config: Config, callbacks: Arc<CallbackThread>) -> Self {
        Self {
            config,
            callbacks,
            login: Mutex::new(LoginState::default()),
            session: Mutex::new(None),
        }
    }
}

/// The logged-in user.
pub(crate) struct Session {
    pub(crate) user_id: String,
    pub(crate) manager: ConversationManager,
    forwarder: Forwarder,
    /// Subscribed filters: the watch that keeps each counted.
    subscriptions: HashMap<ConversationFilter, UnreadStream>,
    /// The text each filter was last subscribed with (shared with the forwarder, which hands it
    /// to the listener). Kept after unsubscribing, for the session: an event committed before
    /// the unsubscribe may reach the forwarder after it, and still carries that text.
    pub(crate) filter_texts: Arc<Mutex<HashMap<ConversationFilter, String>>>,
}

impl Core {
    /// The logged-in user's manager, if any.
    pub(crate) fn manager(&self) -> Option<ConversationManager> {
        self.session().as_ref().map(|s| s.manager.clone())
    }

    /// Posts to the callback thread the events of every change made so far that are not
    /// posted yet (nothing without a session). A call's job does this before posting its
    /// callback, so that the callback comes after the listeners' calls for the call's change.
    pub(crate) fn post_events(&self) {
        if let Some(session) = self.session().as_ref() {
            session.forwarder.catch_up();
        }
    }

    /// Runs `f` on the session, if any.
    pub(crate) fn with_session<T>(&self, f: impl FnOnce(&mut Session) -> T) -> Option<T> {
        self.session().as_mut().map(f)
    }

    pub(crate) fn session(&self) -> MutexGuard<'_, Option<Session>> {
        self.session.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn login_state(&self) -> MutexGuard<'_, LoginState> {
        self.login.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether a login has been accepted (and no logout since).
    pub(crate) fn logged_in(&self) -> bool {
        self.login_state().logged_in
    }

    /// After a login or logout job: the accepted state follows what happened, unless another
    /// login or logout was accepted meanwhile (its own job settles it).
    pub(crate) fn settle(&self, generation: u64) {
        let mut state = self.login_state();
        if state.generation == generation {
            state.logged_in = self.session().is_some();
        }
    }

    /// Opens `user_id`'s store and starts forwarding its events.
    pub(crate) async fn login(self: &Arc<Self>, user_id: String) -> Outcome {
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
    pub(crate) async fn logout(&self) -> Outcome {
        let session = self.session().take();
        if let Some(session) = session {
            let result = session.manager.shutdown().await;
            session.forwarder.stop().await;
            drop(session.subscriptions);
            if let Err(err) = result {
                tracing::warn!(error = %err.report(), "closing the store failed");
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

    /// Ends the subscription of `filter`, if any. Its text stays known (see `filter_texts`):
    /// the events of changes made before this still name the filter as it was subscribed.
    pub(crate) fn unsubscribe(&mut self, filter: &ConversationFilter) {
        self.subscriptions.remove(filter);
    }
}
