//! The sync property (devices converge, each operation applies once) against the loopback server:
//! random operations on two devices of one user, random server deliveries, random faults (dropped,
//! delayed, duplicated requests and events, disconnects), random offline periods and restarts of a
//! device. Once faults stop and both devices have synced, both equal the server and each other on
//! everything that roams, counters equal a recount, every pushed operation was applied exactly
//! once, nothing is left in an outbox, each rejection was reported once, and drafts stayed on their
//! device.
//!
//! The property itself (generators and checks) is `timconv_testkit::property`, which
//! `server/tests/sync_properties.rs` also runs over the network against `timconv-server`.
//! Here a [`World`] is one loopback server, whose own seeded faults the devices suffer.
//!
//! `TIMCONV_SYNC_SEEDS=N` runs N seeds (default 300), from `TIMCONV_SYNC_SEED_BASE` on; the
//! seeds in `tests/sync-regressions.txt` run first, every time. A failing seed is printed; add
//! it there. `TIMCONV_SYNC_SEED=<seed>` runs that seed alone, and `TIMCONV_SYNC_TRACE=<seed>`
//! prints what it does.

use timconv::ConversationId;
use timconv::Message;
use timconv::transport::loopback::{LoopbackServer, LoopbackTransport, ServerState};
use timconv::transport::{OpId, OpOutcome};
use timconv_testkit::property::{self, Seeds, USER, World};

/// One loopback server per seed.
struct Loopback {
    server: LoopbackServer,
}

impl World for Loopback {
    type Transport = LoopbackTransport;

    fn transport(&self, name: &str) -> LoopbackTransport {
        self.server.transport(USER, name)
    }

    async fn deliver(&self, conversation: &ConversationId, message: Message) -> Result<(), String> {
        self.server.deliver(USER, conversation, message);
        Ok(())
    }

    async fn state(&self) -> Result<ServerState, String> {
        Ok(self.server.state(USER))
    }

    async fn outcomes(&self) -> Result<Vec<(OpId, OpOutcome)>, String> {
        self.server
            .applied(USER)
            .into_iter()
            .map(|id| match self.server.outcome(USER, &id) {
                Some(outcome) => Ok((id, outcome)),
                None => Err(format!("{id} is applied but has no outcome")),
            })
            .collect()
    }
}

#[test]
fn devices_converge_under_faults_and_restarts() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let seeds = Seeds {
        regressions: include_str!("../sync-regressions.txt"),
        count: 300,
        count_var: "TIMCONV_SYNC_SEEDS",
        base: 0x5eed_0000,
        base_var: "TIMCONV_SYNC_SEED_BASE",
    };
    let failures = runtime.block_on(property::run_seeds(seeds.list(), 4, |seed| async move {
        let world = Loopback {
            server: LoopbackServer::with_limits(property::limits()),
        };
        property::run(seed, &world).await
    }));
    assert!(
        failures.is_empty(),
        "failing seeds (keep them in tests/sync-regressions.txt; replay one with \
         TIMCONV_SYNC_SEED=<seed>):\n{failures:#?}"
    );
}
