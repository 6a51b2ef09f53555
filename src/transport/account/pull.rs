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

/// An entry of the version log as a store hands it over.
#[derive(Debug, Clone, PartialEq)]
pub enum PullItem {
    /// The group list stands at this version.
    Groups,
    /// A conversation as a pull shows it (its state, or its tombstone).
    Conversation(RemoteChange),
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
            PullItem::Groups => RemoteChange::Folders {
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
            },
            PullItem::Conversation(c @ RemoteChange::Conversation(_)) => c,
            PullItem::Conversation(c) if !full => c,
            PullItem::Conversation(_) => continue,
        };
        if changes.len() == limit {
            has_more = true;
            break;
        }
        changes.push(change);
        last = version;
    }
    let bookmark = if has_more { last } else { head.version };
    Some(PullPage {
        changes,
        bookmark: Bookmark(bookmark.to_string()),
        has_more,
    })
}
