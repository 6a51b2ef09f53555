//! Keyset paging over the ordered list: a walk returns no conversation twice.
//!
//! A [`Cursor`] names a position in the list order (pinned first, then order key descending),
//! not an offset. Walking a list that changes between pages therefore returns no conversation
//! twice and misses none that existed throughout and did not move. The one way a conversation
//! moves *down* the list is being unpinned (or deleted and brought back by a newer message); the
//! cursor remembers when its walk started, and the walk skips a conversation that moved down
//! since then from at or above the cursor, because it was already returned (or it moved, which
//! excuses missing it).
//!
//! A cursor can be kept and sent as text (its [`Display`](std::fmt::Display) form, and its
//! serde form) and read back with [`FromStr`]: the walk then goes on where it stood, with the
//! same guarantees, after a restart too (the manager's clock of changes keeps counting up
//! across restarts). The text is checked when it is read back: a cursor that was altered, or
//! of a format this version does not know, is refused with [`Error::InvalidCursor`] (6017), and
//! so is a cursor given to the list of another filter than the one it walks.
//!
//! The check is a checksum, not a signature: it catches a token that was cut, mistyped or
//! edited, not one forged on purpose by someone who knows the format. A forged token can do
//! no harm beyond naming another position of the list: keep tokens where the user's data is
//! kept. It does not name the account either: a cursor is for the manager that made it.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};
use crate::filter::ConversationFilter;
use crate::index::Index;
use crate::model::Conversation;

/// Where a list walk stands. [`Cursor::START`] (the default) begins at the top.
///
/// A cursor belongs to the list of one filter: [`list`](crate::ConversationManager::list)
/// refuses it for another filter with [`Error::InvalidCursor`] (6017). It can be stored and read
/// back as text (see the [module docs](self)):
///
/// ```
/// use timconv::Cursor;
///
/// let text = Cursor::START.to_string();
/// assert_eq!(text.parse::<Cursor>()?, Cursor::START);
/// assert_eq!("tc1.garbage".parse::<Cursor>().unwrap_err().code().as_i32(), 6017);
/// # Ok::<(), timconv::Error>(())
/// ```
///
/// For code written against the C API, [`Page::next_seq`] and [`Cursor::from_next_seq`]
/// convert to and from its `u64` `next_seq`. That form carries the position only: it keeps
/// every guarantee except skipping conversations unpinned during the walk, and it is accepted
/// for any filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Cursor {
    /// Sort key of the last conversation returned; `None` = the top.
    after: Option<u64>,
    /// Index version when the walk's first page was read.
    walk_started: u64,
    /// Fingerprint of the filter whose list this walks; `None`: any (the top, a `next_seq`).
    filter: Option<u64>,
}

impl Cursor {
    /// The top of the list.
    pub const START: Cursor = Cursor {
        after: None,
        walk_started: 0,
        filter: None,
    };

    /// A cursor from the C API's `next_seq` (0 = the top).
    #[must_use]
    pub fn from_next_seq(next_seq: u64) -> Self {
        Cursor {
            after: (next_seq != 0).then_some(next_seq),
            walk_started: u64::MAX,
            filter: None,
        }
    }

    /// Whether this cursor is at the top of the list.
    #[must_use]
    pub fn is_start(&self) -> bool {
        self.after.is_none()
    }

    /// Checks that this cursor walks `filter`'s list.
    pub(crate) fn check_filter(&self, filter: &ConversationFilter) -> Result<()> {
        match self.filter {
            Some(walks) if walks != fingerprint(filter) => Err(Error::InvalidCursor(
                "the cursor walks the list of another filter".into(),
            )),
            _ => Ok(()),
        }
    }
}

/// The text form's format: its first field. Another format is refused.
const FORMAT: &str = "tc1";

/// FNV-1a, 64 bits: a hash that is the same in every build and version (the standard
/// library's is not promised to be), for the fingerprints and checks the text form carries.
struct Fnv(u64);

impl Fnv {
    fn new() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    fn bytes(mut self, bytes: &[u8]) -> Self {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        self
    }

    /// A value behind a tag saying whether it is present, so that absent and zero differ.
    fn field(self, value: Option<&(impl AsRef<[u8]> + ?Sized)>) -> Self {
        match value.map(AsRef::as_ref) {
            None => self.bytes(&[0]),
            Some(v) => self
                .bytes(&[1])
                .bytes(&(v.len() as u64).to_le_bytes())
                .bytes(v),
        }
    }
}

/// What identifies a filter's list, the same in every process and version of this format.
fn fingerprint(filter: &ConversationFilter) -> u64 {
    let flag = |b: bool| [u8::from(b)];
    Fnv::new()
        .field(
            filter
                .type_criterion()
                .map(|t| t.as_u32().to_le_bytes())
                .as_ref(),
        )
        .field(
            filter
                .mark_criterion()
                .map(|m| m.bits().to_le_bytes())
                .as_ref(),
        )
        .field(filter.folder_criterion().map(str::as_bytes))
        .field(filter.unread_criterion().map(flag).as_ref())
        .field(filter.at_info_criterion().map(flag).as_ref())
        .0
}

/// The check of a text form's fields.
fn check(fields: &str) -> u64 {
    Fnv::new()
        .bytes(b"timconv cursor\0")
        .bytes(fields.as_bytes())
        .0
}

fn hex_or_dash(value: Option<u64>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| format!("{v:016x}"))
}

fn parse_hex(field: &str) -> Option<u64> {
    if field.len() != 16
        || !field
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        return None;
    }
    u64::from_str_radix(field, 16).ok()
}

fn parse_hex_or_dash(field: &str) -> Option<Option<u64>> {
    if field == "-" {
        Some(None)
    } else {
        parse_hex(field).map(Some)
    }
}

/// `tc1.<after>.<walk started>.<filter>.<check>`: hexadecimal fields, `-` for an absent one.
impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fields = format!(
            "{FORMAT}.{}.{:016x}.{}",
            hex_or_dash(self.after),
            self.walk_started,
            hex_or_dash(self.filter)
        );
        write!(f, "{fields}.{:016x}", check(&fields))
    }
}

impl FromStr for Cursor {
    type Err = Error;

    /// Reads a cursor's text form back.
    ///
    /// # Errors
    /// [`Error::InvalidCursor`] (6017) for text that is not a cursor of this format, or was
    /// altered.
    fn from_str(text: &str) -> Result<Self> {
        let invalid = |why: &str| Error::InvalidCursor(why.to_owned());
        let (fields, sum) = text
            .rsplit_once('.')
            .ok_or_else(|| invalid("not a cursor"))?;
        let parts: Vec<&str> = fields.split('.').collect();
        let [format, after, walk_started, filter] = parts[..] else {
            return Err(invalid("not a cursor"));
        };
        if format != FORMAT {
            return Err(invalid("a cursor of an unknown format"));
        }
        if parse_hex(sum) != Some(check(fields)) {
            return Err(invalid("the cursor was altered"));
        }
        let malformed = || invalid("a malformed cursor");
        Ok(Cursor {
            after: parse_hex_or_dash(after).ok_or_else(malformed)?,
            walk_started: parse_hex(walk_started).ok_or_else(malformed)?,
            filter: parse_hex_or_dash(filter).ok_or_else(malformed)?,
        })
    }
}

/// As its text form.
impl Serialize for Cursor {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// From its text form, refusing one that was altered.
impl<'de> Deserialize<'de> for Cursor {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let text = std::borrow::Cow::<'de, str>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// One page of a list walk.
///
/// Serialises as the C API's `TIMConversationListResult`
/// (`conversation_list_result_conv_list`, `conversation_list_result_next_seq`,
/// `conversation_list_result_is_finished`), and deserialises from it. That form carries the
/// next cursor as a `next_seq`, the position only: a page read back continues with
/// [`Cursor::from_next_seq`]. To resume a walk with every guarantee, keep
/// [`next_cursor`](Self::next_cursor) itself, which serialises whole.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Page {
    /// The conversations of this page, in list order (shared records, not copies).
    pub conversations: Vec<Arc<Conversation>>,
    /// Pass this back to get the next page.
    pub next_cursor: Cursor,
    /// Whether no conversation follows this page.
    pub is_finished: bool,
}

impl Page {
    /// The C API's `next_seq` for the next page.
    #[must_use]
    pub fn next_seq(&self) -> u64 {
        self.next_cursor.after.unwrap_or(0)
    }
}

impl Serialize for Page {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(3))?;
        map.serialize_entry("conversation_list_result_conv_list", &self.conversations)?;
        map.serialize_entry("conversation_list_result_next_seq", &self.next_seq())?;
        map.serialize_entry("conversation_list_result_is_finished", &self.is_finished)?;
        map.end()
    }
}

/// The C API's form of a page, read back.
#[derive(Deserialize)]
struct PageWire {
    conversation_list_result_conv_list: Vec<Arc<Conversation>>,
    #[serde(default)]
    conversation_list_result_next_seq: u64,
    #[serde(default)]
    conversation_list_result_is_finished: bool,
}

impl<'de> Deserialize<'de> for Page {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let w = PageWire::deserialize(d)?;
        Ok(Page {
            conversations: w.conversation_list_result_conv_list,
            next_cursor: Cursor::from_next_seq(w.conversation_list_result_next_seq),
            is_finished: w.conversation_list_result_is_finished,
        })
    }
}

/// Reads one page of `filter`'s list after `cursor` (`count` ≥ 1, checked by the caller).
pub(crate) fn read_page(
    index: &Index,
    filter: &ConversationFilter,
    cursor: Cursor,
    count: usize,
) -> Page {
    let walk_started = if cursor.is_start() {
        index.version()
    } else {
        cursor.walk_started
    };
    let below = cursor.after;
    let mut matches = index
        .sets
        .candidates(filter, below)
        .filter_map(|(key, slot)| Some((key, index.row(slot)?)))
        .filter(|(_, row)| {
            // Moved down since the walk began, from at or above the cursor: already returned.
            let moved_down =
                below.is_some_and(|pos| row.demoted_at > walk_started && row.demoted_from >= pos);
            !moved_down && filter.matches(&row.record)
        });
    // The page's records are picked first and shared after: sharing one is an atomic
    // increment in the record, which waits for the record to be in cache, and the increments
    // of a page would wait for its records one after the other. Reading each count first (a
    // plain load) lets the processor fetch the records of the page together.
    let mut picked = Vec::with_capacity(count.min(1024));
    let mut last = cursor.after;
    for (key, row) in matches.by_ref().take(count) {
        std::hint::black_box(Arc::strong_count(&row.record));
        picked.push(&row.record);
        last = Some(key);
    }
    let is_finished = matches.next().is_none();
    let conversations = picked.into_iter().map(Arc::clone).collect();
    Page {
        conversations,
        next_cursor: Cursor {
            after: last,
            walk_started,
            filter: Some(fingerprint(filter)),
        },
        is_finished,
    }
}
