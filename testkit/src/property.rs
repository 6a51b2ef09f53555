//! The sync property (devices converge, each operation applies once), generic over how devices
//! reach the server (a [`World`]): random operations on two devices of one user, random server
//! deliveries, random faults (dropped, delayed, duplicated requests and events, disconnects),
//! random offline periods and restarts of a device (reopening its SQLite file). Once faults stop
//! and both devices have synced:
//!
//! - both devices equal the server and each other on everything that roams (conversations,
//!   pin, marks, custom data, folders and memberships, read positions and so unread, last
//!   message);
//! - counters equal a recount on both;
//! - every operation a device pushed was applied (or rejected) by the server exactly once, and
//!   the server applied nothing no device pushed; nothing is left in an outbox; each rejection
//!   was reported to its device once (`Event::OperationRejected`);
//! - drafts stayed on the device that wrote them.
//!
//! `tests/it/sync_properties.rs` runs it against the loopback server (its faults built in);
//! `server/tests/sync_properties.rs` over HTTP and a WebSocket to a `timconv-server`, the
//! faults injected around the network transport by a [`FaultyTransport`]. Which seeds run is
//! [`Seeds`]; a failing seed replays with `TIMCONV_SYNC_SEED=<seed>`, and
//! `TIMCONV_SYNC_TRACE=<seed>` prints what it does.

use std::collections::BTreeSet;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::StreamExt;
use timconv::store::Store;
use timconv::transport::loopback::{Faults, FaultyTransport, LoopbackTransport, ServerState};
use timconv::transport::{OpId, OpOutcome, Transport};
use timconv::{
    CleanTarget, ConversationId, ConversationManager, Draft, Event, Limits, MarkFlags, Message,
    SqliteStoreOptions,
};

use crate::sync::{Recording, RoamingView, device_view, open_device, settle, state_view};
use crate::{Rng, TempDir, check_consistent, id, incoming, invariant_filters, outgoing};

/// Steps of random activity per seed.
pub const STEPS: usize = 40;

/// The server's limits in the property: low, so that rejections happen.
#[must_use]
pub fn limits() -> Limits {
    Limits::default().with_max_pinned(2).with_max_groups(3)
}

/// The user the devices sign in as (the manager's own user ID).
pub const USER: &str = "alice";

/// A transport whose faults and connectivity a test switches.
pub trait Switches {
    /// Takes it offline (`false`) or back online.
    fn set_online(&self, online: bool);
    /// Sets the faults from now on (`None`: none).
    fn set_faults(&self, faults: Option<Faults>);
}

impl Switches for LoopbackTransport {
    fn set_online(&self, online: bool) {
        LoopbackTransport::set_online(self, online);
    }

    fn set_faults(&self, faults: Option<Faults>) {
        LoopbackTransport::set_faults(self, faults);
    }
}

impl<T: Transport> Switches for FaultyTransport<T> {
    fn set_online(&self, online: bool) {
        FaultyTransport::set_online(self, online);
    }

    fn set_faults(&self, faults: Option<Faults>) {
        FaultyTransport::set_faults(self, faults);
    }
}

/// A server with one user for one seed, and how that user's devices reach it.
pub trait World {
    /// A device's session with the server.
    type Transport: Transport + Switches + Clone;

    /// A new session for device `name` of the user: online, without faults, enforcing
    /// [`limits`] on the server.
    fn transport(&self, name: &str) -> Self::Transport;

    /// The server receives `message` for the user in `conversation` (as the loopback's
    /// `deliver`), and tells the user's connected devices.
    fn deliver(
        &self,
        conversation: &ConversationId,
        message: Message,
    ) -> impl Future<Output = Result<(), String>>;

    /// The user's state on the server: every live conversation as a full pull shows it, and
    /// the group names (tombstones are not compared).
    fn state(&self) -> impl Future<Output = Result<ServerState, String>>;

    /// Every operation the server received for the user, in the order it first did, with its
    /// outcome (an operation received twice must appear once).
    fn outcomes(&self) -> impl Future<Output = Result<Vec<(OpId, OpOutcome)>, String>>;
}

/// Which seeds a run takes: the ones kept in a regressions file first (one decimal seed a
/// line, `#` comments), then `count` seeds from `base`. `TIMCONV_SYNC_SEED=<seed>` runs that
/// seed alone, to replay a failure.
#[derive(Debug, Clone)]
pub struct Seeds {
    /// The regressions file's text.
    pub regressions: &'static str,
    /// How many new seeds, unless the environment variable `count_var` says otherwise.
    pub count: u64,
    /// The variable that overrides `count`.
    pub count_var: &'static str,
    /// The first new seed, unless the environment variable `base_var` says otherwise.
    pub base: u64,
    /// The variable that overrides `base`.
    pub base_var: &'static str,
}

impl Seeds {
    /// The seeds to run, in order.
    #[must_use]
    pub fn list(&self) -> Vec<u64> {
        let var = |name: &str| std::env::var(name).ok().and_then(|s| s.parse().ok());
        if let Some(one) = var("TIMCONV_SYNC_SEED") {
            return vec![one];
        }
        let count = var(self.count_var).unwrap_or(self.count);
        let base = var(self.base_var).unwrap_or(self.base);
        let regressions = self
            .regressions
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .filter_map(|l| l.parse().ok());
        regressions.chain((0..count).map(|n| base + n)).collect()
    }
}

/// Runs `seeds`, `parallel` at a time, each through `run_one`; returns the failing seeds
/// with what failed.
pub async fn run_seeds<F, Fut>(seeds: Vec<u64>, parallel: usize, run_one: F) -> Vec<(u64, String)>
where
    F: Fn(u64) -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let run_one = &run_one;
    futures::stream::iter(seeds)
        .map(|seed| async move { (seed, run_one(seed).await) })
        .buffer_unordered(parallel.max(1))
        .filter_map(|(seed, result)| async move { result.err().map(|e| (seed, e)) })
        .collect()
        .await
}

struct Device<T> {
    name: &'static str,
    path: PathBuf,
    transport: Recording<T>,
    manager: Option<ConversationManager>,
    online: bool,
    /// Rejections reported to this device (over all its restarts).
    rejections: Arc<AtomicUsize>,
}

impl<T> Device<T> {
    fn manager(&self) -> Result<&ConversationManager, String> {
        self.manager
            .as_ref()
            .ok_or_else(|| format!("{} is not open", self.name))
    }
}

/// Opens a device and counts the rejections it reports.
async fn start(
    path: &std::path::Path,
    transport: impl Transport,
    rejections: &Arc<AtomicUsize>,
) -> ConversationManager {
    let manager = open_device(path, USER, transport, limits()).await;
    let mut events = manager.events();
    let count = Arc::clone(rejections);
    tokio::spawn(async move {
        while let Some(event) = events.next().await {
            match event {
                Ok(Event::OperationRejected { .. }) => {
                    count.fetch_add(1, Ordering::SeqCst);
                }
                // Missing a rejection would make the count check fail: say so loudly.
                Err(lagged) => panic!("the rejection counter lagged: {lagged}"),
                Ok(_) => {}
            }
        }
    });
    manager
}

/// One seed of the property in `world`.
pub async fn run<W: World>(seed: u64, world: &W) -> Result<(), String> {
    let dir = TempDir::new("sync-prop");
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let convs: Vec<ConversationId> = [
        "c2c_u0", "c2c_u1", "c2c_u2", "c2c_u3", "group_g0", "group_g1",
    ]
    .iter()
    .map(|c| id(c))
    .collect();
    let groups = ["a", "b", "c", "d"];
    let bits = [
        MarkFlags::STAR,
        MarkFlags::FOLD,
        MarkFlags::extension(33).ok_or("bit 33")?,
    ];
    let mut devices = Vec::new();
    for (n, name) in ["a", "b"].into_iter().enumerate() {
        let inner = world.transport(name);
        inner.set_faults(Some(Faults::chaos(seed ^ ((n as u64 + 1) * 0x1234_5678))));
        let transport = Recording::new(inner);
        let path = dir.path(&format!("{name}.db"));
        let rejections = Arc::new(AtomicUsize::new(0));
        let manager = start(&path, transport.clone(), &rejections).await;
        devices.push(Device {
            name,
            path,
            transport,
            manager: Some(manager),
            online: true,
            rejections,
        });
    }
    let mut position = 100;
    let mut delivered: Vec<(ConversationId, Message)> = Vec::new();
    for c in convs.iter().take(3) {
        position += 1;
        let m = incoming(&format!("m{position}"), position);
        world.deliver(c, m.clone()).await?;
        delivered.push((c.clone(), m));
    }

    for step in 0..STEPS {
        let roll = rng.below(100);
        let d = rng.below(2) as usize;
        let conv = rng.pick(&convs).clone();
        match roll {
            0..=14 => {
                // The server delivers a message: new (incoming or own), or a replay.
                let message = if rng.below(6) == 0 && !delivered.is_empty() {
                    rng.pick(&delivered).1.clone()
                } else {
                    position += 1 + rng.below(3);
                    let msg_id = format!("m{position}");
                    if rng.below(5) == 0 {
                        outgoing(&msg_id, position)
                    } else {
                        incoming(&msg_id, position)
                    }
                };
                world.deliver(&conv, message.clone()).await?;
                delivered.push((conv, message));
            }
            15..=74 => {
                let m = devices[d].manager()?.clone();
                let other = rng.pick(&convs).clone();
                let group = *rng.pick(&groups);
                let new_name = *rng.pick(&groups);
                let bit = *rng.pick(&bits);
                // Errors are fine (not found, limits): an operation that fails changes nothing.
                let kind = rng.below(13);
                let target = format!("{kind} {conv} {other} {group}");
                let result = match kind {
                    0 => m.pin(&conv).await.map(drop),
                    1 => m.unpin(&conv).await.map(drop),
                    2 => crate::set_marks(&m, &[conv, other], bit, rng.below(3) != 0)
                        .await
                        .map(drop),
                    3 => {
                        let data = match rng.below(3) {
                            0 => Vec::new(),
                            n => vec![n as u8, step as u8],
                        };
                        m.set_custom_data(&[conv], data).await.map(drop)
                    }
                    4 => m.create_folder(group, &[conv, other]).await.map(drop),
                    5 => m.delete_folder(group).await,
                    6 => m.rename_folder(group, new_name).await,
                    7 => m.add_to_folder(group, &[conv]).await.map(drop),
                    8 => m.remove_from_folder(group, &[conv]).await.map(drop),
                    9 => m.delete(&conv, crate::history(rng.below(2) == 0)).await,
                    10 => {
                        m.clean_unread(
                            CleanTarget::Conversation(conv),
                            timconv::ReadUpTo::Everything,
                        )
                        .await
                    }
                    11 => {
                        m.clean_unread(CleanTarget::All, timconv::ReadUpTo::Everything)
                            .await
                    }
                    _ => {
                        let text = format!("draft of device {}", devices[d].name);
                        m.set_draft(&conv, Draft::new(Message::text("", text), "", step as u64))
                            .await
                    }
                };
                trace(seed, || {
                    format!("{step} {} op {target}: {result:?}", devices[d].name)
                });
            }
            75..=84 => {
                // Restart: the file is reopened; the outbox must still be there.
                let dev = &mut devices[d];
                let m = dev.manager.take().ok_or("not open")?;
                m.shutdown().await.map_err(|e| format!("shutdown: {e}"))?;
                let pending = m.pending_operations();
                drop(m);
                let store = SqliteStoreOptions::new()
                    .filename(&dev.path)
                    .open()
                    .await
                    .map_err(|e| format!("reopen: {e}"))?;
                let stored = store.load().await.map_err(|e| format!("load: {e}"))?;
                store.close().await.map_err(|e| format!("close: {e}"))?;
                if stored.sync_records.len() != pending {
                    return Err(format!(
                        "{} had {pending} operations waiting but {} on disk",
                        dev.name,
                        stored.sync_records.len()
                    ));
                }
                trace(seed, || format!("{step} {} restarts", dev.name));
                let m = start(&dev.path, dev.transport.clone(), &dev.rejections).await;
                dev.manager = Some(m);
            }
            85..=92 => {
                let dev = &mut devices[d];
                dev.online = !dev.online;
                dev.transport.inner.set_online(dev.online);
                trace(seed, || {
                    format!("{step} {} online {}", dev.name, dev.online)
                });
            }
            _ => tokio::time::sleep(Duration::from_millis(1 + rng.below(4))).await,
        }
        if rng.below(4) == 0 {
            tokio::task::yield_now().await;
        }
    }

    for dev in &devices {
        dev.transport.inner.set_faults(None);
        dev.transport.inner.set_online(true);
    }
    let a = devices[0].manager()?;
    let b = devices[1].manager()?;
    settle(&[a, b]).await?;

    let expected = state_view(&world.state().await?);
    for dev in &devices {
        let m = dev.manager()?;
        let mut view = device_view(m);
        // A draft may create a conversation (a user starts writing to someone new); such a
        // conversation exists only on its device until something that roams happens to it.
        for c in m.conversations() {
            if c.draft.is_some()
                && c.last_message.is_none()
                && !expected.0.contains_key(c.id.as_str())
            {
                view.0.remove(c.id.as_str());
            }
        }
        if view != expected {
            return Err(format!(
                "device {} differs from the server: {}",
                dev.name,
                diff(&view, &expected)
            ));
        }
        check_consistent(m, &invariant_filters(), 3).map_err(|e| format!("{}: {e}", dev.name))?;
        if m.pending_operations() != 0 {
            return Err(format!("{} still has operations to push", dev.name));
        }
        let other = if dev.name == "a" { "b" } else { "a" };
        for c in m.conversations() {
            if let Some(draft) = &c.draft
                && draft
                    .msg
                    .text_content()
                    .is_some_and(|t| t.ends_with(&format!("device {other}")))
            {
                return Err(format!("{}'s draft reached {}", other, dev.name));
            }
        }
    }
    let outcomes = world.outcomes().await?;
    let applied_set: BTreeSet<OpId> = outcomes.iter().map(|(id, _)| id.clone()).collect();
    if applied_set.len() != outcomes.len() {
        return Err("the server applied an operation twice".into());
    }
    let mut pushed = BTreeSet::new();
    for dev in &devices {
        pushed.extend(dev.transport.pushed());
    }
    if pushed != applied_set {
        return Err(format!(
            "pushed and applied differ: pushed only {:?}, applied only {:?}",
            pushed.difference(&applied_set).collect::<Vec<_>>(),
            applied_set.difference(&pushed).collect::<Vec<_>>()
        ));
    }
    // Every rejection was reported to the device that made the operation, once.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let rejected = outcomes
        .iter()
        .filter(|(_, outcome)| matches!(outcome, OpOutcome::Rejected { .. }))
        .count();
    let reported: usize = devices
        .iter()
        .map(|d| d.rejections.load(Ordering::SeqCst))
        .sum();
    if reported != rejected {
        return Err(format!(
            "the server rejected {rejected} operations but {reported} rejections were reported"
        ));
    }
    for dev in devices {
        if let Some(m) = dev.manager {
            m.shutdown().await.map_err(|e| format!("shutdown: {e}"))?;
        }
    }
    Ok(())
}

/// Prints what a seed does when `TIMCONV_SYNC_TRACE` names it.
pub fn trace(seed: u64, line: impl FnOnce() -> String) {
    if std::env::var("TIMCONV_SYNC_TRACE").is_ok_and(|s| s == seed.to_string()) {
        eprintln!("[{seed}] {}", line());
    }
}

/// The conversations (and group lists) on which two roaming views differ.
#[must_use]
pub fn diff(device: &RoamingView, server: &RoamingView) -> String {
    let mut out = String::new();
    let ids: BTreeSet<&String> = device.0.keys().chain(server.0.keys()).collect();
    for id in ids {
        let (d, s) = (device.0.get(id), server.0.get(id));
        if d != s {
            out.push_str(&format!("\n  {id}: device {d:?}\n  {id}: server {s:?}"));
        }
    }
    if device.1 != server.1 {
        out.push_str(&format!(
            "\n  folders: device {:?}, server {:?}",
            device.1, server.1
        ));
    }
    out
}
