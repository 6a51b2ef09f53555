//! Drafts: set and cancel, local only. These calls have no callback: they return once the
//! draft is stored.

use std::ffi::{c_char, c_int};

use timconv::Draft;

use crate::calls::{blocking, manager};
use crate::ffi::{entry, text};
use crate::input::{legacy_id, object};

/// Sets the draft of a conversation (a Draft JSON object), creating the conversation if needed.
///
/// # Safety
/// `conv_id` and `json_draft_param` are NULL or NUL-terminated strings valid for the duration
/// of the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn TIMConvSetDraft(
    conv_id: *const c_char,
    conv_type: c_int,
    json_draft_param: *const c_char,
) -> c_int {
    entry("TIMConvSetDraft", || {
        blocking(|| {
            // SAFETY: the function's contract.
            let conv_id = unsafe { text(conv_id) }?.to_owned();
            // SAFETY: the function's contract.
            let draft: Draft = object(unsafe { text(json_draft_param) }?)?;
            Ok(
                move |core: std::sync::Arc<crate::session::Core>| async move {
                    let id = legacy_id(&conv_id, conv_type)?;
                    manager(&core)?.set_draft(&id, draft).await?;
                    Ok(String::new())
                },
            )
        })
    })
}

/// Removes the draft of a conversation; `TIM_ERR_CONV` if it does not exist.
///
/// # Safety
/// `conv_id` is NULL or a NUL-terminated string valid for the duration of the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn TIMConvCancelDraft(conv_id: *const c_char, conv_type: c_int) -> c_int {
    entry("TIMConvCancelDraft", || {
        blocking(|| {
            // SAFETY: the function's contract.
            let conv_id = unsafe { text(conv_id) }?.to_owned();
            Ok(
                move |core: std::sync::Arc<crate::session::Core>| async move {
                    let id = legacy_id(&conv_id, conv_type)?;
                    manager(&core)?.cancel_draft(&id).await?;
                    Ok(String::new())
                },
            )
        })
    })
}
