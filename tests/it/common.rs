//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::sync::Arc;
use timconv::{ConversationId, ConversationManager, Limits, Message};

/// Proptest settings: `default_cases` cases unless `PROPTEST_CASES` says otherwise (CI runs
/// the default; set it to thousands for a longer search), and room to shrink failures.
pub fn proptest_config(default_cases: u32) -> proptest::test_runner::Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default_cases);
    proptest::test_runner::Config {
        cases,
        max_shrink_iters: 20_000,
        ..proptest::test_runner::Config::default()
    }
}

/// A manager over a fresh in-memory store, logged in as `me`.
pub async fn manager() -> ConversationManager {
    manager_with(Limits::default()).await
}

/// A manager with the given limits, logged in as `me`.
pub async fn manager_with(limits: Limits) -> ConversationManager {
    ConversationManager::builder()
        .in_memory()
        .self_user_id("me")
        .limits(limits)
        .open()
        .await
        .expect("an in-memory manager opens")
}

/// Every event published so far, without waiting.
pub fn published(events: &mut timconv::EventStream) -> Vec<timconv::Event> {
    use futures::{FutureExt, StreamExt};
    let mut out = Vec::new();
    while let Some(Some(item)) = events.next().now_or_never() {
        out.push(item.expect("the test consumer keeps up"));
    }
    out
}

/// The IDs of the conversations in the `Updated` events among `events`, in order.
pub fn updated_ids(events: &[timconv::Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            timconv::Event::Updated(convs) => Some(convs.iter().map(|c| c.id.to_string())),
            _ => None,
        })
        .flatten()
        .collect()
}

/// A conversation ID from its full form.
/// Opens the SQLite store at `path` once a manager dropped without shutdown has released it:
/// its writer closes the store when it sees every handle gone, a moment after the drop.
pub async fn open_released(path: &std::path::Path) -> timconv::SqliteStore {
    for _ in 0..500 {
        match timconv::SqliteStore::open(path).await {
            Err(timconv::Error::StoreInUse { .. }) => {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            other => return other.expect("the store opens"),
        }
    }
    panic!("{} is still in use", path.display());
}

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

// ---------------------------------------------------------------------------------------------
// Invariant checks shared by the property, paging and concurrency tests. Each returns
// `Err(description)` instead of panicking so that proptest can shrink a failing sequence.

use futures::{FutureExt, StreamExt};
use timconv::{
    Conversation, ConversationFilter, ConversationType, Cursor, MarkFlags, UnreadStream,
};

/// Filters the invariant checks cover: each criterion alone, its "zero" form (no mark, no
/// group) and a few combinations.
pub fn invariant_filters() -> Vec<ConversationFilter> {
    let ext32 = MarkFlags::extension(32).expect("32 is an extension bit");
    vec![
        ConversationFilter::new().conv_type(ConversationType::C2c),
        ConversationFilter::new().conv_type(ConversationType::Group),
        ConversationFilter::new().mark(MarkFlags::empty()),
        ConversationFilter::new().mark(MarkFlags::STAR | ext32),
        ConversationFilter::new().folder(""),
        ConversationFilter::new().folder("a"),
        ConversationFilter::new().has_unread(true),
        ConversationFilter::new().has_unread(false),
        ConversationFilter::new().has_at_info(true),
        ConversationFilter::new()
            .conv_type(ConversationType::Group)
            .has_at_info(false),
        ConversationFilter::new()
            .conv_type(ConversationType::C2c)
            .mark(MarkFlags::FOLD)
            .has_unread(true),
        ConversationFilter::new()
            .folder("b")
            .mark(MarkFlags::empty()),
    ]
}

/// Every conversation of `filter`'s list, walked from the top with pages of `page_size`.
pub fn walk(
    manager: &ConversationManager,
    filter: &ConversationFilter,
    page_size: u32,
) -> Result<Vec<Arc<Conversation>>, String> {
    let mut out = Vec::new();
    let mut cursor = Cursor::START;
    // A walk over an unchanging list cannot take more pages than it has conversations.
    for _ in 0..=manager.len() + 1 {
        let page = manager
            .list(filter, cursor, page_size)
            .map_err(|e| format!("list({filter:?}) failed: {e}"))?;
        if page.conversations.len() > page_size as usize {
            return Err(format!(
                "a page of {page_size} held {}",
                page.conversations.len()
            ));
        }
        out.extend(page.conversations.iter().cloned());
        if page.is_finished {
            return Ok(out);
        }
        if page.conversations.is_empty() {
            return Err(format!("an empty page that is not finished for {filter:?}"));
        }
        cursor = page.next_cursor;
    }
    Err(format!("the walk of {filter:?} does not finish"))
}

fn ids_of<'a>(convs: impl IntoIterator<Item = &'a Arc<Conversation>>) -> Vec<String> {
    convs.into_iter().map(|c| c.id.to_string()).collect()
}

/// The unread of `filter` recounted from scratch over `convs`.
pub fn recount(convs: &[Arc<Conversation>], filter: &ConversationFilter) -> u64 {
    convs
        .iter()
        .filter(|c| filter.matches(c))
        .map(|c| c.counted_unread())
        .sum()
}

/// Checks the manager's whole state against a recount from scratch over
/// `manager.conversations()`: order, uniqueness, counters, every filter's list and count,
/// group membership and limits. `page_size` is the page size of the list walks.
pub fn check_consistent(
    manager: &ConversationManager,
    filters: &[ConversationFilter],
    page_size: u32,
) -> Result<(), String> {
    let convs = manager.conversations();
    let limits = *manager.limits();
    if convs.len() != manager.len() {
        return Err(format!(
            "len() {} but {} conversations",
            manager.len(),
            convs.len()
        ));
    }
    // One order: pinned first, then order key strictly descending; IDs and order keys unique.
    let mut ids = std::collections::HashSet::new();
    let mut keys = std::collections::HashSet::new();
    for c in &convs {
        if !ids.insert(c.id.clone()) {
            return Err(format!("{} listed twice", c.id));
        }
        if !keys.insert(c.order_key) {
            return Err(format!(
                "order key {} is not unique ({})",
                c.order_key, c.id
            ));
        }
        if c.order_key >= 1 << 62 {
            return Err(format!("order key of {} carries the pinned bit", c.id));
        }
        if c.unread_count > 1 << 32 {
            return Err(format!(
                "{} has an absurd unread count {}",
                c.id, c.unread_count
            ));
        }
    }
    for w in convs.windows(2) {
        let (a, b) = (&w[0], &w[1]);
        let sorted = (a.is_pinned && !b.is_pinned)
            || (a.is_pinned == b.is_pinned && a.order_key > b.order_key);
        if !sorted || a.sort_key() <= b.sort_key() {
            return Err(format!(
                "out of order: {} (pinned {}, key {}) before {} (pinned {}, key {})",
                a.id, a.is_pinned, a.order_key, b.id, b.is_pinned, b.order_key
            ));
        }
    }
    // Counters equal a recount.
    let total: u64 = convs.iter().map(|c| c.counted_unread()).sum();
    if manager.total_unread() != total {
        return Err(format!(
            "total_unread() {} but recount {total}",
            manager.total_unread()
        ));
    }
    // The unfiltered walk is the list.
    let all = walk(manager, &ConversationFilter::new(), page_size)?;
    if all != convs {
        return Err(format!(
            "the full walk {:?} differs from conversations() {:?}",
            ids_of(&all),
            ids_of(&convs)
        ));
    }
    // Groups: names unique and within limits, membership only names existing groups.
    let names = manager.folders();
    let unique: std::collections::HashSet<_> = names.iter().collect();
    if unique.len() != names.len() || names.len() > limits.max_folders {
        return Err(format!(
            "groups {names:?}: repeated or over {}",
            limits.max_folders
        ));
    }
    for c in &convs {
        let own: std::collections::HashSet<_> = c.folders.iter().collect();
        if own.len() != c.folders.len() {
            return Err(format!("{} names a group twice: {:?}", c.id, c.folders));
        }
        if let Some(g) = c.folders.iter().find(|g| !names.contains(g)) {
            return Err(format!(
                "{} is in group {g:?} which does not exist ({names:?})",
                c.id
            ));
        }
    }
    let mut all_filters: Vec<ConversationFilter> = filters.to_vec();
    all_filters.extend(
        names
            .iter()
            .map(|n| ConversationFilter::new().folder(n.as_str())),
    );
    all_filters.push(ConversationFilter::new().folder(""));
    for f in &all_filters {
        let expected: Vec<String> = ids_of(convs.iter().filter(|c| f.matches(c)));
        let walked = ids_of(&walk(manager, f, page_size)?);
        if walked != expected {
            return Err(format!(
                "walk of {f:?} gave {walked:?}, recount {expected:?}"
            ));
        }
        if let Some(name) = f
            .folder_criterion()
            .filter(|n| !n.is_empty() && *f == ConversationFilter::new().folder(*n))
        {
            let named: Vec<String> =
                ids_of(convs.iter().filter(|c| c.folders.iter().any(|g| g == name)));
            if walked != named {
                return Err(format!(
                    "group {name:?} lists {walked:?}, members are {named:?}"
                ));
            }
        }
        let by_filter = manager
            .unread_by_filter(f)
            .map_err(|e| format!("unread_by_filter({f:?}): {e}"))?;
        let counted = recount(&convs, f);
        if by_filter != counted {
            return Err(format!(
                "unread_by_filter({f:?}) {by_filter} but recount {counted}"
            ));
        }
    }
    // Limits.
    let pinned = convs.iter().filter(|c| c.is_pinned).count();
    if pinned > limits.max_pinned {
        return Err(format!("{pinned} pinned, limit {}", limits.max_pinned));
    }
    let decorated = convs.iter().filter(|c| c.is_decorated()).count();
    if decorated > limits.max_decorated {
        return Err(format!(
            "{decorated} decorated, limit {}",
            limits.max_decorated
        ));
    }
    Ok(())
}

/// One live unread stream and the latest value it has yielded.
struct Watched {
    /// `None` watches the total.
    filter: Option<ConversationFilter>,
    stream: UnreadStream,
    latest: Option<u64>,
}

/// Live watchers of the total unread and of some filters, kept for a whole test.
pub struct UnreadWatchers {
    watched: Vec<Watched>,
}

impl UnreadWatchers {
    /// Watches the total and each of `filters`.
    pub fn new(manager: &ConversationManager, filters: &[ConversationFilter]) -> Self {
        let mut watched = vec![Watched {
            filter: None,
            stream: manager.watch_total_unread(),
            latest: None,
        }];
        for f in filters {
            watched.push(Watched {
                filter: Some(f.clone()),
                stream: manager
                    .watch_unread(f)
                    .expect("a valid filter can be watched"),
                latest: None,
            });
        }
        Self { watched }
    }

    /// Takes every value the streams have ready, keeping the latest of each.
    pub fn drain(&mut self) -> Result<(), String> {
        for w in &mut self.watched {
            // A watch yields at most one value per change; a bound keeps a bug from spinning.
            for _ in 0..10_000 {
                match w.stream.next().now_or_never() {
                    Some(Some(v)) => w.latest = Some(v),
                    Some(None) => return Err(format!("the watch of {:?} ended", w.filter)),
                    None => break,
                }
            }
        }
        Ok(())
    }

    /// Drains, then checks that each stream's latest value equals a recount.
    pub fn check(&mut self, manager: &ConversationManager) -> Result<(), String> {
        self.drain()?;
        let convs = manager.conversations();
        for w in &self.watched {
            let expected = match &w.filter {
                None => convs.iter().map(|c| c.counted_unread()).sum(),
                Some(f) => recount(&convs, f),
            };
            if w.latest != Some(expected) {
                return Err(format!(
                    "the watch of {:?} last yielded {:?}, recount {expected}",
                    w.filter, w.latest
                ));
            }
        }
        Ok(())
    }
}

/// A fresh, empty directory under the system's temporary directory, removed when dropped.
pub struct TempDir(std::path::PathBuf);

impl TempDir {
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
    m: &ConversationManager,
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
    m: &ConversationManager,
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
