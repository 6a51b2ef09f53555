//! The sync property (every device converges to the server's state): random operations on
//! two devices of one user, random server deliveries, random faults (dropped, delayed, duplicated requests
//! and events, disconnects), random offline periods and restarts of a device (reopening its
//! SQLite file). Once faults stop and both devices have synced:
//!
//! - both devices equal the server and each other on everything that roams (conversations,
//!   pin, marks, custom data, groups and memberships, read positions and so unread, last
//!   message);
//! - counters equal a recount on both;
//! - every operation a device pushed was applied (or rejected) by the server exactly once, and
//!   the server applied nothing no device pushed; nothing is left in an outbox; each rejection
//!   was reported to its device once (`Event::OperationRejected`);
//! - drafts stayed on the device that wrote them.
//!
//! `TIMCONV_SYNC_SEEDS=N` runs N seeds (default 300), from `TIMCONV_SYNC_SEED_BASE` on; the
//! seeds in `tests/sync-regressions.txt` run first, every time. A failing seed is printed; add
//! it there. `TIMCONV_SYNC_TRACE=<seed>` prints what that seed does.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use timconv::store::Store;
use timconv::transport::OpId;
use timconv::transport::loopback::{Faults, LoopbackServer};
use timconv::{
    CleanTarget, ConversationId, ConversationManager, Draft, Event, Limits, MarkFlags, Message,
    SqliteStoreOptions,
};

use crate::common::{Rng, TempDir, check_consistent, id, incoming, invariant_filters, outgoing};
use crate::sync::{Hooked, USER, device_view, open_device, server_view, settle};

const DEFAULT_SEEDS: u64 = 300;
const STEPS: usize = 40;

struct Device {
    name: &'static str,
    path: PathBuf,
    transport: Hooked,
    /// Every operation ID the device pushed.
    pushed: Arc<Mutex<BTreeSet<OpId>>>,
    manager: Option<ConversationManager>,
    online: bool,
    /// Rejections reported to this device (over all its restarts).
    rejections: Arc<AtomicUsize>,
}

/// Opens a device and counts the rejections it reports.
async fn start(
    path: &std::path::Path,
    transport: &Hooked,
    rejections: &Arc<AtomicUsize>,
) -> ConversationManager {
    let manager = open_device(path, transport.clone(), LIMITS()).await;
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

impl Device {
    fn manager(&self) -> Result<&ConversationManager, String> {
        self.manager
            .as_ref()
            .ok_or_else(|| format!("{} is not open", self.name))
    }
}

const LIMITS: fn() -> Limits = || Limits::default().with_max_pinned(2).with_max_groups(3);

fn seeds() -> Vec<u64> {
    let count = std::env::var("TIMCONV_SYNC_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_SEEDS);
    let regressions = include_str!("../sync-regressions.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.parse().ok());
    let base = std::env::var("TIMCONV_SYNC_SEED_BASE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_0000_u64);
    regressions.chain((0..count).map(|n| base + n)).collect()
}

#[test]
fn devices_converge_under_faults_and_restarts() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let failures: Vec<(u64, String)> = runtime.block_on(async {
        futures::stream::iter(seeds())
            .map(|seed| async move { (seed, run(seed).await) })
            .buffer_unordered(4)
            .filter_map(|(seed, result)| async move { result.err().map(|e| (seed, e)) })
            .collect()
            .await
    });
    assert!(
        failures.is_empty(),
        "failing seeds (keep them in tests/sync-regressions.txt):\n{failures:#?}"
    );
}

async fn run(seed: u64) -> Result<(), String> {
    let dir = TempDir::new("sync-prop");
    let server = LoopbackServer::with_limits(LIMITS());
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
        let inner = server.transport(USER, name);
        inner.set_faults(Some(Faults::chaos(seed ^ ((n as u64 + 1) * 0x1234_5678))));
        let pushed: Arc<Mutex<BTreeSet<OpId>>> = Arc::default();
        let record = Arc::clone(&pushed);
        let transport = Hooked::new(inner).on_push(move |ops| {
            if let Ok(mut ids) = record.lock() {
                ids.extend(ops.iter().map(|p| p.id.clone()));
            }
            None
        });
        let path = dir.path(&format!("{name}.db"));
        let rejections = Arc::new(AtomicUsize::new(0));
        let manager = start(&path, &transport, &rejections).await;
        devices.push(Device {
            name,
            path,
            transport,
            pushed,
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
        server.deliver(USER, c, m.clone());
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
                server.deliver(USER, &conv, message.clone());
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
                    2 => crate::common::set_marks(&m, &[conv, other], bit, rng.below(3) != 0)
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
                    9 => {
                        m.delete(&conv, crate::common::history(rng.below(2) == 0))
                            .await
                    }
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
                let m = start(&dev.path, &dev.transport, &dev.rejections).await;
                dev.manager = Some(m);
            }
            85..=92 => {
                let dev = &mut devices[d];
                dev.online = !dev.online;
                dev.transport.inner.set_online(dev.online);
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

    let expected = server_view(&server);
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
    let applied = server.applied(USER);
    let applied_set: BTreeSet<OpId> = applied.iter().cloned().collect();
    if applied_set.len() != applied.len() {
        return Err("the server applied an operation twice".into());
    }
    let mut pushed = BTreeSet::new();
    for dev in &devices {
        pushed.extend(dev.pushed.lock().map_err(|_| "lock")?.iter().cloned());
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
    let rejected = applied
        .iter()
        .filter(|op| {
            matches!(
                server.outcome(USER, op),
                Some(timconv::transport::OpOutcome::Rejected { .. })
            )
        })
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
fn trace(seed: u64, line: impl FnOnce() -> String) {
    if std::env::var("TIMCONV_SYNC_TRACE").is_ok_and(|s| s == seed.to_string()) {
        eprintln!("[{seed}] {}", line());
    }
}

/// The conversations (and group lists) on which two roaming views differ.
fn diff(device: &crate::sync::RoamingView, server: &crate::sync::RoamingView) -> String {
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
