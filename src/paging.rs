//! Keyset paging over the ordered list (SPEC §4, DESIGN property 3).
//!
//! A [`Cursor`] names a position in the list order (pinned first, then order key descending),
//! not an offset. Walking a list that changes between pages therefore returns no conversation
//! twice and misses none that existed throughout and did not move. The one way a conversation
//! moves *down* the list is being unpinned (or deleted and brought back by a newer message); the
//! cursor remembers when its walk started, and the walk skips a conversation that moved down
//! since then from at or above the cursor, because it was already returned (or it moved, which
//! excuses missing it).

use std::sync::Arc;

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use crate::filter::ConversationFilter;
use crate::index::Index;
use crate::model::Conversation;

/// Where a list walk stands. [`Cursor::START`] (the default) begins at the top.
///
/// For code written against the C API, [`Page::next_seq`] and [`Cursor::from_next_seq`]
/// convert to and from its `u64` `next_seq`. That form carries the position only: it keeps
/// every guarantee except skipping conversations unpinned during the walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Cursor {
    /// Sort key of the last conversation returned; `None` = the top.
    after: Option<u64>,
    /// Index version when the walk's first page was read.
    walk_started: u64,
}

impl Cursor {
    /// The top of the list.
    pub const START: Cursor = Cursor {
        after: None,
        walk_started: 0,
    };

    /// A cursor from the C API's `next_seq` (0 = the top).
    #[must_use]
    pub fn from_next_seq(next_seq: u64) -> Self {
        Cursor {
            after: (next_seq != 0).then_some(next_seq),
            walk_started: u64::MAX,
        }
    }

    /// Whether this cursor is at the top of the list.
    #[must_use]
    pub fn is_start(&self) -> bool {
        self.after.is_none()
    }
}

/// One page of a list walk.
///
/// Serialises as the C API's `TIMConversationListResult`
/// (`conversation_list_result_conv_list`, `conversation_list_result_next_seq`,
/// `conversation_list_result_is_finished`).
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
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(3))?;
        map.serialize_entry("conversation_list_result_conv_list", &self.conversations)?;
        map.serialize_entry("conversation_list_result_next_seq", &self.next_seq())?;
        map.serialize_entry("conversation_list_result_is_finished", &self.is_finished)?;
        map.end()
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
        },
        is_finished,
    }
}
