//! The callback thread: the one thread of the library that calls a C program's callbacks and
//! listeners, one at a time, in the order they were posted.
//!
//! Running every callback there means a C program never sees two callbacks at once and never
//! sees one inside its own call (a call made from a callback is carried out later, after that
//! callback returns). The strings a callback receives live until it returns.

use std::ffi::c_void;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::thread::{JoinHandle, ThreadId};

use timconv::ErrorCode;

use crate::codes::{Failure, Outcome};
use crate::ffi::{TIMCommCallback, UserData, c_string};

/// Something to run on the callback thread.
pub(crate) type Delivery = Box<dyn FnOnce() + Send>;

/// The callback thread and its queue.
pub(crate) struct CallbackThread {
    queue: Mutex<Option<mpsc::Sender<Delivery>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    id: ThreadId,
    /// Set when `TIMUninit` starts: a call dropped from then on failed because of it.
    closing: AtomicBool,
}

impl CallbackThread {
    /// Starts the thread.
    pub(crate) fn start() -> std::io::Result<Arc<Self>> {
        let (queue, deliveries) = mpsc::channel::<Delivery>();
        let thread = std::thread::Builder::new()
            .name("timconv-callbacks".into())
            .spawn(move || {
                // Ends once the queue is closed and every delivery in it has run.
                for delivery in deliveries {
                    if catch_unwind(AssertUnwindSafe(delivery)).is_err() {
                        tracing::error!("preparing a callback panicked; please report it");
                    }
                }
            })?;
        Ok(Arc::new(Self {
            queue: Mutex::new(Some(queue)),
            id: thread.thread().id(),
            thread: Mutex::new(Some(thread)),
            closing: AtomicBool::new(false),
        }))
    }

    /// Queues `delivery`. After [`close`](Self::close) it is dropped (nothing is posted then:
    /// uninitialising closes the queue only after every call has been answered).
    pub(crate) fn post(&self, delivery: Delivery) {
        let queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        match queue.as_ref() {
            Some(queue) if queue.send(delivery).is_ok() => {}
            _ => tracing::debug!("a callback was posted after the callback thread stopped"),
        }
    }

    /// Whether the calling thread is the callback thread.
    pub(crate) fn is_current(&self) -> bool {
        std::thread::current().id() == self.id
    }

    /// Notes that uninitialising has started.
    pub(crate) fn set_closing(&self) {
        self.closing.store(true, Ordering::SeqCst);
    }

    /// Closes the queue and waits until every delivery in it has run, unless called from the
    /// callback thread itself (from a callback), which then stops after the current callback.
    pub(crate) fn close(&self) {
        drop(
            self.queue
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take(),
        );
        let thread = self
            .thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(thread) = thread
            && !self.is_current()
            && thread.join().is_err()
        {
            tracing::error!("the callback thread panicked");
        }
    }
}

/// The callback of one accepted call. It is called exactly once: with the call's outcome by
/// [`finish`](Self::finish), or, if the call is dropped unfinished (the SDK was uninitialised
/// before it could run), with `ERR_SDK_NOT_INITIALIZED` when dropped.
pub(crate) struct Reply {
    target: Option<(
        unsafe extern "C" fn(i32, *const std::ffi::c_char, *const std::ffi::c_char, *const c_void),
        UserData,
    )>,
    thread: Arc<CallbackThread>,
}

impl Reply {
    /// A reply to `cb` (none for a NULL `cb`).
    pub(crate) fn new(
        cb: TIMCommCallback,
        user_data: *const c_void,
        thread: &Arc<CallbackThread>,
    ) -> Self {
        Self {
            target: cb.map(|cb| (cb, UserData(user_data))),
            thread: Arc::clone(thread),
        }
    }

    /// Posts the call's outcome to its callback.
    pub(crate) fn finish(mut self, outcome: Outcome) {
        self.send(outcome);
    }

    fn send(&mut self, outcome: Outcome) {
        let Some((cb, user_data)) = self.target.take() else {
            return;
        };
        let (code, desc, json) = match outcome {
            Ok(json) => (0, String::new(), json),
            Err(Failure { code, desc }) => (code, desc, String::new()),
        };
        self.thread.post(Box::new(move || {
            let desc = c_string(desc);
            let json = c_string(json);
            // SAFETY: `cb` is the function the C program passed for this call's result, with
            // the prototype of `TIMCommCallback`; both strings are valid, NUL-terminated and
            // outlive the call; `user_data` goes back exactly as it was given.
            unsafe { cb(code, desc.as_ptr(), json.as_ptr(), user_data.get()) };
        }));
    }
}

impl Drop for Reply {
    fn drop(&mut self) {
        if self.target.is_some() {
            let failure = if self.thread.closing.load(Ordering::SeqCst) {
                Failure::new(
                    ErrorCode::NotInitialized,
                    "the SDK was uninitialised before the call was carried out",
                )
            } else {
                Failure::new(ErrorCode::Internal, "the call failed inside the library")
            };
            self.send(Err(failure));
        }
    }
}
