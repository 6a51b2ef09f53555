//! The sync property over the network: the generators and checks of
//! `timconv_testkit::property` (the ones `tests/it/sync_properties.rs` runs against the
//! loopback), with two devices of one user reaching a `timconv-server` over HTTP and a
//! WebSocket (`NetworkTransport`). The loopback's seeded faults are injected around the network
//! transport by a `FaultyTransport`: dropped requests, dropped answers (the server applied the
//! call; the device retries it), duplicated requests (made twice for real), delays, event
//! sockets dropped (the WebSocket closes) and dropped, duplicated or reordered events, offline
//! periods, and device restarts. Afterwards both devices equal a full pull of the server and
//! each other, counters equal a recount, the server holds exactly one outcome for each pushed
//! operation, and drafts stayed home.
//!
//! One server (in this process, on 127.0.0.1) serves every seed, each seed as its own user:
//! over a SQLite file in a temporary directory, and over PostgreSQL when
//! `TIMCONV_TEST_POSTGRES_URL` is set (skipped loudly otherwise). `TIMCONV_NET_SYNC_SEEDS=N`
//! runs N seeds on each (default 24), from `TIMCONV_NET_SYNC_SEED_BASE` on; the seeds in
//! `server/tests/sync-regressions.txt` run first. `TIMCONV_SYNC_SEED=<seed>` runs that seed
//! alone (both tests), `TIMCONV_SYNC_TRACE=<seed>` prints what it does. Timing over a real
//! network stack is not replayed, so a seed that failed once may pass again: run it a few times.

mod common;

use std::time::Duration;

use timconv::transport::loopback::{FaultyTransport, ServerState};
use timconv::transport::network::{NetworkOptions, NetworkTransport};
use timconv::transport::{OpId, OpOutcome};
use timconv::{ConversationId, Message};
use timconv_server::Running;
use timconv_testkit::TempDir;
use timconv_testkit::property::{self, Seeds, World};
use timconv_testkit::sync::pulled_state;

use common::{Raw, token, unique};

/// One user of a shared server, for one seed.
struct Network<'a> {
    server: &'a Running,
    raw: &'a Raw,
    user: String,
}

fn network_options() -> NetworkOptions {
    NetworkOptions::default()
        .request_timeout(Duration::from_secs(10))
        .connect_timeout(Duration::from_secs(5))
}

impl World for Network<'_> {
    type Transport = FaultyTransport<NetworkTransport>;

    fn transport(&self, name: &str) -> Self::Transport {
        let inner = NetworkTransport::with_options(
            &self.server.url(),
            &token(&self.user),
            name,
            network_options(),
        )
        .expect("a network transport");
        FaultyTransport::new(name, inner)
    }

    async fn deliver(&self, conversation: &ConversationId, message: Message) -> Result<(), String> {
        let (status, body) = self
            .raw
            .deliver(&self.user, conversation.as_str(), &message)
            .await;
        if status == 200 {
            Ok(())
        } else {
            Err(format!("delivering failed: {status} {body}"))
        }
    }

    async fn state(&self) -> Result<ServerState, String> {
        let observer = NetworkTransport::with_options(
            &self.server.url(),
            &token(&self.user),
            "observer",
            network_options(),
        )
        .map_err(|e| e.to_string())?;
        pulled_state(&observer, 100).await
    }

    async fn outcomes(&self) -> Result<Vec<(OpId, OpOutcome)>, String> {
        self.server
            .db()
            .outcomes(&self.user)
            .await
            .map_err(|e| e.to_string())
    }
}

fn seeds() -> Vec<u64> {
    Seeds {
        regressions: include_str!("sync-regressions.txt"),
        count: 24,
        count_var: "TIMCONV_NET_SYNC_SEEDS",
        base: 0x4e37_0000,
        base_var: "TIMCONV_NET_SYNC_SEED_BASE",
    }
    .list()
}

/// Runs every seed against a server over `url`, four at a time.
async fn run_all(url: &str) {
    let options = common::options(url).limits(property::limits());
    let server = timconv_server::start(options)
        .await
        .expect("start a server");
    let raw = Raw::new(&server);
    let failures = property::run_seeds(seeds(), 4, |seed| {
        let world = Network {
            server: &server,
            raw: &raw,
            user: unique(&format!("prop-{seed}")),
        };
        async move {
            // Bounded: a seed that hangs fails instead of stalling the suite.
            tokio::time::timeout(Duration::from_secs(120), property::run(seed, &world))
                .await
                .unwrap_or_else(|_| Err("timed out after 120 s".into()))
        }
    })
    .await;
    server.shutdown().await;
    assert!(
        failures.is_empty(),
        "failing seeds over the network (keep them in server/tests/sync-regressions.txt; \
         replay one with TIMCONV_SYNC_SEED=<seed>):\n{failures:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_devices_converge_over_the_network_under_faults() {
    let dir = TempDir::new("net-sync-prop");
    let url = format!("sqlite:{}?mode=rwc", dir.path("server.db").display());
    run_all(&url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_devices_converge_over_the_network_under_faults() {
    let Some(url) = common::postgres_url() else {
        common::skipped("postgres_devices_converge_over_the_network_under_faults");
        return;
    };
    run_all(&url).await;
}

/// The injected faults act on the real server: a dropped answer leaves the push applied, a
/// duplicated push is applied once, and a dropped connection closes the device's WebSocket.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_faults_reach_the_server() {
    use futures::StreamExt;
    use timconv::transport::loopback::Faults;
    use timconv::transport::{Operation, PendingOperation, Transport};

    let server = common::sqlite().await;
    let raw = Raw::new(&server);
    let world = Network {
        server: &server,
        raw: &raw,
        user: unique("faults"),
    };
    let phone = world.transport("phone");
    let pin = |id: &str| {
        vec![PendingOperation {
            id: OpId(id.into()),
            op: Operation::Pin {
                conversation: ConversationId::c2c("bob").expect("an ID"),
                pinned: true,
            },
        }]
    };
    phone.set_faults(Some(Faults::new(1).with_drop_response(1.0)));
    let err = phone
        .push(pin("op-1"))
        .await
        .expect_err("the answer is dropped");
    assert!(err.retryable, "{err}");
    phone.set_faults(Some(Faults::new(1).with_duplicate_request(1.0)));
    phone.push(pin("op-2")).await.expect("pushed twice");
    let ids: Vec<OpId> = world
        .outcomes()
        .await
        .expect("outcomes")
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(ids, [OpId("op-1".into()), OpId("op-2".into())]);

    phone.set_faults(None);
    let mut events = phone.connect().await.expect("the event stream");
    for _ in 0..200 {
        if server.connections() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(server.connections(), 1);
    phone.set_faults(Some(Faults::new(1).with_disconnect(1.0, 0)));
    assert!(
        phone.pull(None, 10).await.is_err(),
        "the call fails with it"
    );
    assert_eq!(events.next().await, None, "the stream ends");
    for _ in 0..200 {
        if server.connections() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(server.connections(), 0, "the server saw the socket close");
    server.shutdown().await;
}
