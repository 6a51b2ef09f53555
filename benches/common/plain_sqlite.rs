//! The baseline a list is measured against: the same conversations in one plain SQLite table
//! with an index on `(pinned, active_time)`, queried through sqlx, as an app without an
//! in-memory index would page them.

use std::sync::Arc;

use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use timconv::{Conversation, ConversationFilter, ConversationType};

/// One row as the query returns it: what a list screen shows.
pub type PlainRow = (String, String, i64, i64, String);

/// An in-memory SQLite database (one connection, kept open) holding one row per
/// conversation.
pub struct PlainSqlite {
    pool: SqlitePool,
}

impl PlainSqlite {
    /// A table of `conversations`, in one transaction of multi-row inserts.
    pub async fn load(conversations: &[Arc<Conversation>]) -> Self {
        let options: SqliteConnectOptions = "sqlite::memory:".parse().expect("an in-memory URL");
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await
            .expect("open an in-memory database");
        sqlx::query(
            "CREATE TABLE conversations (
                id TEXT PRIMARY KEY NOT NULL,
                conv_type INTEGER NOT NULL,
                pinned INTEGER NOT NULL,
                active_time INTEGER NOT NULL,
                marks INTEGER NOT NULL,
                folders TEXT NOT NULL,
                unread INTEGER NOT NULL,
                has_at INTEGER NOT NULL,
                show_name TEXT NOT NULL,
                last_message TEXT NOT NULL
            )",
        )
        .execute(&pool)
        .await
        .expect("create the table");
        sqlx::query("CREATE INDEX conversations_order ON conversations (pinned, active_time)")
            .execute(&pool)
            .await
            .expect("create the index");
        let mut tx = pool.begin().await.expect("begin");
        for chunk in conversations.chunks(500) {
            let mut insert = sqlx::QueryBuilder::new(
                "INSERT INTO conversations (id, conv_type, pinned, active_time, marks, folders, \
                 unread, has_at, show_name, last_message) ",
            );
            insert.push_values(chunk, |mut row, c| {
                let folders = if c.folders.is_empty() {
                    String::new()
                } else {
                    format!(",{},", c.folders.join(","))
                };
                let last = c
                    .last_message
                    .as_ref()
                    .and_then(|m| serde_json::to_string(m).ok())
                    .unwrap_or_default();
                row.push_bind(c.id.to_string())
                    .push_bind(i64::from(c.id.kind().as_u32()))
                    .push_bind(i64::from(c.is_pinned))
                    .push_bind(i64::try_from(c.order_key).unwrap_or(i64::MAX))
                    .push_bind(i64::from_ne_bytes(c.marks.bits().to_ne_bytes()))
                    .push_bind(folders)
                    .push_bind(i64::try_from(c.unread_count).unwrap_or(i64::MAX))
                    .push_bind(i64::from(!c.group_at_info.is_empty()))
                    .push_bind(c.show_name.clone())
                    .push_bind(last);
            });
            insert.build().execute(&mut *tx).await.expect("insert rows");
        }
        tx.commit().await.expect("commit");
        sqlx::query("ANALYZE")
            .execute(&pool)
            .await
            .expect("analyze");
        Self { pool }
    }

    /// The first `count` rows of `filter`'s list, in list order.
    pub async fn first_page(&self, sql: &str) -> Vec<PlainRow> {
        sqlx::query_as::<_, PlainRow>(sqlx::AssertSqlSafe(sql.to_owned()))
            .fetch_all(&self.pool)
            .await
            .expect("select a page")
    }
}

/// The query of the first `count` rows of `filter`'s list (the filter's values are literals:
/// numbers and the benches' own folder names).
pub fn first_page_sql(filter: &ConversationFilter, count: u32) -> String {
    let mut conditions = Vec::new();
    if let Some(t) = filter.conv_type {
        let t = match t {
            ConversationType::C2c | ConversationType::Group => t.as_u32(),
            _ => u32::MAX,
        };
        conditions.push(format!("conv_type = {t}"));
    }
    if let Some(m) = filter.mark {
        let bits = i64::from_ne_bytes(m.bits().to_ne_bytes());
        conditions.push(if m.is_empty() {
            "marks = 0".to_owned()
        } else {
            format!("(marks & {bits}) != 0")
        });
    }
    if let Some(g) = filter.folder.as_deref() {
        conditions.push(if g.is_empty() {
            "folders = ''".to_owned()
        } else {
            format!("folders LIKE '%,{g},%'")
        });
    }
    if let Some(u) = filter.has_unread {
        conditions.push(if u { "unread > 0" } else { "unread = 0" }.to_owned());
    }
    if let Some(a) = filter.has_at_info {
        conditions.push(format!("has_at = {}", i64::from(a)));
    }
    let filter = if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conditions.join(" AND "))
    };
    format!(
        "SELECT id, show_name, unread, marks, last_message FROM conversations {filter} \
         ORDER BY pinned DESC, active_time DESC LIMIT {count}"
    )
}
