//! A server process killed (SIGKILL) while devices push: after a restart on the same
//! database, every acknowledged operation is there exactly once, and replaying every push
//! applies nothing twice. Over a SQLite file, and over PostgreSQL when a URL is set.

mod common;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use common::{free_port, token, unique, wait_ready};

fn pin(id: &str, n: usize) -> Value {
    json!({"id": id, "op": "pin", "conversation": format!("c2c_u{}", n % 40), "pinned": !n.is_multiple_of(3)})
}

async fn killed_during_pushes(url: &str) {
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    let user = unique("alice");
    let auth = format!("Bearer {}", token(&user));
    let mut child = common::spawn(url, port, &[]);
    wait_ready(&http, &base).await;

    // Two pushers, each sending batches of three until the server goes away (bounded).
    let acked: Arc<Mutex<BTreeSet<String>>> = Arc::default();
    let sent: Arc<Mutex<Vec<Value>>> = Arc::default();
    let mut pushers = Vec::new();
    for p in 0..2 {
        let (http, base, auth) = (http.clone(), base.clone(), auth.clone());
        let (acked, sent) = (Arc::clone(&acked), Arc::clone(&sent));
        pushers.push(tokio::spawn(async move {
            for batch in 0..2000 {
                let ops: Vec<Value> = (0..3)
                    .map(|k| pin(&format!("p{p}-{batch}-{k}"), batch * 3 + k))
                    .collect();
                sent.lock().expect("lock").extend(ops.iter().cloned());
                let answer = http
                    .post(format!("{base}/v1/push"))
                    .header("authorization", &auth)
                    .header("timconv-device", format!("device-{p}"))
                    .body(json!({"ops": ops}).to_string())
                    .send()
                    .await;
                match answer {
                    Ok(r) if r.status().is_success() => {
                        let mut acked = acked.lock().expect("lock");
                        for op in &ops {
                            acked.insert(op["id"].as_str().unwrap_or_default().to_owned());
                        }
                    }
                    _ => return,
                }
            }
        }));
    }
    for _ in 0..400 {
        if acked.lock().expect("lock").len() >= 60 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    for p in pushers {
        p.await.expect("a pusher");
    }
    let acked = acked.lock().expect("lock").clone();
    assert!(
        acked.len() >= 60,
        "only {} acknowledged before the kill",
        acked.len()
    );

    let mut child = common::spawn(url, port, &[]);
    wait_ready(&http, &base).await;
    let db = timconv_server::Db::connect(url, timconv::Limits::default(), 0)
        .await
        .expect("the database");
    let outcomes = db.outcomes(&user).await.expect("outcomes");
    let stored: Vec<&str> = outcomes.iter().map(|(id, _)| id.0.as_str()).collect();
    let unique_stored: BTreeSet<&str> = stored.iter().copied().collect();
    assert_eq!(
        unique_stored.len(),
        stored.len(),
        "an operation stored twice"
    );
    for id in &acked {
        assert!(
            unique_stored.contains(id.as_str()),
            "acknowledged {id} was lost"
        );
    }
    // Replaying everything sent changes nothing already decided, and stores each once.
    let sent = sent.lock().expect("lock").clone();
    for chunk in sent.chunks(300) {
        let r = http
            .post(format!("{base}/v1/push"))
            .header("authorization", &auth)
            .body(json!({"ops": chunk}).to_string())
            .send()
            .await
            .expect("replay");
        assert!(r.status().is_success());
    }
    let after = db.outcomes(&user).await.expect("outcomes");
    assert_eq!(after.len(), sent.len(), "each operation once");
    for (before, again) in outcomes.iter().zip(&after) {
        assert_eq!(before, again, "a remembered outcome changed");
    }
    db.close().await;
    child.kill().expect("stop");
    child.wait().expect("reaped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_kill_9_during_pushes() {
    let dir = std::env::temp_dir().join(unique("timconv-kill"));
    std::fs::create_dir_all(&dir).expect("dir");
    let url = format!("sqlite:{}?mode=rwc", dir.join("server.db").display());
    killed_during_pushes(&url).await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_kill_9_during_pushes() {
    let Some(url) = common::postgres_url() else {
        common::skipped("postgres_kill_9_during_pushes");
        return;
    };
    killed_during_pushes(&url).await;
}
