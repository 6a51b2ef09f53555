//! What a C program pays per call: the round trip of a read (`TIMConvGetTotalUnreadMessageCount`
//! until its callback ran) and of a write (`TIMConvExtFeedMessage`), one at a time and as a
//! burst of calls made without waiting. Run with `cargo bench -p timconv-capi --bench calls`.

use std::ffi::{CString, c_char, c_void};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use timconv_c::*;

/// Callbacks received so far.
static DONE: Mutex<u64> = Mutex::new(0);
static ARRIVED: Condvar = Condvar::new();

unsafe extern "C" fn on_result(code: i32, _: *const c_char, _: *const c_char, _: *const c_void) {
    assert_eq!(code, 0, "the benchmarked calls succeed");
    *DONE.lock().expect("lock") += 1;
    ARRIVED.notify_all();
}

fn wait_until(n: u64) {
    let mut done = DONE.lock().expect("lock");
    while *done < n {
        done = ARRIVED.wait(done).expect("lock");
    }
}

fn ud() -> *const c_void {
    std::ptr::null()
}

fn c(text: &str) -> CString {
    CString::new(text).expect("no NUL")
}

fn setup() {
    let dir = std::env::temp_dir().join(format!("timconv-capi-bench-{}", std::process::id()));
    let config = c(&format!(
        r#"{{"sdk_config_config_file_path":"{}"}}"#,
        dir.display()
    ));
    let (user, sig) = (c("bench"), c(""));
    // SAFETY: valid C strings and callback.
    unsafe {
        assert_eq!(TIMInit(1, config.as_ptr()), TIM_SUCC);
        assert_eq!(
            TIMLogin(
                user.as_ptr(),
                sig.as_ptr(),
                Some(on_result),
                std::ptr::null()
            ),
            TIM_SUCC
        );
    }
    wait_until(1);
}

fn message(n: u64) -> CString {
    c(&format!(
        r#"{{"message_conv_id":"peer{}","message_conv_type":1,"message_msg_id":"m{n}","message_server_time":{}}}"#,
        n % 100,
        1_700_000_000 + n
    ))
}

fn calls(crit: &mut Criterion) {
    setup();
    let mut issued = 1u64;
    let mut group = crit.benchmark_group("c_api");
    group.bench_function("read_round_trip", |b| {
        b.iter(|| {
            // SAFETY: a valid callback.
            let ret =
                unsafe { TIMConvGetTotalUnreadMessageCount(Some(on_result), std::ptr::null()) };
            assert_eq!(ret, TIM_SUCC);
            issued += 1;
            wait_until(issued);
        });
    });
    group.bench_function("feed_round_trip", |b| {
        b.iter(|| {
            let m = message(issued);
            // SAFETY: a valid C string and callback.
            let ret =
                unsafe { TIMConvExtFeedMessage(m.as_ptr(), Some(on_result), std::ptr::null()) };
            assert_eq!(ret, TIM_SUCC);
            issued += 1;
            wait_until(issued);
        });
    });
    group.sample_size(10);
    group.bench_function("feed_burst_1000", |b| {
        b.iter_custom(|iters| {
            let mut elapsed = Duration::ZERO;
            for _ in 0..iters {
                let messages: Vec<CString> = (0..1000).map(|i| message(issued + i)).collect();
                let start = Instant::now();
                for m in &messages {
                    // SAFETY: a valid C string and callback.
                    let ret = unsafe { TIMConvExtFeedMessage(m.as_ptr(), Some(on_result), ud()) };
                    assert_eq!(ret, TIM_SUCC);
                }
                issued += 1000;
                wait_until(issued);
                elapsed += start.elapsed();
            }
            elapsed
        });
    });
    group.finish();
    assert_eq!(TIMUninit(), TIM_SUCC);
}

criterion_group!(benches, calls);
criterion_main!(benches);
