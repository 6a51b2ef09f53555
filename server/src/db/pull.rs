//! Pulls: a page of a user's version log, each conversation's view sent as stored.

use serde_json::value::RawValue;
use sqlx::{AnyConnection, Row};
use timconv::transport::account::{
    PageChange, PullItem, PullStart, PulledConversation, pull_page_of, pull_start,
};
use timconv::transport::{Bookmark, FolderRename, PullPage, PullResponse};

use super::{Db, DbError, corrupt, load_head, to_i64, to_u64};

/// A page of a pull with each change as JSON ([`Db::pull_json`]).
#[derive(Debug)]
pub enum PullJson {
    /// A page: serialized as a [`PullResponse::Page`].
    Page(PageJson),
    /// As [`PullResponse::TooFarBehind`].
    TooFarBehind,
}

/// The fields of a [`PullPage`], each change as JSON.
#[derive(Debug)]
pub struct PageJson {
    /// The changes, each a [`RemoteChange`](timconv::transport::RemoteChange) as JSON, oldest
    /// first.
    pub changes: Vec<Box<RawValue>>,
    /// Where the next pull continues (the version, unsigned).
    pub bookmark: Bookmark,
    /// More changes follow.
    pub has_more: bool,
}

/// A conversation's stored view, handed to the paging rules without decoding it.
struct StoredView {
    json: Box<RawValue>,
    tombstone: bool,
}

impl PulledConversation for StoredView {
    fn is_tombstone(&self) -> bool {
        self.tombstone
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
                changes: page
                    .changes
                    .iter()
                    .map(|c| serde_json::from_str(c.get()).map_err(|e| corrupt("view", e)))
                    .collect::<Result<_, _>>()?,
                bookmark: page.bookmark,
                has_more: page.has_more,
            }),
        })
    }

    /// As [`pull`](Self::pull), with each change as JSON, the conversations' as stored: the
    /// page is sent without decoding and encoding again what a pull shows of each.
    pub async fn pull_json(
        &self,
        user: &str,
        since: Option<&Bookmark>,
        limit: usize,
    ) -> Result<PullJson, DbError> {
        let limit = limit.max(1);
        transaction!(self, |tx| {
            async {
                let row = load_head(&mut tx, user).await?;
                let head = row.head;
                let start = pull_start(&head, since).map_err(DbError::Refused)?;
                let PullStart::From { version, full } = start else {
                    return Ok(PullJson::TooFarBehind);
                };
                let sql = if full {
                    "SELECT version, view_json, live FROM conversations \
                     WHERE user_id = $1 AND version >= $2 AND live = 1 \
                     ORDER BY version LIMIT $3"
                } else {
                    "SELECT version, view_json, live FROM conversations \
                     WHERE user_id = $1 AND version >= $2 AND visible = 1 \
                     ORDER BY version LIMIT $3"
                };
                let rows = sqlx::query(sql)
                    .bind(user)
                    .bind(to_i64(version)?)
                    .bind(to_i64(limit as u64 + 1)?)
                    .fetch_all(&mut *tx)
                    .await?;
                let mut items = Vec::with_capacity(rows.len() + 1);
                for r in rows {
                    let v = to_u64(r.try_get::<i64, _>(0)?)?;
                    let view: Option<String> = r.try_get(1)?;
                    let view = view.ok_or_else(|| corrupt("view", "missing"))?;
                    let json = RawValue::from_string(view).map_err(|e| corrupt("view", e))?;
                    let tombstone = r.try_get::<i64, _>(2)? == 0;
                    items.push((v, PullItem::Conversation(StoredView { json, tombstone })));
                }
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
                let changes =
                    page.changes
                        .into_iter()
                        .map(|c| match c {
                            PageChange::Folders(g) => serde_json::value::to_raw_value(&g)
                                .map_err(|e| corrupt("groups", e)),
                            PageChange::Conversation(c) => Ok(c.json),
                        })
                        .collect::<Result<_, _>>()?;
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
