//! Paging a pull through the version log: where a bookmark starts, what a page holds, and the
//! bookmark after it. The store hands over the log's entries in version order; the rules of
//! what is shown and where the page ends are here.

use super::Head;
use crate::error::ErrorCode;
use crate::transport::{Bookmark, FolderRename, PullPage, RemoteChange, TransportError};

/// Where a pull starts in the version log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullStart {
    /// From this version on (inclusive); `full` for a pull without a bookmark, which shows
    /// only live conversations and the group list.
    From {
        /// The first version to report.
        version: u64,
        /// A pull without a bookmark.
        full: bool,
    },
    /// The bookmark is older than the history floor, or newer than anything given out: the
    /// client must pull everything again.
    TooFarBehind,
}

/// Where a pull from `since` starts. A bookmark that is not a decimal number is refused
/// (50002); one older than the history floor or from the future is too far behind.
pub fn pull_start(head: &Head, since: Option<&Bookmark>) -> Result<PullStart, TransportError> {
    let Some(bookmark) = since else {
        return Ok(PullStart::From {
            version: 0,
            full: true,
        });
    };
    let after: u64 = bookmark.0.parse().map_err(|_| {
        TransportError::refused(
            ErrorCode::ServerInvalidParameters,
            format!("malformed bookmark {:?}", bookmark.0),
        )
    })?;
    // A bookmark this server never gave out (from the future) is as unknown as a forgotten
    // one: the client resyncs.
    if after < head.history_floor || after > head.version {
        return Ok(PullStart::TooFarBehind);
    }
    Ok(PullStart::From {
        version: after + 1,
        full: false,
    })
}

/// An entry of the version log as a store hands it over: `C` is how the store holds what a
/// pull shows of a conversation (a [`RemoteChange`], or its stored JSON, say).
#[derive(Debug, Clone, PartialEq)]
pub enum PullItem<C = RemoteChange> {
    /// The group list stands at this version.
    Groups,
    /// A conversation as a pull shows it (its state, or its tombstone).
    Conversation(C),
}

/// What a pull shows of a conversation, as a store holds it: the rules need only tell a
/// tombstone from a live conversation (a full pull leaves tombstones out).
pub trait PulledConversation {
    /// A deleted conversation still in the history ([`RemoteChange::Deleted`]).
    fn is_tombstone(&self) -> bool;
}

impl PulledConversation for RemoteChange {
    fn is_tombstone(&self) -> bool {
        matches!(self, RemoteChange::Deleted { .. })
    }
}

/// One change of a page built by [`pull_page_of`].
#[derive(Debug, Clone, PartialEq)]
pub enum PageChange<C> {
    /// The folder list ([`RemoteChange::Folders`], with the renames since the bookmark).
    Folders(RemoteChange),
    /// A conversation's entry, as the store handed it over.
    Conversation(C),
}

/// A page built by [`pull_page_of`]: a [`PullPage`] whose conversations are as the store holds
/// them.
#[derive(Debug, Clone, PartialEq)]
pub struct PageOf<C> {
    /// The changes, oldest first.
    pub changes: Vec<PageChange<C>>,
    /// Where the next pull continues.
    pub bookmark: Bookmark,
    /// More changes follow.
    pub has_more: bool,
}

/// One page of a pull that starts at `start` (from [`pull_start`]), with at most `limit`
/// changes (a limit of 0 counts as 1). `items` are the log's visible entries from `start` on,
/// in version order; `renames` the renames with the version of the group list they gave (at
/// least those from `start` on). A full pull leaves tombstones out and reports no renames.
pub fn pull_page(
    head: &Head,
    start: PullStart,
    limit: usize,
    items: impl IntoIterator<Item = (u64, PullItem)>,
    renames: &[(u64, FolderRename)],
) -> Option<PullPage> {
    let page = pull_page_of(head, start, limit, items, renames)?;
    Some(PullPage {
        changes: page
            .changes
            .into_iter()
            .map(|c| match c {
                PageChange::Folders(g) => g,
                PageChange::Conversation(c) => c,
            })
            .collect(),
        bookmark: page.bookmark,
        has_more: page.has_more,
    })
}

/// As [`pull_page`], for a store that hands conversations over in its own form `C` (a
/// server that keeps each conversation's view as JSON can page through it without decoding
/// it).
pub fn pull_page_of<C: PulledConversation>(
    head: &Head,
    start: PullStart,
    limit: usize,
    items: impl IntoIterator<Item = (u64, PullItem<C>)>,
    renames: &[(u64, FolderRename)],
) -> Option<PageOf<C>> {
    let PullStart::From {
        version: start,
        full,
    } = start
    else {
        return None;
    };
    let limit = limit.max(1);
    let mut changes = Vec::new();
    let mut last = 0;
    let mut has_more = false;
    for (version, item) in items {
        if version < start {
            continue;
        }
        let change = match item {
            PullItem::Groups => PageChange::Folders(RemoteChange::Folders {
                names: head.group_names(),
                // Renames since the bookmark; a full pull starts from nothing to rename.
                renamed: if full {
                    Vec::new()
                } else {
                    renames
                        .iter()
                        .filter(|(v, _)| *v >= start)
                        .map(|(_, r)| r.clone())
                        .collect()
                },
            }),
            PullItem::Conversation(c) if full && c.is_tombstone() => continue,
            PullItem::Conversation(c) => PageChange::Conversation(c),
        };
        if changes.len() == limit {
            has_more = true;
            break;
        }
        changes.push(change);
        last = version;
    }
    let bookmark = if has_more { last } else { head.version };
    Some(PageOf {
        changes,
        bookmark: Bookmark(bookmark.to_string()),
        has_more,
    })
}
