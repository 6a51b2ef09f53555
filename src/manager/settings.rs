//! A conversation's settings and display fields: its receive option and group type (which
//! decide whether its unread counts), its display name and avatar.
//!
//! The receive option and the group type can be set before the conversation exists (an app may
//! learn that a group is muted before its first message arrives): they are kept and apply when
//! it appears, so that a muted group's first message does not count. They are kept too when a
//! conversation is deleted, for when it comes back.

use super::{ConversationManager, Tx};
use crate::error::{Error, Result};
use crate::model::{ConversationId, GroupType, ReceiveOption};
use crate::store::KeptSettings;

/// Display fields of a conversation, usually from the user's or group's profile. `None`
/// leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Profile {
    /// New display name (`conv_show_name`).
    pub show_name: Option<String>,
    /// New avatar URL (`conv_face_url`).
    pub face_url: Option<String>,
}

impl Profile {
    /// An empty update.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the display name.
    #[must_use]
    pub fn show_name(mut self, name: impl Into<String>) -> Self {
        self.show_name = Some(name.into());
        self
    }

    /// Sets the avatar URL.
    #[must_use]
    pub fn face_url(mut self, url: impl Into<String>) -> Self {
        self.face_url = Some(url.into());
        self
    }
}

/// Writes a setting: on the record of a live conversation, else into the settings kept for it.
fn set(
    tx: &mut Tx<'_>,
    id: &ConversationId,
    edit: impl Fn(&mut ReceiveOption, &mut Option<GroupType>),
) {
    if tx.get(id).is_some() {
        // Live: `update` cannot fail.
        let _ = tx.update(id, |c, _| {
            edit(&mut c.receive_option, &mut c.group_type);
            Ok(())
        });
        return;
    }
    let (mut option, mut group_type) = tx
        .kept_settings(id)
        .map_or((ReceiveOption::Receive, None), |k| {
            (k.receive_option, k.group_type)
        });
    edit(&mut option, &mut group_type);
    if tx
        .kept_settings(id)
        .map(|k| (k.receive_option, k.group_type))
        != Some((option, group_type))
    {
        tx.keep_settings(KeptSettings::new(id.clone(), option, group_type));
    }
}

impl ConversationManager {
    /// Updates display fields of an existing conversation. No change, no event.
    ///
    /// # Errors
    /// [`Error::ConversationNotFound`] (6004).
    #[tracing::instrument(skip_all, fields(conversation = %id), err(level = "debug"))]
    pub async fn set_profile(&self, id: &ConversationId, profile: Profile) -> Result<()> {
        let id = id.clone();
        self.write(move |tx| {
            tx.update(&id, |c, _| {
                if let Some(name) = profile.show_name {
                    c.show_name = name;
                }
                if let Some(url) = profile.face_url {
                    c.face_url = url;
                }
                Ok(())
            })
            .map(drop)
        })
        .await
    }

    /// Sets how a conversation's messages are received; this decides whether its unread counts
    /// toward totals: not under [`NotReceive`](ReceiveOption::NotReceive) nor
    /// [`NotNotify`](ReceiveOption::NotNotify). Works before the conversation exists (kept for
    /// when it appears). No change, no event.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), timconv::Error> {
    /// use timconv::{ConversationId, ConversationManager, Message, ReceiveOption};
    ///
    /// let manager = ConversationManager::builder().in_memory().open().await?;
    /// let noisy = ConversationId::group("noisy")?;
    /// manager.set_receive_option(&noisy, ReceiveOption::NotNotify).await?;
    /// let first = Message::builder().msg_id("m1").seq(1).text("hello").build();
    /// manager.ingest_message(&noisy, first).await?;
    /// assert_eq!(manager.total_unread(), 0, "muted before it existed");
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] (6017) for an unknown option.
    #[tracing::instrument(skip_all, fields(conversation = %id, option = option.as_u32()), err(level = "debug"))]
    pub async fn set_receive_option(
        &self,
        id: &ConversationId,
        option: ReceiveOption,
    ) -> Result<()> {
        if let ReceiveOption::Unknown(n) = option {
            return Err(Error::InvalidParameter(format!(
                "unknown receive option {n}"
            )));
        }
        let id = id.clone();
        self.write(move |tx| {
            set(tx, &id, |o, _| *o = option);
            Ok(())
        })
        .await
    }

    /// Sets the kind of the group behind a group conversation; an audio-video chat room
    /// ([`GroupType::AvChatRoom`]) never counts unread. Works before the conversation exists
    /// (kept for when it appears). No change, no event.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] (6017) for a C2C conversation.
    #[tracing::instrument(skip_all, fields(conversation = %id, group_type = group_type.as_u32()), err(level = "debug"))]
    pub async fn set_group_type(&self, id: &ConversationId, group_type: GroupType) -> Result<()> {
        if id.kind() != crate::ConversationType::Group {
            return Err(Error::InvalidParameter(format!(
                "{id} is not a group conversation"
            )));
        }
        let id = id.clone();
        self.write(move |tx| {
            set(tx, &id, |_, g| *g = Some(group_type));
            Ok(())
        })
        .await
    }
}
