//! What the server benches share: their secrets, environment knobs, the runtime and scratch
//! directory they run in, the server they start, and how they print latencies.

#![allow(dead_code)] // each bench uses its own part

use std::path::PathBuf;
use std::time::Duration;

/// The token secret of the benches' servers.
pub const SECRET: &str = "the bench secret";
/// The admin secret of the benches' servers.
pub const ADMIN: &str = "the bench admin secret";

/// `name` from the environment as a number, or `default`.
pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The PostgreSQL to measure against (`TIMCONV_BENCH_POSTGRES_URL`), if one was given.
pub fn postgres_url() -> Option<String> {
    std::env::var("TIMCONV_BENCH_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

/// A multi-thread runtime, as a server and its devices run on.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

/// A fresh directory for the bench's files, named after the bench and this process.
pub fn scratch_dir(bench: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("timconv-{bench}-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a directory");
    dir
}

/// Starts a `timconv-server` on the database at `url`, on 127.0.0.1.
pub async fn http_server(url: &str) -> timconv_server::Running {
    let options = timconv_server::Options::new(url, SECRET, ADMIN);
    timconv_server::start(options).await.expect("a server")
}

/// The `q` quantile of sorted `v` (nearest rank), in milliseconds.
pub fn at(v: &[Duration], q: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let i = ((v.len() as f64 * q).ceil() as usize).clamp(1, v.len()) - 1;
    v[i].as_secs_f64() * 1000.0
}

/// p50 / p99 / max of `v`, in milliseconds (sorts it).
pub fn quantiles(v: &mut [Duration]) -> String {
    v.sort();
    format!("{:.1} / {:.1} / {:.1}", at(v, 0.5), at(v, 0.99), at(v, 1.0))
}
