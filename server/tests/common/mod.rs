//! What the server's tests share: servers over SQLite and (when a URL is given) PostgreSQL,
//! in this process or as `timconv-server` processes, a raw HTTP client.

#![allow(dead_code)]

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use timconv_server::{Options, Running};

pub const SECRET: &str = "the test secret";
pub const ADMIN: &str = "the test admin secret";

/// The PostgreSQL URL the tests use, from `TIMCONV_TEST_POSTGRES_URL` (`scripts/with-postgres`
/// sets it).
pub fn postgres_url() -> Option<String> {
    std::env::var("TIMCONV_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

/// Says loudly that a PostgreSQL test did not run.
pub fn skipped(test: &str) {
    eprintln!(
        "\n*** SKIPPED {test}: TIMCONV_TEST_POSTGRES_URL is not set, so this PostgreSQL test \
         did not run (scripts/with-postgres sets it) ***\n"
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
        Self::at(&server.url())
    }

    /// A client of the server at `base` (`http://host:port`).
    pub fn at(base: &str) -> Self {
        Self {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("client"),
            base: base.to_owned(),
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

/// A free port on 127.0.0.1 (free when asked: a server started on it soon after gets it).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Starts the `timconv-server` binary on `url`, listening on 127.0.0.1:`port`, with the test
/// secrets and `args` after `serve`.
pub fn spawn(url: &str, port: u16, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_timconv-server"))
        .args(["serve", "--database-url", url, "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .args(args)
        .env("TIMCONV_SECRET", SECRET)
        .env("TIMCONV_ADMIN_SECRET", ADMIN)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("start the server binary")
}

/// Waits (up to 10 s) until the server at `base` answers its health check.
pub async fn wait_ready(http: &reqwest::Client, base: &str) {
    for _ in 0..400 {
        if http
            .get(format!("{base}/v1/health"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the server did not come up at {base}");
}

/// A `timconv-server` process on 127.0.0.1. Dropping it kills it (SIGKILL) and reaps it.
pub struct ServerProcess {
    child: Option<Child>,
    base: String,
}

impl ServerProcess {
    /// Starts one over `url`, with `args` after `serve`, and waits until it answers.
    pub async fn start(url: &str, args: &[&str]) -> Self {
        let port = free_port();
        let child = spawn(url, port, args);
        let process = Self {
            child: Some(child),
            base: format!("http://127.0.0.1:{port}"),
        };
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .expect("client");
        wait_ready(&http, &process.base).await;
        process
    }

    /// Its base URL.
    pub fn url(&self) -> &str {
        &self.base
    }

    /// Its process ID.
    pub fn id(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Asks it to stop (SIGTERM) and waits up to `grace` for it to exit; kills it (SIGKILL)
    /// past that. Returns whether it stopped by itself.
    pub async fn stop(mut self, grace: Duration) -> bool {
        let Some(mut child) = self.child.take() else {
            return true;
        };
        let asked = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        let until = Instant::now() + grace;
        while asked && Instant::now() < until {
            if matches!(child.try_wait(), Ok(Some(_))) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
        false
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
