//! Pulls: a page of a user's version log, each conversation's view sent as stored.

use std::ops::Range;

use sqlx::{AnyConnection, Row};
use timconv::transport::account::{
    PageChange, PullItem, PullStart, PulledConversation, pull_page_of, pull_start,
};
use timconv::transport::{Bookmark, FolderRename, PullPage, PullResponse};

use super::{Db, DbError, corrupt, load_head, to_i64, to_u64};

/// A page of a pull with its changes as JSON ([`Db::pull_json`]).
#[derive(Debug)]
pub enum PullJson {
    /// A page: serialized as a [`PullResponse::Page`].
    Page(PageJson),
    /// As [`PullResponse::TooFarBehind`].
    TooFarBehind,
}

/// The fields of a [`PullPage`], its changes as one JSON array.
#[derive(Debug)]
pub struct PageJson {
    /// The changes as a JSON array (`[...]`) of
    /// [`RemoteChange`](timconv::transport::RemoteChange)s, oldest first: each conversation's
    /// view as it was stored when it was written.
    pub changes: String,
    /// Where the next pull continues (the version, unsigned).
    pub bookmark: Bookmark,
    /// More changes follow.
    pub has_more: bool,
}

/// A conversation's stored view, handed to the paging rules without decoding it: where it
/// lies in the page's text.
struct StoredView {
    text: Range<usize>,
    tombstone: bool,
}

impl PulledConversation for StoredView {
    fn is_tombstone(&self) -> bool {
        self.tombstone
    }
}

/// The next rows of the version log, read as one row: their versions, whether each is live
/// (`1`) or a tombstone (`0`), each view's length in bytes, and the views joined by commas.
/// One row instead of one per conversation: a driver that hands each row over on its own
/// (SQLite's runs on a thread of its own) costs more per row than reading the row does.
///
/// The aggregates have no `ORDER BY` of their own: one with it sorts its input again, views
/// included. All of them see the rows in the same order, whatever it is, and
/// [`PageRows::split`] puts them in version order. `$3` is 1 for a full pull, which shows only
/// live conversations. `string_agg` and `octet_length` are in PostgreSQL, its compatible
/// databases, and SQLite since 3.44.
const PAGE_SQL: &str = "SELECT count(*), \
     string_agg(CAST(version AS TEXT), ','), \
     string_agg(CAST(live AS TEXT), ''), \
     string_agg(CAST(octet_length(view_json) AS TEXT), ','), \
     string_agg(view_json, ',') \
     FROM (SELECT version, live, view_json FROM conversations \
     WHERE user_id = $1 AND version >= $2 AND visible = 1 AND (live = 1 OR $3 = 0) \
     ORDER BY version LIMIT $4) AS page";

/// The rows of a page read by [`PAGE_SQL`]: each row's version and view, `views` holding the
/// text the views' ranges point into.
struct PageRows {
    items: Vec<(u64, PullItem<StoredView>)>,
    views: String,
}

impl PageRows {
    /// Splits the aggregated columns back into rows, in version order; anything that does not
    /// line up (a view that is missing, or not an object) is corrupt data.
    fn split(
        count: i64,
        versions: Option<String>,
        live: Option<String>,
        lengths: Option<String>,
        views: Option<String>,
    ) -> Result<Self, DbError> {
        let count = usize::try_from(count).map_err(|_| corrupt("page", count))?;
        let (versions, live, lengths, views) = (
            versions.unwrap_or_default(),
            live.unwrap_or_default(),
            lengths.unwrap_or_default(),
            views.unwrap_or_default(),
        );
        let mut items = Vec::with_capacity(count + 1);
        let mut versions = versions.split(',').filter(|v| !v.is_empty());
        let mut lengths = lengths.split(',').filter(|l| !l.is_empty());
        let mut live = live.bytes();
        let mut at: usize = 0;
        for _ in 0..count {
            let (Some(version), Some(length), Some(live)) =
                (versions.next(), lengths.next(), live.next())
            else {
                return Err(corrupt("view", "missing"));
            };
            let version = version.parse::<u64>().map_err(|e| corrupt("version", e))?;
            let length = length.parse::<usize>().map_err(|e| corrupt("view", e))?;
            let text = at..at.saturating_add(length);
            let view = views
                .get(text.clone())
                .ok_or_else(|| corrupt("view", "shorter than its length"))?;
            if !(view.starts_with('{') && view.ends_with('}')) {
                return Err(corrupt("view", "not a JSON object"));
            }
            // A comma after each view, but the last.
            if !matches!(views.as_bytes().get(text.end), None | Some(b',')) {
                return Err(corrupt("view", "longer than its length"));
            }
            at = text.end + 1;
            let tombstone = match live {
                b'0' => true,
                b'1' => false,
                other => return Err(corrupt("live", other)),
            };
            items.push((
                version,
                PullItem::Conversation(StoredView { text, tombstone }),
            ));
        }
        let end = if count == 0 { 0 } else { views.len() + 1 };
        if versions.next().is_some()
            || lengths.next().is_some()
            || live.next().is_some()
            || at != end
        {
            return Err(corrupt("page", "rows do not line up"));
        }
        // Already in order, as a rule: then this is one pass over them.
        items.sort_by_key(|(version, _)| *version);
        Ok(Self { items, views })
    }
}

impl Db {
    /// One page of `user`'s changes after `since` (everything when `None`).
    pub async fn pull(
        &self,
        user: &str,
        since: Option<&Bookmark>,
        limit: usize,
    ) -> Result<PullResponse, DbError> {
        Ok(match self.pull_json(user, since, limit).await? {
            PullJson::TooFarBehind => PullResponse::TooFarBehind,
            PullJson::Page(page) => PullResponse::Page(PullPage {
                changes: serde_json::from_str(&page.changes).map_err(|e| corrupt("view", e))?,
                bookmark: page.bookmark,
                has_more: page.has_more,
            }),
        })
    }

    /// As [`pull`](Self::pull), with the changes as JSON, the conversations' as stored: the
    /// page is sent without decoding and encoding again what a pull shows of each.
    pub async fn pull_json(
        &self,
        user: &str,
        since: Option<&Bookmark>,
        limit: usize,
    ) -> Result<PullJson, DbError> {
        let limit = limit.max(1);
        transaction!(read self, |tx| {
            async {
                let row = load_head(&mut tx, user).await?;
                let head = row.head;
                let start = pull_start(&head, since).map_err(DbError::Refused)?;
                let PullStart::From { version, full } = start else {
                    return Ok(PullJson::TooFarBehind);
                };
                let rows = sqlx::query(PAGE_SQL)
                    .bind(user)
                    .bind(to_i64(version)?)
                    .bind(i64::from(full))
                    .bind(to_i64(limit as u64 + 1)?)
                    .fetch_all(&mut *tx)
                    .await?;
                let r = rows.first().ok_or_else(|| corrupt("page", "no row"))?;
                let PageRows { mut items, views } = PageRows::split(
                    r.try_get(0)?,
                    r.try_get(1)?,
                    r.try_get(2)?,
                    r.try_get(3)?,
                    r.try_get(4)?,
                )?;
                if head.groups_version >= version {
                    let at = items.partition_point(|(v, _)| *v < head.groups_version);
                    items.insert(at, (head.groups_version, PullItem::Groups));
                }
                let renames = if full {
                    Vec::new()
                } else {
                    load_renames(&mut tx, user, version).await?
                };
                let Some(page) = pull_page_of(&head, start, limit, items, &renames) else {
                    return Ok(PullJson::TooFarBehind);
                };
                let mut changes = String::with_capacity(views.len() + 2);
                changes.push('[');
                for (i, change) in page.changes.iter().enumerate() {
                    if i > 0 {
                        changes.push(',');
                    }
                    match change {
                        PageChange::Folders(g) => changes
                            .push_str(&serde_json::to_string(g).map_err(|e| corrupt("groups", e))?),
                        // In range: `split` checked it.
                        PageChange::Conversation(c) => {
                            changes.push_str(views.get(c.text.clone()).unwrap_or_default());
                        }
                    }
                }
                changes.push(']');
                Ok::<_, DbError>(PullJson::Page(PageJson {
                    changes,
                    bookmark: page.bookmark,
                    has_more: page.has_more,
                }))
            }
            .await
        })
    }
}

async fn load_renames(
    tx: &mut AnyConnection,
    user: &str,
    from: u64,
) -> Result<Vec<(u64, FolderRename)>, DbError> {
    let rows = sqlx::query(
        "SELECT version, from_name, to_name FROM renames \
         WHERE user_id = $1 AND version >= $2 ORDER BY version, seq",
    )
    .bind(user)
    .bind(to_i64(from)?)
    .fetch_all(&mut *tx)
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                to_u64(r.try_get(0)?)?,
                FolderRename {
                    from: r.try_get(1)?,
                    to: r.try_get(2)?,
                },
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(
        count: i64,
        versions: &str,
        live: &str,
        lengths: &str,
        views: &str,
    ) -> Result<PageRows, DbError> {
        let text = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        PageRows::split(
            count,
            text(versions),
            text(live),
            text(lengths),
            text(views),
        )
    }

    /// Each row's (version, view, tombstone).
    fn rows(page: &PageRows) -> Vec<(u64, &str, bool)> {
        page.items
            .iter()
            .map(|(v, item)| match item {
                PullItem::Conversation(c) => (*v, &page.views[c.text.clone()], c.tombstone),
                PullItem::Groups => panic!("no groups item"),
            })
            .collect()
    }

    #[test]
    fn rows_come_back_in_version_order_with_their_views() {
        // Aggregated in another order than the versions', with a multi-byte character.
        let a = r#"{"id":"c2c_a","n":"é😀"}"#;
        let b = r#"{"id":"c2c_b"}"#;
        let c = r#"{"change":"deleted"}"#;
        let views = format!("{a},{b},{c}");
        let lengths = format!("{},{},{}", a.len(), b.len(), c.len());
        let page = split(3, "9,4,7", "110", &lengths, &views).expect("splits");
        assert_eq!(
            rows(&page),
            vec![(4, b, false), (7, c, true), (9, a, false)]
        );
        let empty = PageRows::split(0, None, None, None, None).expect("an empty page");
        assert!(empty.items.is_empty());
    }

    #[test]
    fn rows_that_do_not_line_up_are_corrupt() {
        let a = r#"{"id":"c2c_a"}"#;
        let n = a.len();
        let two = format!("{a},{a}");
        for (count, versions, live, lengths, views) in [
            // A view missing (NULL is left out of its aggregate), or one too many.
            (2, "1,2", "11", &*format!("{n}"), a),
            (1, "1", "1", &*format!("{n},{n}"), &*two),
            (2, "1", "11", &*format!("{n},{n}"), &*two),
            (1, "1,2", "1", &*format!("{n}"), a),
            (1, "1", "11", &*format!("{n}"), a),
            // Lengths that do not fit the text.
            (1, "1", "1", &*format!("{}", n + 1), a),
            (1, "1", "1", &*format!("{}", n - 1), a),
            (1, "1", "1", "3", "{\"é\"}"),
            // Not an object, not a number, or liveness neither 0 nor 1.
            (1, "1", "1", "2", "[]"),
            (1, "1", "2", &*format!("{n}"), a),
            (1, "x", "1", &*format!("{n}"), a),
            (1, "1", "1", "-1", a),
            (1, "1", "1", "18446744073709551615", a),
            // Views that fit their lengths, but not separated by a comma.
            (2, "1,2", "11", "2,2", "{}}{}"),
            (-1, "", "", "", ""),
        ] {
            assert!(
                matches!(
                    split(count, versions, live, lengths, views),
                    Err(DbError::Corrupt(_))
                ),
                "{count} {versions:?} {live:?} {lengths:?} {views:?} is corrupt"
            );
        }
    }
}
