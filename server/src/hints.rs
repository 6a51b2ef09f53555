//! Server pushes: the devices connected to this process, and how they learn of changes made
//! through any process.
//!
//! A [`Hub`] holds each connected device's event queue. A request that changes a user's state
//! tells the user's devices connected here at once (the pushing device excepted). Devices
//! connected to other processes learn of it:
//!
//! - over PostgreSQL, by a notification sent in the same transaction as the change (so it is
//!   delivered exactly when the change commits) on the `timconv_hints` channel, which every
//!   process listens to ([`listen`]);
//! - over SQLite, or while the PostgreSQL listener is reconnecting, by polling the versions
//!   of the users connected here ([`poll`]): a version newer than the last one this process
//!   saw means something changed elsewhere.
//!
//! Hints are only hints: a lost one costs a device its next periodic pull, never data.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use timconv::transport::ServerEvent;
use tokio::sync::mpsc;

use crate::db::Db;

/// How many events wait for one device before it is disconnected (it reconnects and pulls).
const QUEUE: usize = 256;

/// PostgreSQL refuses notification payloads of 8000 bytes or more.
const MAX_PAYLOAD: usize = 7900;

/// A hint as it travels between processes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Notice {
    /// The process that made the change.
    pub(crate) process: u64,
    /// The user whose state changed.
    pub(crate) user: String,
    /// The device that made it (not told again).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) device: Option<String>,
    /// The user's version before it.
    pub(crate) from: u64,
    /// The user's version after it.
    pub(crate) version: u64,
    /// What to send (a delivered message); `None`: "changed".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) event: Option<ServerEvent>,
}

impl Notice {
    pub(crate) fn new(
        process: u64,
        user: &str,
        device: Option<&str>,
        (from, version): (u64, u64),
        event: Option<ServerEvent>,
    ) -> Self {
        Self {
            process,
            user: user.to_owned(),
            device: device.map(str::to_owned),
            from,
            version,
            event,
        }
    }

    /// The JSON payload; a message too large for a notification travels as "changed" (the
    /// devices pull it).
    pub(crate) fn to_payload(&self) -> String {
        let full = serde_json::to_string(self).unwrap_or_default();
        if full.len() <= MAX_PAYLOAD && !full.is_empty() {
            return full;
        }
        let bare = Self {
            event: None,
            ..self.clone()
        };
        serde_json::to_string(&bare).unwrap_or_default()
    }
}

struct Connection {
    id: u64,
    device: String,
    queue: mpsc::Sender<ServerEvent>,
}

#[derive(Default)]
struct UserLinks {
    /// The newest version of the user this process has told its devices of.
    seen: u64,
    connections: Vec<Connection>,
}

/// The devices connected to this process, by user. Cheap to clone.
#[derive(Clone, Default)]
pub struct Hub {
    users: Arc<Mutex<HashMap<String, UserLinks>>>,
    next_id: Arc<AtomicU64>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("users", &self.lock().len())
            .finish()
    }
}

/// A device's subscription: its queue of events, until dropped.
pub struct Subscription {
    hub: Hub,
    user: String,
    id: u64,
    /// The events for the device; ends when the hub drops the device (replaced or too slow).
    pub events: mpsc::Receiver<ServerEvent>,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut users = self.hub.lock();
        if let Some(links) = users.get_mut(&self.user) {
            links.connections.retain(|c| c.id != self.id);
            if links.connections.is_empty() {
                users.remove(&self.user);
            }
        }
    }
}

impl Hub {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, UserLinks>> {
        self.users.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Connects `device` of `user`, whose version is `version`, ending its previous
    /// connection here, as a device has one event stream.
    pub fn subscribe(&self, user: &str, device: &str, version: u64) -> Subscription {
        let (tx, rx) = mpsc::channel(QUEUE);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut users = self.lock();
        let links = users.entry(user.to_owned()).or_default();
        links.seen = links.seen.max(version);
        links.connections.retain(|c| c.device != device);
        links.connections.push(Connection {
            id,
            device: device.to_owned(),
            queue: tx,
        });
        Subscription {
            hub: self.clone(),
            user: user.to_owned(),
            id,
            events: rx,
        }
    }

    /// Sends `event` to `user`'s devices connected here, except `except`, about a change
    /// that took the user's version from `from` to `to`. If this process had told its
    /// devices of everything up to `from`, they now know of everything up to `to`; otherwise
    /// a change made elsewhere lies between, and the next poll still reports it. A device
    /// whose queue is full is disconnected.
    pub fn publish(
        &self,
        user: &str,
        except: Option<&str>,
        (from, to): (u64, u64),
        event: &ServerEvent,
    ) {
        let mut users = self.lock();
        let Some(links) = users.get_mut(user) else {
            return;
        };
        if links.seen >= from {
            links.seen = links.seen.max(to);
        }
        links.connections.retain(|c| {
            if except == Some(c.device.as_str()) {
                return true;
            }
            match c.queue.try_send(event.clone()) {
                Ok(()) => true,
                Err(err) => {
                    tracing::debug!(user, device = %c.device, error = %err, "dropping a device");
                    false
                }
            }
        });
    }

    /// A user's version as read elsewhere: if it is newer than what this process told its
    /// devices, they hear "changed".
    pub fn observe(&self, user: &str, version: u64) {
        let newer = self.lock().get(user).is_some_and(|l| version > l.seen);
        if newer {
            self.publish(user, None, (0, version), &ServerEvent::Changed);
        }
    }

    /// The users with a device connected here.
    #[must_use]
    pub fn users(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }

    /// How many devices are connected here.
    #[must_use]
    pub fn connections(&self) -> usize {
        self.lock().values().map(|l| l.connections.len()).sum()
    }
}

/// Polls the versions of the users connected here every `every`, telling their devices of
/// changes made elsewhere. Runs until the task is dropped.
pub async fn poll(db: Db, hub: Hub, every: Duration) {
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        poll_once(&db, &hub).await;
    }
}

async fn poll_once(db: &Db, hub: &Hub) {
    let users = hub.users();
    if users.is_empty() {
        return;
    }
    match db.versions(&users).await {
        Ok(versions) => {
            for (user, version) in versions {
                hub.observe(&user, version);
            }
        }
        Err(err) => tracing::warn!(error = %err, "polling versions failed"),
    }
}

/// Listens to the PostgreSQL channel at `url`, relaying other processes' hints to the devices
/// connected here; while the listener is down (and once after it comes back, since hints
/// may have been lost meanwhile), polls every `every` instead. Runs until the task is dropped.
pub async fn listen(url: String, db: Db, hub: Hub, process: u64, every: Duration) {
    loop {
        let mut listener = match sqlx::postgres::PgListener::connect(&url).await {
            Ok(l) => l,
            Err(err) => {
                tracing::warn!(error = %err, "cannot listen for hints; polling");
                poll_for(&db, &hub, every, every * 10).await;
                continue;
            }
        };
        if let Err(err) = listener.listen(crate::db::CHANNEL).await {
            tracing::warn!(error = %err, "cannot listen for hints; polling");
            poll_for(&db, &hub, every, every * 10).await;
            continue;
        }
        // Whatever happened while not listening.
        poll_once(&db, &hub).await;
        loop {
            match listener.try_recv().await {
                Ok(Some(notification)) => relay(&hub, process, notification.payload()),
                Ok(None) => {
                    // The connection dropped and will be re-established: hints may be lost.
                    tracing::debug!("hint listener reconnecting");
                    poll_once(&db, &hub).await;
                }
                Err(err) => {
                    tracing::warn!(error = %err, "hint listener failed; polling");
                    poll_for(&db, &hub, every, every * 10).await;
                    break;
                }
            }
        }
    }
}

async fn poll_for(db: &Db, hub: &Hub, every: Duration, total: Duration) {
    let until = tokio::time::Instant::now() + total;
    while tokio::time::Instant::now() < until {
        poll_once(db, hub).await;
        tokio::time::sleep(every).await;
    }
}

fn relay(hub: &Hub, process: u64, payload: &str) {
    let notice: Notice = match serde_json::from_str(payload) {
        Ok(n) => n,
        Err(err) => {
            tracing::debug!(error = %err, "ignoring a malformed hint");
            return;
        }
    };
    if notice.process == process {
        return;
    }
    let event = notice.event.unwrap_or(ServerEvent::Changed);
    hub.publish(
        &notice.user,
        notice.device.as_deref(),
        (notice.from, notice.version),
        &event,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_device_hears_of_others_changes_only() {
        let hub = Hub::default();
        let mut phone = hub.subscribe("alice", "phone", 0);
        let mut laptop = hub.subscribe("alice", "laptop", 0);
        let mut bob = hub.subscribe("bob", "phone", 0);
        hub.publish("alice", Some("phone"), (0, 1), &ServerEvent::Changed);
        assert_eq!(laptop.events.recv().await, Some(ServerEvent::Changed));
        assert!(phone.events.try_recv().is_err());
        assert!(bob.events.try_recv().is_err());
        // An older version observed elsewhere says nothing; a newer one does.
        hub.observe("alice", 1);
        assert!(laptop.events.try_recv().is_err());
        hub.observe("alice", 2);
        assert_eq!(phone.events.recv().await, Some(ServerEvent::Changed));
        // A change from 5 to 6 here does not cover the one from 2 to 5 made elsewhere.
        hub.publish("alice", Some("phone"), (5, 6), &ServerEvent::Changed);
        assert_eq!(laptop.events.recv().await, Some(ServerEvent::Changed));
        hub.observe("alice", 6);
        assert_eq!(phone.events.recv().await, Some(ServerEvent::Changed));
        assert_eq!(laptop.events.recv().await, Some(ServerEvent::Changed));
        hub.observe("alice", 6);
        assert!(phone.events.try_recv().is_err());
        // A device connecting again ends its previous stream.
        let _again = hub.subscribe("alice", "phone", 6);
        assert_eq!(phone.events.recv().await, None);
        drop(laptop);
        assert_eq!(hub.connections(), 2);
    }

    #[test]
    fn a_hint_from_this_process_is_not_relayed_twice() {
        let hub = Hub::default();
        let mut laptop = hub.subscribe("alice", "laptop", 0);
        relay(
            &hub,
            7,
            &Notice::new(7, "alice", None, (2, 3), None).to_payload(),
        );
        assert!(laptop.events.try_recv().is_err());
        relay(
            &hub,
            7,
            &Notice::new(8, "alice", None, (2, 3), None).to_payload(),
        );
        assert_eq!(laptop.events.try_recv().ok(), Some(ServerEvent::Changed));
        relay(&hub, 7, "not json");
    }
}
