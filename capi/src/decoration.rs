//! What a conversation carries besides its messages, and roams to the user's other devices:
//! pin, marks and custom data.

use std::ffi::{c_char, c_int, c_void};

use timconv::{ConversationManager, MarkFlags};

use crate::calls::with_manager;
use crate::ffi::{TIMCommCallback, entry, text};
use crate::input::{conversation_ids, id_strings, legacy_id};

/// Sets custom data (at most 256 bytes; `""` clears) on up to 100 conversations. The callback
/// receives one operation result per distinct conversation.
///
/// # Safety
/// `conversation_id_array` and `custom_data` are NULL or NUL-terminated strings valid for the
/// duration of the call; `cb` is NULL or a function of the `TIMCommCallback` prototype.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn TIMConvSetConversationCustomData(
    conversation_id_array: *const c_char,
    custom_data: *const c_char,
    cb: TIMCommCallback,
    user_data: *const c_void,
) -> c_int {
    entry("TIMConvSetConversationCustomData", || {
        with_manager(cb, user_data, || {
            // SAFETY: the function's contract.
            let ids = id_strings(unsafe { text(conversation_id_array) }?)?;
            // SAFETY: the function's contract.
            let data = unsafe { text(custom_data) }?.to_owned();
            Ok(move |manager: ConversationManager| async move {
                let ids = conversation_ids(&ids)?;
                let outcomes = manager.set_custom_data(&ids, data.as_str()).await?;
                Ok(serde_json::to_string(&outcomes)?)
            })
        })
    })
}

/// Pins or unpins a conversation. The callback receives `""`.
///
/// # Safety
/// `conv_id` is NULL or a NUL-terminated string valid for the duration of the call; `cb` is
/// NULL or a function of the `TIMCommCallback` prototype.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn TIMConvPinConversation(
    conv_id: *const c_char,
    conv_type: c_int,
    is_pinned: bool,
    cb: TIMCommCallback,
    user_data: *const c_void,
) -> c_int {
    entry("TIMConvPinConversation", || {
        with_manager(cb, user_data, || {
            // SAFETY: the function's contract.
            let conv_id = unsafe { text(conv_id) }?.to_owned();
            Ok(move |manager: ConversationManager| async move {
                let id = legacy_id(&conv_id, conv_type)?;
                if is_pinned {
                    manager.pin(&id).await?;
                } else {
                    manager.unpin(&id).await?;
                }
                Ok(String::new())
            })
        })
    })
}

/// Sets or clears mark bits on up to 100 conversations. The callback receives one operation
/// result per distinct conversation.
///
/// # Safety
/// `conversation_id_array` is NULL or a NUL-terminated string valid for the duration of the
/// call; `cb` is NULL or a function of the `TIMCommCallback` prototype.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn TIMConvMarkConversation(
    conversation_id_array: *const c_char,
    mark_type: u64,
    enable_mark: bool,
    cb: TIMCommCallback,
    user_data: *const c_void,
) -> c_int {
    entry("TIMConvMarkConversation", || {
        with_manager(cb, user_data, || {
            // SAFETY: the function's contract.
            let ids = id_strings(unsafe { text(conversation_id_array) }?)?;
            Ok(move |manager: ConversationManager| async move {
                let ids = conversation_ids(&ids)?;
                let marks = MarkFlags::from_bits_retain(mark_type);
                let outcomes = if enable_mark {
                    manager.mark(&ids, marks).await?
                } else {
                    manager.unmark(&ids, marks).await?
                };
                Ok(serde_json::to_string(&outcomes)?)
            })
        })
    })
}
