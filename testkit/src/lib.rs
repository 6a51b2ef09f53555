//! Test support shared by the tests of `timconv` (`tests/it`) and of `timconv-server`
//! (`server/tests`): test messages and directories, a small deterministic generator, the
//! invariant checks of a manager's state ([`check`]), what roams and how devices settle
//! ([`sync`]), and the sync property test's body ([`property`]), generic over how devices
//! reach a server, so that one definition runs against the loopback and over the network.
//!
//! Not published: a workspace member the two crates' tests depend on.

pub mod check;
pub mod property;
pub mod sync;

pub use check::{check_consistent, invariant_filters, recount, walk};

use timconv::{ConversationId, Message};

/// A conversation ID from its full form.
pub fn id(full: &str) -> ConversationId {
    full.parse().expect("valid conversation id")
}

/// An incoming message at `position`: the server time of a C2C message, the sequence (and
/// server time) of a group message.
pub fn incoming(msg_id: &str, position: u64) -> Message {
    let mut m = Message::text(msg_id, format!("message {msg_id}"));
    m.server_time = Some(position);
    m.seq = Some(position);
    m.rand = Some(rand_of(msg_id));
    m.sender = Some("peer".into());
    m
}

/// The `message_rand` test messages carry: a fixed function of the message ID, so two different
/// messages at the same position still differ, and a redelivered one is identical.
pub fn rand_of(msg_id: &str) -> u64 {
    msg_id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// A message sent by this user at `position`.
pub fn outgoing(msg_id: &str, position: u64) -> Message {
    let mut m = incoming(msg_id, position);
    m.is_from_self = Some(true);
    m.sender = Some("me".into());
    m
}

/// A fresh, empty directory under the system's temporary directory, removed when dropped.
pub struct TempDir(std::path::PathBuf);

impl TempDir {
    /// A new directory whose name holds `label`, the process ID and a counter.
    pub fn new(label: &str) -> Self {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("timconv-test-{label}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create a temporary directory");
        TempDir(path)
    }

    /// A path inside the directory.
    pub fn path(&self, name: &str) -> std::path::PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A tiny deterministic generator (xorshift64*), so tests vary their calls without a
/// dependency.
pub struct Rng(pub u64);

impl Rng {
    /// A number below `n` (which must not be 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }

    /// One of `items` (which must not be empty).
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// Pins or unpins, as `on` says (for tests that pick at random).
pub async fn set_pinned(
    m: &timconv::ConversationManager,
    id: &ConversationId,
    on: bool,
) -> timconv::Result<()> {
    if on {
        m.pin(id).await
    } else {
        m.unpin(id).await
    }
}

/// Marks or unmarks, as `on` says (for tests that pick at random).
pub async fn set_marks(
    m: &timconv::ConversationManager,
    ids: &[ConversationId],
    marks: timconv::MarkFlags,
    on: bool,
) -> timconv::Result<timconv::BatchOutcome> {
    if on {
        m.mark(ids, marks).await
    } else {
        m.unmark(ids, marks).await
    }
}

/// The history choice a random `clear` flag stands for.
pub fn history(clear: bool) -> timconv::MessageHistory {
    if clear {
        timconv::MessageHistory::Clear
    } else {
        timconv::MessageHistory::Keep
    }
}
