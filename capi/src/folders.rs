//! Conversation groups: the user's folders of conversations (the Rust side calls them
//! folders, apart from group chats; the C names are the original's).

use std::ffi::{c_char, c_int, c_void};

use timconv::ConversationManager;

use crate::calls::with_manager;
use crate::ffi::{TIMCommCallback, entry, text};
use crate::input::{conversation_ids, id_strings};

/// Creates group `group_name` with the conversations of `conversation_id_array`. The callback
/// receives one operation result per distinct conversation. As in the original, the array must
/// not be empty (51006); the Rust API can create an empty folder.
///
/// # Safety
/// `group_name` and `conversation_id_array` are NULL or NUL-terminated strings valid for the
/// duration of the call; `cb` is NULL or a function of the `TIMCommCallback` prototype.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn TIMConvCreateConversationGroup(
    group_name: *const c_char,
    conversation_id_array: *const c_char,
    cb: TIMCommCallback,
    user_data: *const c_void,
) -> c_int {
    entry("TIMConvCreateConversationGroup", || {
        with_manager(cb, user_data, || {
            // SAFETY: the function's contract.
            let name = unsafe { text(group_name) }?.to_owned();
            // SAFETY: the function's contract.
            let ids = id_strings(unsafe { text(conversation_id_array) }?)?;
            Ok(move |manager: ConversationManager| async move {
                let ids = conversation_ids(&ids)?;
                if ids.is_empty() {
                    return Err(timconv::Error::BatchSize {
                        len: 0,
                        max: manager.limits().max_batch,
                    }
                    .into());
                }
                let outcomes = manager.create_folder(&name, &ids).await?;
                Ok(serde_json::to_string(&outcomes)?)
            })
        })
    })
}

/// The group names, in creation order. The callback receives a JSON array of strings.
///
/// # Safety
/// `cb` is NULL or a function of the `TIMCommCallback` prototype.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn TIMConvGetConversationGroupList(
    cb: TIMCommCallback,
    user_data: *const c_void,
) -> c_int {
    entry("TIMConvGetConversationGroupList", || {
        with_manager(cb, user_data, || {
            Ok(|manager: ConversationManager| async move {
                Ok(serde_json::to_string(&manager.folders())?)
            })
        })
    })
}

/// Deletes group `group_name`; its conversations stay. The callback receives `""`.
///
/// # Safety
/// `group_name` is NULL or a NUL-terminated string valid for the duration of the call; `cb` is
/// NULL or a function of the `TIMCommCallback` prototype.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn TIMConvDeleteConversationGroup(
    group_name: *const c_char,
    cb: TIMCommCallback,
    user_data: *const c_void,
) -> c_int {
    entry("TIMConvDeleteConversationGroup", || {
        with_manager(cb, user_data, || {
            // SAFETY: the function's contract.
            let name = unsafe { text(group_name) }?.to_owned();
            Ok(move |manager: ConversationManager| async move {
                manager.delete_folder(&name).await?;
                Ok(String::new())
            })
        })
    })
}

/// Renames group `old_name` to `new_name`. The callback receives `""`.
///
/// # Safety
/// `old_name` and `new_name` are NULL or NUL-terminated strings valid for the duration of the
/// call; `cb` is NULL or a function of the `TIMCommCallback` prototype.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn TIMConvRenameConversationGroup(
    old_name: *const c_char,
    new_name: *const c_char,
    cb: TIMCommCallback,
    user_data: *const c_void,
) -> c_int {
    entry("TIMConvRenameConversationGroup", || {
        with_manager(cb, user_data, || {
            // SAFETY: the function's contract.
            let old_name = unsafe { text(old_name) }?.to_owned();
            // SAFETY: the function's contract.
            let new_name = unsafe { text(new_name) }?.to_owned();
            Ok(move |manager: ConversationManager| async move {
                manager.rename_folder(&old_name, &new_name).await?;
                Ok(String::new())
            })
        })
    })
}

/// Adds conversations to group `group_name`. The callback receives one operation result per
/// distinct conversation.
///
/// # Safety
/// As [`TIMConvCreateConversationGroup`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn TIMConvAddConversationsToGroup(
    group_name: *const c_char,
    conversation_id_array: *const c_char,
    cb: TIMCommCallback,
    user_data: *const c_void,
) -> c_int {
    entry("TIMConvAddConversationsToGroup", || {
        with_manager(cb, user_data, || {
            // SAFETY: the function's contract.
            let name = unsafe { text(group_name) }?.to_owned();
            // SAFETY: the function's contract.
            let ids = id_strings(unsafe { text(conversation_id_array) }?)?;
            Ok(move |manager: ConversationManager| async move {
                let ids = conversation_ids(&ids)?;
                let outcomes = manager.add_to_folder(&name, &ids).await?;
                Ok(serde_json::to_string(&outcomes)?)
            })
        })
    })
}

/// Removes conversations from group `group_name`. The callback receives one operation result
/// per distinct conversation.
///
/// # Safety
/// As [`TIMConvCreateConversationGroup`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn TIMConvDeleteConversationsFromGroup(
    group_name: *const c_char,
    conversation_id_array: *const c_char,
    cb: TIMCommCallback,
    user_data: *const c_void,
) -> c_int {
    entry("TIMConvDeleteConversationsFromGroup", || {
        with_manager(cb, user_data, || {
            // SAFETY: the function's contract.
            let name = unsafe { text(group_name) }?.to_owned();
            // SAFETY: the function's contract.
            let ids = id_strings(unsafe { text(conversation_id_array) }?)?;
            Ok(move |manager: ConversationManager| async move {
                let ids = conversation_ids(&ids)?;
                let outcomes = manager.remove_from_folder(&name, &ids).await?;
                Ok(serde_json::to_string(&outcomes)?)
            })
        })
    })
}
