//! The test extension (`TIMConvExt.h`), **not part of the original API**: feeding a message
//! into a conversation, as the original SDK's message module does, so that C programs can
//! drive unread counts, @ info, last messages and events.

use std::ffi::{c_char, c_int, c_void};

use timconv::{ConversationId, ConversationManager, ConversationType, Message};

use crate::calls::with_manager;
use crate::codes::Failure;
use crate::ffi::{TIMCommCallback, entry, text};
use crate::input::object;

/// Records a message sent or received (a message JSON object naming its conversation with
/// `message_conv_id` and `message_conv_type`). The callback receives the conversation's
/// ConvInfo afterwards, or `""` if the message is older than its deletion.
///
/// # Safety
/// `json_message` is NULL or a NUL-terminated string valid for the duration of the call; `cb`
/// is NULL or a function of the `TIMCommCallback` prototype.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn TIMConvExtFeedMessage(
    json_message: *const c_char,
    cb: TIMCommCallback,
    user_data: *const c_void,
) -> c_int {
    entry("TIMConvExtFeedMessage", || {
        with_manager(cb, user_data, || {
            // SAFETY: the function's contract.
            let message: Message = object(unsafe { text(json_message) }?)?;
            Ok(move |manager: ConversationManager| async move {
                let id = conversation_of(&message)?;
                manager.ingest_message(&id, message).await?;
                match manager.get(&id) {
                    Some(conversation) => Ok(serde_json::to_string(&conversation)?),
                    None => Ok(String::new()),
                }
            })
        })
    })
}

/// The conversation a message names with its `message_conv_id` and `message_conv_type`.
fn conversation_of(message: &Message) -> Result<ConversationId, Failure> {
    let (Some(conv_id), Some(conv_type)) = (&message.conv_id, message.conv_type) else {
        return Err(Failure::invalid(
            "the message names no conversation (message_conv_id, message_conv_type)",
        ));
    };
    let kind = ConversationType::from_u32(conv_type).ok_or_else(|| {
        Failure::invalid(format!(
            "conversation type {conv_type} names no conversation"
        ))
    })?;
    Ok(ConversationId::new(kind, conv_id)?)
}
