//! Accepting a call: the checks every conversation function makes at once, and the job that
//! carries it out in turn and answers it.

use std::ffi::{c_int, c_void};
use std::future::Future;
use std::sync::Arc;

use timconv::ConversationManager;

use crate::codes::{Failure, Outcome, TIM_ERR_NOTLOGIN, TIM_ERR_SDKUNINIT, TIM_SUCC};
use crate::delivery::Reply;
use crate::ffi::TIMCommCallback;
use crate::sdk;
use crate::session::Core;

/// Accepts a call that needs the logged-in user and answers through `cb`.
///
/// Returns `TIM_ERR_SDKUNINIT` / `TIM_ERR_NOTLOGIN` first, then whatever `prepare` refuses
/// (it reads and checks the parameters); otherwise queues the operation `prepare` returned and
/// returns `TIM_SUCC`. When its turn comes the operation runs with the manager (or fails with
/// 6014 if the user logged out meanwhile), and its outcome goes to `cb`, exactly once, after
/// the events of every change made so far have been posted to the listeners.
pub(crate) fn with_manager<Op, Fut>(
    cb: TIMCommCallback,
    user_data: *const c_void,
    prepare: impl FnOnce() -> Result<Op, c_int>,
) -> c_int
where
    Op: FnOnce(ConversationManager) -> Fut + Send + 'static,
    Fut: Future<Output = Outcome> + Send + 'static,
{
    with_core(cb, user_data, || {
        let op = prepare()?;
        Ok(move |core: Arc<Core>| async move {
            match core.manager() {
                Some(manager) => op(manager).await,
                None => Err(Failure::not_logged_in()),
            }
        })
    })
}

/// As [`with_manager`], for operations that need the session's state, not only its manager.
pub(crate) fn with_core<Op, Fut>(
    cb: TIMCommCallback,
    user_data: *const c_void,
    prepare: impl FnOnce() -> Result<Op, c_int>,
) -> c_int
where
    Op: FnOnce(Arc<Core>) -> Fut + Send + 'static,
    Fut: Future<Output = Outcome> + Send + 'static,
{
    let state = sdk::current();
    let Some(sdk) = state.as_ref() else {
        return TIM_ERR_SDKUNINIT;
    };
    if !sdk.core.logged_in() {
        return TIM_ERR_NOTLOGIN;
    }
    let op = match prepare() {
        Ok(op) => op,
        Err(code) => return code,
    };
    let reply = Reply::new(cb, user_data, &sdk.core.callbacks);
    let core = Arc::clone(&sdk.core);
    sdk.submit(async move {
        let outcome = op(Arc::clone(&core)).await;
        core.post_events();
        reply.finish(outcome);
    });
    TIM_SUCC
}

/// Carries out a call that has no callback, in turn, and waits for it: `TIM_SUCC`, or the
/// `TIMResult` of its failure. Same checks as [`with_core`]; it returns after the events of
/// its change have been posted to the listeners.
pub(crate) fn blocking<Op, Fut>(prepare: impl FnOnce() -> Result<Op, c_int>) -> c_int
where
    Op: FnOnce(Arc<Core>) -> Fut + Send + 'static,
    Fut: Future<Output = Outcome> + Send + 'static,
{
    let (answer, answered) = std::sync::mpsc::sync_channel::<Outcome>(1);
    {
        let state = sdk::current();
        let Some(sdk) = state.as_ref() else {
            return TIM_ERR_SDKUNINIT;
        };
        if !sdk.core.logged_in() {
            return TIM_ERR_NOTLOGIN;
        }
        let op = match prepare() {
            Ok(op) => op,
            Err(code) => return code,
        };
        let core = Arc::clone(&sdk.core);
        sdk.submit(async move {
            let outcome = op(Arc::clone(&core)).await;
            core.post_events();
            let _ = answer.send(outcome);
        });
        // The state is released before waiting, so that uninitialising can go ahead; it
        // carries out this job too, or drops it (then the wait ends without an answer).
    }
    match answered.recv() {
        Ok(Ok(_)) => TIM_SUCC,
        Ok(Err(failure)) => {
            tracing::debug!(code = failure.code, desc = %failure.desc, "a call failed");
            failure.as_result()
        }
        Err(_) => TIM_ERR_SDKUNINIT,
    }
}

/// The logged-in manager of `core`, or 6014.
pub(crate) fn manager(core: &Core) -> Result<ConversationManager, Failure> {
    core.manager().ok_or_else(Failure::not_logged_in)
}
