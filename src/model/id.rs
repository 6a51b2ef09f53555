//! Conversation identity: `c2c_<user>` and `group_<group>`.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};

const C2C_PREFIX: &str = "c2c_";
const GROUP_PREFIX: &str = "group_";

/// The kind of a conversation (`conv_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ConversationType {
    /// A one-to-one chat (type 1).
    C2c,
    /// A group chat (type 2).
    Group,
    /// The deprecated "system" type (3): accepted on input for compatibility, never created.
    System,
}

impl ConversationType {
    /// The numeric value used by the C API and in JSON.
    #[must_use]
    pub fn as_u32(self) -> u32 {
        match self {
            ConversationType::C2c => 1,
            ConversationType::Group => 2,
            ConversationType::System => 3,
        }
    }

    /// The type for a numeric value; `None` for 0 (invalid) and unknown values.
    #[must_use]
    pub fn from_u32(value: u32) -> Option<Self> {
        match value {
            1 => Some(ConversationType::C2c),
            2 => Some(ConversationType::Group),
            3 => Some(ConversationType::System),
            _ => None,
        }
    }
}

crate::text::text_forms!(ConversationType, "conversation type" {
    C2c => "c2c",
    Group => "group",
    System => "system",
});

impl Serialize for ConversationType {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_u32(self.as_u32())
    }
}

impl<'de> Deserialize<'de> for ConversationType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let v = u32::deserialize(d)?;
        ConversationType::from_u32(v)
            .ok_or_else(|| serde::de::Error::custom(format!("invalid conversation type {v}")))
    }
}

/// The full ID of a conversation: `"c2c_" + userID` or `"group_" + groupID`.
///
/// Cheap to clone (the text is shared). Parse one from its full form, or build it from a raw
/// peer ID and a type:
///
/// ```
/// use timconv::{ConversationId, ConversationType};
///
/// let a: ConversationId = "c2c_alice".parse()?;
/// let b = ConversationId::new(ConversationType::C2c, "alice")?;
/// assert_eq!(a, b);
/// assert_eq!(a.peer(), "alice");
/// assert_eq!(a.to_string(), "c2c_alice");
/// assert!("alice".parse::<ConversationId>().is_err());
/// # Ok::<(), timconv::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConversationId {
    full: Arc<str>,
}

impl ConversationId {
    /// Builds the ID of a conversation from its raw peer ID (user or group ID) and its type.
    ///
    /// # Errors
    /// [`Error::InvalidConversationId`] (6017) if `peer` is empty or the type is
    /// [`ConversationType::System`], which names no conversation this crate can hold.
    pub fn new(kind: ConversationType, peer: &str) -> Result<Self> {
        if peer.is_empty() {
            return Err(Error::invalid_id(peer, "the peer ID is empty"));
        }
        let prefix = match kind {
            ConversationType::C2c => C2C_PREFIX,
            ConversationType::Group => GROUP_PREFIX,
            ConversationType::System => {
                return Err(Error::invalid_id(
                    peer,
                    "the system conversation type is deprecated",
                ));
            }
        };
        Ok(Self {
            full: format!("{prefix}{peer}").into(),
        })
    }

    /// Shorthand for a C2C conversation with `user`.
    ///
    /// # Errors
    /// As [`ConversationId::new`].
    pub fn c2c(user: &str) -> Result<Self> {
        Self::new(ConversationType::C2c, user)
    }

    /// Shorthand for the conversation of group `group`.
    ///
    /// # Errors
    /// As [`ConversationId::new`].
    pub fn group(group: &str) -> Result<Self> {
        Self::new(ConversationType::Group, group)
    }

    /// The conversation's type (C2C or group).
    #[must_use]
    pub fn kind(&self) -> ConversationType {
        if self.full.starts_with(C2C_PREFIX) {
            ConversationType::C2c
        } else {
            ConversationType::Group
        }
    }

    /// The raw peer ID: the user ID of a C2C conversation, the group ID of a group one.
    #[must_use]
    pub fn peer(&self) -> &str {
        match self.kind() {
            ConversationType::Group => &self.full[GROUP_PREFIX.len()..],
            _ => &self.full[C2C_PREFIX.len()..],
        }
    }

    /// The full ID as text (`c2c_…` or `group_…`).
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.full
    }

    /// The full ID, shared (no copy of the text).
    pub(crate) fn shared(&self) -> Arc<str> {
        Arc::clone(&self.full)
    }
}

impl FromStr for ConversationId {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        // The whole text is the ID: copied once, not rebuilt from its prefix and peer.
        if let Some(peer) = s
            .strip_prefix(C2C_PREFIX)
            .or_else(|| s.strip_prefix(GROUP_PREFIX))
        {
            if peer.is_empty() {
                return Err(Error::invalid_id(peer, "the peer ID is empty"));
            }
            Ok(Self { full: s.into() })
        } else {
            Err(Error::invalid_id(
                s,
                "a conversation ID starts with c2c_ or group_",
            ))
        }
    }
}

impl fmt::Display for ConversationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.full)
    }
}

impl fmt::Debug for ConversationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ConversationId({})", self.full)
    }
}

impl AsRef<str> for ConversationId {
    fn as_ref(&self) -> &str {
        &self.full
    }
}

impl Serialize for ConversationId {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.full)
    }
}

impl<'de> Deserialize<'de> for ConversationId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// What batch calls take as their conversations: one ID (`&id` or `id`), or any iterator,
/// slice, array or `Vec` of IDs (owned or borrowed).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), timconv::Error> {
/// use timconv::{ConversationId, ConversationManager, MarkFlags};
///
/// let manager = ConversationManager::builder().in_memory().open().await?;
/// let alice = ConversationId::c2c("alice")?;
/// let bob = ConversationId::c2c("bob")?;
/// for id in [&alice, &bob] {
///     manager.create_conversation(id).await?;
/// }
/// manager.mark(&alice, MarkFlags::STAR).await?;                 // one
/// manager.mark([&alice, &bob], MarkFlags::FOLD).await?;          // an array
/// manager.mark(vec![alice.clone()], MarkFlags::HIDE).await?;     // a Vec
/// manager.mark(manager.conversations().iter().map(|c| c.id.clone()), MarkFlags::UNREAD).await?;
/// # Ok(())
/// # }
/// ```
pub trait IntoConversationIds {
    /// The IDs, in order (repeats included: batch calls drop them).
    fn into_conversation_ids(self) -> Vec<ConversationId>;
}

impl IntoConversationIds for &ConversationId {
    fn into_conversation_ids(self) -> Vec<ConversationId> {
        vec![self.clone()]
    }
}

impl IntoConversationIds for ConversationId {
    fn into_conversation_ids(self) -> Vec<ConversationId> {
        vec![self]
    }
}

impl<I, T> IntoConversationIds for I
where
    I: IntoIterator<Item = T>,
    T: std::borrow::Borrow<ConversationId>,
{
    fn into_conversation_ids(self) -> Vec<ConversationId> {
        self.into_iter().map(|id| id.borrow().clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_both_kinds() {
        let c: ConversationId = "c2c_bob".parse().expect("valid");
        assert_eq!((c.kind(), c.peer()), (ConversationType::C2c, "bob"));
        let g: ConversationId = "group_g1".parse().expect("valid");
        assert_eq!(
            (g.kind(), g.peer(), g.as_str()),
            (ConversationType::Group, "g1", "group_g1")
        );
        // A peer ID may itself contain the other prefix.
        let odd: ConversationId = "c2c_group_x".parse().expect("valid");
        assert_eq!((odd.kind(), odd.peer()), (ConversationType::C2c, "group_x"));
    }

    #[test]
    fn refuses_malformed_ids_with_6017() {
        for bad in ["", "c2c_", "group_", "bob", "C2C_bob", "system_x", "grp_x"] {
            let err = bad.parse::<ConversationId>().expect_err(bad);
            assert_eq!(err.code().as_i32(), 6017, "{bad}");
        }
        assert!(ConversationId::new(ConversationType::System, "x").is_err());
    }

    #[test]
    fn type_numbers() {
        assert_eq!(ConversationType::from_u32(0), None);
        assert_eq!(
            ConversationType::from_u32(3),
            Some(ConversationType::System)
        );
        assert_eq!(ConversationType::Group.as_u32(), 2);
    }
}
