//! Drafts: local-only, unsent input of a conversation.

use serde::{Deserialize, Serialize};

use super::message::Message;

/// A draft (`conv_draft`): the message being written, app data, and when it was edited.
///
/// Drafts are **local only**: they never reach the server and never roam to other devices.
/// Setting one activates the conversation (moves it to the top of its section); cancelling it
/// does not.
///
/// ```
/// use timconv::{Draft, Message};
///
/// let draft = Draft::new(Message::text("", "this draft"), "this is userdefine", 1551271429);
/// let json = serde_json::to_value(&draft)?;
/// assert_eq!(json["draft_user_define"], "this is userdefine");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Draft {
    /// The unsent message (`draft_msg`).
    #[serde(rename = "draft_msg", default)]
    pub msg: Message,
    /// App-defined data (`draft_user_define`).
    #[serde(rename = "draft_user_define", default)]
    pub user_define: String,
    /// Last edit time, UTC seconds (`draft_edit_time`).
    #[serde(rename = "draft_edit_time", default)]
    pub edit_time: u64,
}

impl Draft {
    /// A draft from its three parts.
    #[must_use]
    pub fn new(msg: Message, user_define: impl Into<String>, edit_time: u64) -> Self {
        Self {
            msg,
            user_define: user_define.into(),
            edit_time,
        }
    }
}
