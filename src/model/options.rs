//! Small open enums of the record: receive option, group type, group @ info.
//!
//! Each keeps values it does not know (`Unknown(n)`) instead of failing, so that a newer server
//! cannot crash an older client.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Declares an enum backed by a `u32` in JSON that keeps unknown values.
///
/// Its text form is each variant's snake-case name, and the number of an unknown value.
macro_rules! open_u32_enum {
    ($(#[$meta:meta])* $name:ident, $what:literal {
        $($(#[$vmeta:meta])* $variant:ident = $value:literal => $text:literal,)+
    }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
            /// A value this version does not know; kept as it came.
            Unknown(u32),
        }

        impl $name {
            /// The numeric value used by the C API and in JSON.
            #[must_use]
            pub fn as_u32(self) -> u32 {
                match self {
                    $($name::$variant => $value,)+
                    $name::Unknown(v) => v,
                }
            }

            /// The variant for a number; unknown numbers become `Unknown`.
            #[must_use]
            pub fn from_u32(value: u32) -> Self {
                match value {
                    $($value => $name::$variant,)+
                    other => $name::Unknown(other),
                }
            }
        }

        /// Its snake-case name, or the number of an unknown value.
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                match self {
                    $($name::$variant => f.write_str($text),)+
                    $name::Unknown(v) => write!(f, "{v}"),
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = crate::Error;

            /// Reads a name, or a number (an unknown one becomes `Unknown`).
            ///
            /// # Errors
            /// [`Error::InvalidParameter`](crate::Error::InvalidParameter) (6017) for text
            /// that is neither.
            fn from_str(text: &str) -> crate::Result<Self> {
                match text {
                    $($text => Ok($name::$variant),)+
                    other => other
                        .parse::<u32>()
                        .map($name::from_u32)
                        .map_err(|_| crate::text::unknown($what, other)),
                }
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_u32(self.as_u32())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                u32::deserialize(d).map($name::from_u32)
            }
        }
    };
}

open_u32_enum! {
    /// How messages of a conversation are received (`conv_recv_opt`; see docs/SEMANTICS.md, "Unread counts").
    ///
    /// Conversations set to [`NotReceive`](Self::NotReceive) or [`NotNotify`](Self::NotNotify)
    /// do not count toward the total unread (nor toward unread by filter).
    ReceiveOption, "receive option" {
        /// 0: receive and notify.
        Receive = 0 => "receive",
        /// 1: do not receive.
        NotReceive = 1 => "not_receive",
        /// 2: receive, do not notify.
        NotNotify = 2 => "not_notify",
        /// 3: receive, notify only on @.
        NotNotifyExceptAt = 3 => "not_notify_except_at",
        /// 4: do not receive except @.
        NotReceiveExceptAt = 4 => "not_receive_except_at",
    }
}

// The enum comes from a macro shared with enums that have no default.
#[allow(clippy::derivable_impls)]
impl Default for ReceiveOption {
    fn default() -> Self {
        ReceiveOption::Receive
    }
}

impl ReceiveOption {
    /// Whether a conversation with this option counts toward unread totals.
    #[must_use]
    pub fn counts_toward_total(self) -> bool {
        !matches!(self, ReceiveOption::NotReceive | ReceiveOption::NotNotify)
    }
}

open_u32_enum! {
    /// The kind of group behind a group conversation (`conv_group_type`).
    GroupType, "group type" {
        /// 0: public group.
        Public = 0 => "public",
        /// 1: private (work) group.
        Private = 1 => "private",
        /// 2: chat room (meeting).
        ChatRoom = 2 => "chat_room",
        /// 3: broadcast chat room.
        BChatRoom = 3 => "broadcast_chat_room",
        /// 4: audio-video chat room; never counts unread.
        AvChatRoom = 4 => "av_chat_room",
        /// 5: community.
        Community = 5 => "community",
    }
}

impl GroupType {
    /// Whether a group of this kind counts unread at all: an audio-video chat room never
    /// does, neither in its own count nor in totals (its messages stream past, as in a live
    /// broadcast). A group that becomes one drops the unread it had.
    #[must_use]
    pub fn counts_unread(self) -> bool {
        self != GroupType::AvChatRoom
    }
}

open_u32_enum! {
    /// What a group @ mention addressed (`conv_group_at_info_at_type`).
    GroupAtType, "@ type" {
        /// 1: @me.
        AtMe = 1 => "at_me",
        /// 2: @all.
        AtAll = 2 => "at_all",
        /// 3: @all and @me.
        AtAllAtMe = 3 => "at_all_at_me",
    }
}

/// One @ mention waiting in a group conversation (`conv_group_at_info_array` element).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct GroupAtInfo {
    /// Sequence of the message that carried the mention.
    #[serde(rename = "conv_group_at_info_seq", default)]
    pub seq: u64,
    /// What was mentioned.
    #[serde(rename = "conv_group_at_info_at_type")]
    pub at_type: GroupAtType,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_values_are_kept() -> Result<(), serde_json::Error> {
        let opt: ReceiveOption = serde_json::from_str("9")?;
        assert_eq!(opt, ReceiveOption::Unknown(9));
        assert_eq!(serde_json::to_string(&opt)?, "9");
        assert_eq!(GroupType::from_u32(4), GroupType::AvChatRoom);
        Ok(())
    }

    #[test]
    fn receive_option_total_rule() {
        assert!(ReceiveOption::Receive.counts_toward_total());
        assert!(!ReceiveOption::NotReceive.counts_toward_total());
        assert!(!ReceiveOption::NotNotify.counts_toward_total());
        assert!(ReceiveOption::NotNotifyExceptAt.counts_toward_total());
        assert!(ReceiveOption::NotReceiveExceptAt.counts_toward_total());
    }
}
