//! Unread counts: the total, by filter, subscriptions to a filter's count, and cleaning.

use std::ffi::{c_char, c_int, c_void};
use std::sync::Arc;

use timconv::{CleanTarget, ConversationFilter, ConversationManager};

use crate::calls::{blocking, with_manager};
use crate::codes::{Failure, Outcome};
use crate::ffi::{TIMCommCallback, entry, text};
use crate::input::object;
use crate::session::Core;

/// `GetTotalUnreadNumberResult`: `{"conv_get_total_unread_message_count_result_unread_count": n}`.
fn unread_result(count: u64) -> Outcome {
    Ok(serde_json::json!({
        "conv_get_total_unread_message_count_result_unread_count": count
    })
    .to_string())
}

/// The total unread. The callback receives a `GetTotalUnreadNumberResult`.
///
/// # Safety
/// `cb` is NULL or a function of the `TIMCommCallback` prototype.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn TIMConvGetTotalUnreadMessageCount(
    cb: TIMCommCallback,
    user_data: *const c_void,
) -> c_int {
    entry("TIMConvGetTotalUnreadMessageCount", || {
        with_manager(cb, user_data, || {
            Ok(|manager: ConversationManager| async move { unread_result(manager.total_unread()) })
        })
    })
}

/// The unread count over the conversations matching `filter`. The callback receives a
/// `GetTotalUnreadNumberResult`.
///
/// # Safety
/// `filter` is NULL or a NUL-terminated string valid for the duration of the call; `cb` is
/// NULL or a function of the `TIMCommCallback` prototype.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn TIMConvGetUnreadMessageCountByFilter(
    filter: *const c_char,
    cb: TIMCommCallback,
    user_data: *const c_void,
) -> c_int {
    entry("TIMConvGetUnreadMessageCountByFilter", || {
        with_manager(cb, user_data, || {
            // SAFETY: the function's contract.
            let filter: ConversationFilter = object(unsafe { text(filter) }?)?;
            Ok(move |manager: ConversationManager| async move {
                unread_result(manager.unread_by_filter(&filter)?)
            })
        })
    })
}

/// Reports each change of `filter`'s unread count to the listener of
/// `TIMSetConvUnreadMessageCountChangedByFilterCallback`, until unsubscribed or logged out.
///
/// # Safety
/// `filter` is NULL or a NUL-terminated string valid for the duration of the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn TIMConvSubscribeUnreadMessageCountByFilter(
    filter: *const c_char,
) -> c_int {
    entry("TIMConvSubscribeUnreadMessageCountByFilter", || {
        blocking(|| {
            // SAFETY: the function's contract.
            let text = unsafe { text(filter) }?;
            let filter: ConversationFilter = object(text)?;
            let text = text.to_owned();
            Ok(move |core: Arc<Core>| async move {
                core.with_session(|session| session.subscribe(filter, text))
                    .unwrap_or_else(|| Err(Failure::not_logged_in()))
            })
        })
    })
}

/// Ends the subscription of an equal filter.
///
/// # Safety
/// `filter` is NULL or a NUL-terminated string valid for the duration of the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn TIMConvUnsubscribeUnreadMessageCountByFilter(
    filter: *const c_char,
) -> c_int {
    entry("TIMConvUnsubscribeUnreadMessageCountByFilter", || {
        blocking(|| {
            // SAFETY: the function's contract.
            let filter: ConversationFilter = object(unsafe { text(filter) }?)?;
            Ok(move |core: Arc<Core>| async move {
                core.with_session(|session| session.unsubscribe(&filter))
                    .ok_or_else(Failure::not_logged_in)?;
                Ok(String::new())
            })
        })
    })
}

/// Marks messages read in one conversation (a full ID) or in all C2C (`"c2c"`), all group
/// (`"group"`) or all (`""`) conversations: C2C ones up to `clean_timestamp`, group ones up to
/// `clean_sequence`, 0 meaning everything. The callback receives `""`.
///
/// # Safety
/// `conversation_id` is NULL or a NUL-terminated string valid for the duration of the call;
/// `cb` is NULL or a function of the `TIMCommCallback` prototype.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn TIMConvCleanConversationUnreadMessageCount(
    conversation_id: *const c_char,
    clean_timestamp: u64,
    clean_sequence: u64,
    cb: TIMCommCallback,
    user_data: *const c_void,
) -> c_int {
    entry("TIMConvCleanConversationUnreadMessageCount", || {
        with_manager(cb, user_data, || {
            // SAFETY: the function's contract.
            let target = unsafe { text(conversation_id) }?.to_owned();
            Ok(move |manager: ConversationManager| async move {
                let target = CleanTarget::parse(&target)?;
                // The original's 0 means "everything" for that kind of conversation.
                let up_to = timconv::ReadUpTo::Positions {
                    timestamp: (clean_timestamp != 0).then_some(clean_timestamp),
                    sequence: (clean_sequence != 0).then_some(clean_sequence),
                };
                manager.clean_unread(target, up_to).await?;
                Ok(String::new())
            })
        })
    })
}
