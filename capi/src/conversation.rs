//! Conversations: create (deprecated), delete, get the list, get some, page through a filter.

use std::ffi::{c_char, c_int, c_void};

use timconv::{ConversationFilter, ConversationId, Cursor};

use crate::calls::with_manager;
use crate::codes::Failure;
use crate::ffi::{TIMCommCallback, entry, text};
use crate::input::{conversation_ids, get_conv_info_params, id_strings, legacy_id, object};

/// Gets a conversation, creating it if needed (deprecated in the original: messages create
/// conversations). The callback receives its ConvInfo object.
///
/// # Safety
/// `conv_id` is NULL or a NUL-terminated string valid for the duration of the call; `cb` is
/// NULL or a function of the `TIMCommCallback` prototype.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn TIMConvCreate(
    conv_id: *const c_char,
    conv_type: c_int,
    cb: TIMCommCallback,
    user_data: *const c_void,
) -> c_int {
    entry("TIMConvCreate", || {
        with_manager(cb, user_data, || {
            // SAFETY: the function's contract.
            let conv_id = unsafe { text(conv_id) }?.to_owned();
            Ok(move |manager: timconv::ConversationManager| async move {
                let id = legacy_id(&conv_id, conv_type)?;
                let conversation = manager.create_conversation(&id).await?;
                Ok(serde_json::to_string(&conversation)?)
            })
        })
    })
}

/// Deletes a conversation and its history. The callback receives `""`.
///
/// # Safety
/// As [`TIMConvCreate`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn TIMConvDelete(
    conv_id: *const c_char,
    conv_type: c_int,
    cb: TIMCommCallback,
    user_data: *const c_void,
) -> c_int {
    entry("TIMConvDelete", || {
        with_manager(cb, user_data, || {
            // SAFETY: the function's contract.
            let conv_id = unsafe { text(conv_id) }?.to_owned();
            Ok(move |manager: timconv::ConversationManager| async move {
                let id = legacy_id(&conv_id, conv_type)?;
                // As in the original, deleting one conversation also clears its history.
                manager.delete(&id, timconv::MessageHistory::Clear).await?;
                Ok(String::new())
            })
        })
    })
}

/// Deletes up to 100 conversations (a JSON array of full IDs). The callback receives one
/// operation result per distinct conversation.
///
/// # Safety
/// `conversation_id_array` is NULL or a NUL-terminated string valid for the duration of the
/// call; `cb` is NULL or a function of the `TIMCommCallback` prototype.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn TIMConvDeleteConversationList(
    conversation_id_array: *const c_char,
    clear_message: bool,
    cb: TIMCommCallback,
    user_data: *const c_void,
) -> c_int {
    entry("TIMConvDeleteConversationList", || {
        with_manager(cb, user_data, || {
            // SAFETY: the function's contract.
            let ids = id_strings(unsafe { text(conversation_id_array) }?)?;
            Ok(move |manager: timconv::ConversationManager| async move {
                let ids = conversation_ids(&ids)?;
                let history = if clear_message {
                    timconv::MessageHistory::Clear
                } else {
                    timconv::MessageHistory::Keep
                };
                let outcomes = manager.delete_many(&ids, history).await?;
                Ok(serde_json::to_string(&outcomes)?)
            })
        })
    })
}

/// Every conversation in list order. The callback receives a ConvInfo array.
///
/// # Safety
/// `cb` is NULL or a function of the `TIMCommCallback` prototype.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn TIMConvGetConvList(
    cb: TIMCommCallback,
    user_data: *const c_void,
) -> c_int {
    entry("TIMConvGetConvList", || {
        with_manager(cb, user_data, || {
            Ok(|manager: timconv::ConversationManager| async move {
                Ok(serde_json::to_string(&manager.conversations())?)
            })
        })
    })
}

/// The conversations named (raw ID plus type) that exist, in the order asked. The callback
/// receives a ConvInfo array.
///
/// # Safety
/// `json_get_conv_list_param` is NULL or a NUL-terminated string valid for the duration of the
/// call; `cb` is NULL or a function of the `TIMCommCallback` prototype.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn TIMConvGetConvInfo(
    json_get_conv_list_param: *const c_char,
    cb: TIMCommCallback,
    user_data: *const c_void,
) -> c_int {
    entry("TIMConvGetConvInfo", || {
        with_manager(cb, user_data, || {
            // SAFETY: the function's contract.
            let params = get_conv_info_params(unsafe { text(json_get_conv_list_param) }?)?;
            Ok(move |manager: timconv::ConversationManager| async move {
                let ids = params
                    .iter()
                    .map(|p| ConversationId::new(p.conv_type, &p.conv_id))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(Failure::from)?;
                Ok(serde_json::to_string(&manager.get_many(&ids))?)
            })
        })
    })
}

/// One page of the conversations matching `filter`, after position `next_seq` (0: the top).
/// The callback receives a `TIMConversationListResult`.
///
/// # Safety
/// `filter` is NULL or a NUL-terminated string valid for the duration of the call; `cb` is
/// NULL or a function of the `TIMCommCallback` prototype.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn TIMConvGetConversationListByFilter(
    filter: *const c_char,
    next_seq: u64,
    count: u32,
    cb: TIMCommCallback,
    user_data: *const c_void,
) -> c_int {
    entry("TIMConvGetConversationListByFilter", || {
        with_manager(cb, user_data, || {
            // SAFETY: the function's contract.
            let filter: ConversationFilter = object(unsafe { text(filter) }?)?;
            Ok(move |manager: timconv::ConversationManager| async move {
                let page = manager.list(&filter, Cursor::from_next_seq(next_seq), count)?;
                Ok(serde_json::to_string(&page)?)
            })
        })
    })
}
