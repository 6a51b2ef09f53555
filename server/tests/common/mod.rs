//! What the server's tests share: servers over SQLite and (when a URL is given) PostgreSQL,
//! a raw HTTP client, devices.

#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::Value;
use timconv_server::{Options, Running};

pub const SECRET: &str = "the test secret";
pub const ADMIN: &str = "the test admin secret";

/// The PostgreSQL URL the tests use, from `TIMCONV_TEST_POSTGRES_URL` (`.ci/run` sets it).
pub fn postgres_url() -> Option<String> {
    std::env::var("TIMCONV_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

/// Says loudly that a PostgreSQL test did not run.
pub fn skipped(test: &str) {
    eprintln!(
        "\n*** SKIPPED {test}: TIMCONV_TEST_POSTGRES_URL is not set, so this PostgreSQL test \
         did not run (.ci/run sets it) ***\n"
    );
}

pub fn options(url: &str) -> Options {
    Options::new(url, SECRET, ADMIN).poll_interval(Duration::from_millis(50))
}

pub async fn sqlite() -> Running {
    timconv_server::start(options("sqlite::memory:"))
        .await
        .expect("start a server over SQLite")
}

pub async fn postgres() -> Option<Running> {
    let url = postgres_url()?;
    Some(
        timconv_server::start(options(&url))
            .await
            .expect("start a server over PostgreSQL"),
    )
}

/// A user name no other test (or earlier run on the same database) uses.
pub fn unique(name: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{name}-{now:x}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

pub fn token(user: &str) -> String {
    timconv_server::Keys::new(SECRET, ADMIN).mint(user, 3600)
}

/// Raw HTTP against a server, for the tests of what the wire accepts.
pub struct Raw {
    http: reqwest::Client,
    base: String,
}

impl Raw {
    pub fn new(server: &Running) -> Self {
        Self {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("client"),
            base: server.url(),
        }
    }

    /// POSTs `body` (raw bytes) with `auth` as the bearer, if any.
    pub async fn post(
        &self,
        path: &str,
        auth: Option<&str>,
        body: impl Into<Vec<u8>>,
    ) -> (u16, Value) {
        let mut request = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .header("timconv-device", "raw")
            .body(body.into());
        if let Some(auth) = auth {
            request = request.header("authorization", format!("Bearer {auth}"));
        }
        let response = request.send().await.expect("the server answers");
        let status = response.status().as_u16();
        let bytes = response.bytes().await.expect("a body");
        let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, value)
    }

    pub async fn json(&self, path: &str, auth: Option<&str>, body: &Value) -> (u16, Value) {
        self.post(path, auth, body.to_string()).await
    }

    pub async fn deliver(
        &self,
        user: &str,
        conversation: &str,
        message: &timconv::Message,
    ) -> (u16, Value) {
        let body =
            serde_json::json!({"user": user, "conversation": conversation, "message": message});
        self.json("/admin/v1/deliver", Some(ADMIN), &body).await
    }

    /// A full pull of `user`'s state (one big page).
    pub async fn state(&self, user: &str) -> Value {
        let (status, page) = self
            .json(
                "/v1/pull",
                Some(&token(user)),
                &serde_json::json!({"since": null, "limit": 1000}),
            )
            .await;
        assert_eq!(status, 200, "{page}");
        page
    }
}

/// Runs `$check(server)` against SQLite, and against PostgreSQL when a URL is set.
#[macro_export]
macro_rules! on_both {
    ($sqlite:ident, $postgres:ident, $check:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $sqlite() {
            let server = common::sqlite().await;
            $check(&server).await;
            server.shutdown().await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $postgres() {
            let Some(server) = common::postgres().await else {
                common::skipped(stringify!($postgres));
                return;
            };
            $check(&server).await;
            server.shutdown().await;
        }
    };
}
