//! Writes: a push, deliveries and forgetting history. Each is one serializable transaction
//! that loads the user's head and only the rows it needs, runs the shared rules of
//! [`timconv::transport::account`] and saves what they changed.

use std::collections::HashMap;

use sqlx::{AnyConnection, AssertSqlSafe, Row};
use timconv::transport::account::{Account, Changes};
use timconv::transport::{OpId, OpOutcome, PendingOperation, PushResponse};
use timconv::{ConversationId, Message};

use super::{CHUNK, Db, DbError, corrupt, load_head, placeholders, to_i64};

impl Db {
    /// Applies a push from `device` of `user`. Returns the answer and, if anything changed,
    /// the user's versions before and after it.
    pub async fn push(
        &self,
        user: &str,
        device: &str,
        ops: &[PendingOperation],
    ) -> Result<(PushResponse, Option<(u64, u64)>), DbError> {
        let needs = Account::needs(ops);
        transaction!(self, |tx| {
            async {
                let row = load_head(&mut tx, user).await?;
                let mut account = Account::new(self.limits, row.head.clone());
                load_records(&mut tx, user, &needs.conversations, &mut account).await?;
                if needs.group_members {
                    let members: Vec<String> =
                        sqlx::query("SELECT DISTINCT conv_id FROM memberships WHERE user_id = $1")
                            .bind(user)
                            .fetch_all(&mut *tx)
                            .await?
                            .iter()
                            .map(|r| r.try_get::<String, _>(0))
                            .collect::<Result<_, _>>()?;
                    let missing: Vec<ConversationId> = members
                        .iter()
                        .filter_map(|m| m.parse::<ConversationId>().ok())
                        .filter(|id| account.record(id).is_none())
                        .collect();
                    load_records(&mut tx, user, &missing, &mut account).await?;
                }
                let remembered = load_outcomes(&mut tx, user, &needs.outcomes).await?;
                let (response, changed) = account.push(ops, &remembered);
                let changes = account.take_changes();
                save(&mut tx, user, &account, row.operations, &changes).await?;
                let version = account.head().version;
                let from = row.head.version;
                if changed {
                    self.notify(&mut tx, user, Some(device), (from, version), None)
                        .await?;
                }
                Ok::<_, DbError>((response, changed.then_some((from, version))))
            }
            .await
        })
    }

    /// The server receives `message` for `user` in `conversation`. Returns the user's versions
    /// before and after it if it was stored (`None`: a duplicate or stale message, ignored).
    pub async fn deliver(
        &self,
        user: &str,
        conversation: &ConversationId,
        message: &Message,
    ) -> Result<Option<(u64, u64)>, DbError> {
        transaction!(self, |tx| {
            async {
                let row = load_head(&mut tx, user).await?;
                let mut account = Account::new(self.limits, row.head.clone());
                load_records(
                    &mut tx,
                    user,
                    std::slice::from_ref(conversation),
                    &mut account,
                )
                .await?;
                if !account.deliver(conversation, message.clone()) {
                    return Ok(None);
                }
                let changes = account.take_changes();
                save(&mut tx, user, &account, row.operations, &changes).await?;
                let version = account.head().version;
                let event = timconv::transport::ServerEvent::Message {
                    conversation: conversation.clone(),
                    message: message.clone(),
                };
                let versions = (row.head.version, version);
                self.notify(&mut tx, user, None, versions, Some(event))
                    .await?;
                Ok::<_, DbError>(Some(versions))
            }
            .await
        })
    }

    /// The server receives `messages` for `user`, in order, in one transaction: as many
    /// [`deliver`](Self::deliver)s, with one hint for all. Returns how many were stored (the
    /// others were duplicates or stale) and, if any was, the user's versions before and after.
    pub async fn deliver_many(
        &self,
        user: &str,
        messages: &[(ConversationId, Message)],
    ) -> Result<(usize, Option<(u64, u64)>), DbError> {
        let mut seen = std::collections::HashSet::new();
        let ids: Vec<ConversationId> = messages
            .iter()
            .map(|(id, _)| id)
            .filter(|id| seen.insert(*id))
            .cloned()
            .collect();
        transaction!(self, |tx| {
            async {
                let row = load_head(&mut tx, user).await?;
                let mut account = Account::new(self.limits, row.head.clone());
                load_records(&mut tx, user, &ids, &mut account).await?;
                let stored = messages
                    .iter()
                    .filter(|(id, message)| account.deliver(id, message.clone()))
                    .count();
                if stored == 0 {
                    return Ok((0, None));
                }
                let changes = account.take_changes();
                save(&mut tx, user, &account, row.operations, &changes).await?;
                let versions = (row.head.version, account.head().version);
                self.notify(&mut tx, user, None, versions, None).await?;
                Ok::<_, DbError>((stored, Some(versions)))
            }
            .await
        })
    }

    /// Forgets `user`'s change history up to now: older bookmarks get `too_far_behind`, and
    /// tombstones are dropped. An administrative operation: it reads the whole account.
    pub async fn forget_history(&self, user: &str) -> Result<(u64, u64), DbError> {
        transaction!(self, |tx| {
            async {
                let row = load_head(&mut tx, user).await?;
                let mut account = Account::new(self.limits, row.head.clone());
                let rows = sqlx::query(
                    "SELECT conv_id, record_json FROM conversations WHERE user_id = $1",
                )
                .bind(user)
                .fetch_all(&mut *tx)
                .await?;
                for r in &rows {
                    add_record(
                        &mut account,
                        &r.try_get::<String, _>(0)?,
                        &r.try_get::<String, _>(1)?,
                    )?;
                }
                account.forget_history();
                let changes = account.take_changes();
                save(&mut tx, user, &account, row.operations, &changes).await?;
                let version = account.head().version;
                let versions = (row.head.version, version);
                self.notify(&mut tx, user, None, versions, None).await?;
                Ok::<_, DbError>(versions)
            }
            .await
        })
    }
}

fn add_record(account: &mut Account, id: &str, json: &str) -> Result<(), DbError> {
    let id = id
        .parse::<ConversationId>()
        .map_err(|e| corrupt("conversation ID", e))?;
    let record = serde_json::from_str(json).map_err(|e| corrupt("record", e))?;
    account.load(id, record);
    Ok(())
}

async fn load_records(
    tx: &mut AnyConnection,
    user: &str,
    ids: &[ConversationId],
    account: &mut Account,
) -> Result<(), DbError> {
    for chunk in ids.chunks(CHUNK) {
        let sql = format!(
            "SELECT conv_id, record_json FROM conversations \
             WHERE user_id = $1 AND conv_id IN ({})",
            placeholders(2, chunk.len())
        );
        let mut query = sqlx::query(AssertSqlSafe(sql.as_str())).bind(user);
        for id in chunk {
            query = query.bind(id.as_str());
        }
        for r in query.fetch_all(&mut *tx).await? {
            add_record(
                account,
                &r.try_get::<String, _>(0)?,
                &r.try_get::<String, _>(1)?,
            )?;
        }
    }
    Ok(())
}

async fn load_outcomes(
    tx: &mut AnyConnection,
    user: &str,
    ids: &[OpId],
) -> Result<HashMap<OpId, OpOutcome>, DbError> {
    let mut out = HashMap::new();
    for chunk in ids.chunks(CHUNK) {
        let sql = format!(
            "SELECT op_id, outcome_json FROM operations WHERE user_id = $1 AND op_id IN ({})",
            placeholders(2, chunk.len())
        );
        let mut query = sqlx::query(AssertSqlSafe(sql.as_str())).bind(user);
        for id in chunk {
            query = query.bind(id.0.as_str());
        }
        for r in query.fetch_all(&mut *tx).await? {
            let outcome: String = r.try_get(1)?;
            let outcome = serde_json::from_str(&outcome).map_err(|e| corrupt("outcome", e))?;
            out.insert(OpId(r.try_get(0)?), outcome);
        }
    }
    Ok(out)
}

/// Writes back what a request changed: the head, the changed rows, renames and outcomes.
async fn save(
    tx: &mut AnyConnection,
    user: &str,
    account: &Account,
    operations: u64,
    changes: &Changes,
) -> Result<(), DbError> {
    let head = account.head();
    let groups = serde_json::to_string(&head.folders).map_err(|e| corrupt("groups", e))?;
    sqlx::query(
        "INSERT INTO users (user_id, version, history_floor, groups_version, next_group_id, \
         pinned, decorated, operations, groups_json) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (user_id) DO UPDATE SET version = excluded.version, \
         history_floor = excluded.history_floor, groups_version = excluded.groups_version, \
         next_group_id = excluded.next_group_id, pinned = excluded.pinned, \
         decorated = excluded.decorated, operations = excluded.operations, \
         groups_json = excluded.groups_json",
    )
    .bind(user)
    .bind(to_i64(head.version)?)
    .bind(to_i64(head.history_floor)?)
    .bind(to_i64(head.groups_version)?)
    .bind(to_i64(head.next_group_id)?)
    .bind(to_i64(head.pinned)?)
    .bind(to_i64(head.decorated)?)
    .bind(to_i64(operations + changes.outcomes.len() as u64)?)
    .bind(groups)
    .execute(&mut *tx)
    .await?;
    for id in &changes.conversations {
        sqlx::query("DELETE FROM memberships WHERE user_id = $1 AND conv_id = $2")
            .bind(user)
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        let Some(record) = account.record(id) else {
            sqlx::query("DELETE FROM conversations WHERE user_id = $1 AND conv_id = $2")
                .bind(user)
                .bind(id.as_str())
                .execute(&mut *tx)
                .await?;
            continue;
        };
        let json = serde_json::to_string(record).map_err(|e| corrupt("record", e))?;
        let view = match account.view(id) {
            Some(v) => Some(serde_json::to_string(&v).map_err(|e| corrupt("view", e))?),
            None => None,
        };
        sqlx::query(
            "INSERT INTO conversations (user_id, conv_id, version, visible, live, record_json, \
             view_json) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (user_id, conv_id) DO UPDATE SET version = excluded.version, \
             visible = excluded.visible, live = excluded.live, \
             record_json = excluded.record_json, view_json = excluded.view_json",
        )
        .bind(user)
        .bind(id.as_str())
        .bind(to_i64(record.version())?)
        .bind(i64::from(record.is_visible()))
        .bind(i64::from(record.is_alive()))
        .bind(json)
        .bind(view)
        .execute(&mut *tx)
        .await?;
        for gid in record.group_ids() {
            sqlx::query(
                "INSERT INTO memberships (user_id, group_id, conv_id) VALUES ($1, $2, $3) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(user)
            .bind(to_i64(*gid)?)
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        }
    }
    if changes.renames_forgotten {
        sqlx::query("DELETE FROM renames WHERE user_id = $1")
            .bind(user)
            .execute(&mut *tx)
            .await?;
    }
    for (seq, (version, rename)) in changes.renames.iter().enumerate() {
        sqlx::query(
            "INSERT INTO renames (user_id, version, seq, from_name, to_name) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(user)
        .bind(to_i64(*version)?)
        .bind(to_i64(seq as u64)?)
        .bind(rename.from.as_str())
        .bind(rename.to.as_str())
        .execute(&mut *tx)
        .await?;
    }
    for (n, (id, outcome)) in changes.outcomes.iter().enumerate() {
        let json = serde_json::to_string(outcome).map_err(|e| corrupt("outcome", e))?;
        sqlx::query(
            "INSERT INTO operations (user_id, op_id, seq, outcome_json) VALUES ($1, $2, $3, $4)",
        )
        .bind(user)
        .bind(id.0.as_str())
        .bind(to_i64(operations + n as u64)?)
        .bind(json)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}
