//! Conversation filters (`TIMConversationListFilter`, SPEC §5).

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::Result;
use crate::model::{Conversation, ConversationType, MarkFlags};

/// Which conversations a list, a count or a watch covers.
///
/// Every criterion is optional: **absent means "do not filter on this"**, which is different
/// from a present zero value (`mark(MarkFlags::empty())` selects conversations with *no* mark,
/// `group("")` those in *no* group). Criteria combine with AND. Serialises with the exact keys of
/// the C API.
///
/// ```
/// use timconv::{ConversationFilter, ConversationType, MarkFlags};
///
/// let starred_groups = ConversationFilter::new()
///     .conv_type(ConversationType::Group)
///     .mark(MarkFlags::STAR);
/// let json = serde_json::to_string(&starred_groups)?;
/// assert_eq!(json, r#"{"conversation_list_filter_conv_type":2,"conversation_list_filter_mark_type":1}"#);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ConversationFilter {
    /// Only conversations of this type.
    #[serde(
        rename = "conversation_list_filter_conv_type",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub conv_type: Option<ConversationType>,
    /// Conversations having any of these marks; empty marks select conversations with no mark.
    #[serde(
        rename = "conversation_list_filter_mark_type",
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "ser_marks",
        deserialize_with = "de_marks"
    )]
    pub mark: Option<MarkFlags>,
    /// Members of this folder; `""` selects conversations in no folder.
    #[serde(
        rename = "conversation_list_filter_conversation_group",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub folder: Option<String>,
    /// `true`: unread count > 0; `false`: unread count = 0.
    #[serde(
        rename = "conversation_list_filter_has_unread_count",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub has_unread: Option<bool>,
    /// `true`: has @ info; `false`: has none.
    #[serde(
        rename = "conversation_list_filter_has_group_at_info",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub has_at_info: Option<bool>,
}

fn ser_marks<S: Serializer>(marks: &Option<MarkFlags>, s: S) -> Result<S::Ok, S::Error> {
    match marks {
        Some(m) => s.serialize_u64(m.bits()),
        None => s.serialize_none(),
    }
}

fn de_marks<'de, D: Deserializer<'de>>(d: D) -> Result<Option<MarkFlags>, D::Error> {
    Ok(Option::<u64>::deserialize(d)?.map(MarkFlags::from_bits_retain))
}

impl ConversationFilter {
    /// A filter that matches every conversation.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Only conversations of type `t`.
    #[must_use]
    pub fn conv_type(mut self, t: ConversationType) -> Self {
        self.conv_type = Some(t);
        self
    }

    /// Conversations with any of `marks`; `MarkFlags::empty()` means "with no mark".
    #[must_use]
    pub fn mark(mut self, marks: MarkFlags) -> Self {
        self.mark = Some(marks);
        self
    }

    /// Members of group `name`; `""` means "in no group".
    #[must_use]
    pub fn folder(mut self, name: impl Into<String>) -> Self {
        self.folder = Some(name.into());
        self
    }

    /// With (`true`) or without (`false`) unread messages.
    #[must_use]
    pub fn has_unread(mut self, yes: bool) -> Self {
        self.has_unread = Some(yes);
        self
    }

    /// With (`true`) or without (`false`) pending @ info.
    #[must_use]
    pub fn has_at_info(mut self, yes: bool) -> Self {
        self.has_at_info = Some(yes);
        self
    }

    /// Checks the filter's values.
    ///
    /// # Errors
    /// [`Error::ReservedMarkBits`](crate::Error::ReservedMarkBits) (6017) if the mark criterion
    /// names reserved bits.
    pub fn validate(&self) -> Result<(), crate::Error> {
        if let Some(m) = self.mark {
            MarkFlags::checked(m.bits())?;
        }
        Ok(())
    }

    /// Whether `conv` matches: a pure predicate over the record's plain fields.
    #[must_use]
    pub fn matches(&self, conv: &Conversation) -> bool {
        if let Some(t) = self.conv_type
            && conv.id.kind() != t
        {
            return false;
        }
        if let Some(m) = self.mark {
            let hit = if m.is_empty() {
                conv.marks.is_empty()
            } else {
                conv.marks.intersects(m)
            };
            if !hit {
                return false;
            }
        }
        if let Some(g) = &self.folder {
            let hit = if g.is_empty() {
                conv.folders.is_empty()
            } else {
                conv.folders.iter().any(|x| x == g)
            };
            if !hit {
                return false;
            }
        }
        if let Some(u) = self.has_unread
            && (conv.unread_count > 0) != u
        {
            return false;
        }
        if let Some(a) = self.has_at_info
            && conv.group_at_info.is_empty() == a
        {
            return false;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{GroupAtInfo, GroupAtType};

    fn row(id: &str) -> Conversation {
        Conversation::new(id.parse().expect("valid id"))
    }

    #[test]
    fn absent_matches_all_zero_values_mean_none() {
        let mut starred = row("c2c_a");
        starred.marks = MarkFlags::STAR;
        let plain = row("group_b");
        assert!(ConversationFilter::new().matches(&starred));
        let no_mark = ConversationFilter::new().mark(MarkFlags::empty());
        assert!(!no_mark.matches(&starred) && no_mark.matches(&plain));
        let any = ConversationFilter::new().mark(MarkFlags::STAR | MarkFlags::FOLD);
        assert!(any.matches(&starred) && !any.matches(&plain));
    }

    #[test]
    fn group_type_unread_and_at_criteria() {
        let mut g = row("group_g");
        g.folders = vec!["work".into()];
        g.unread_count = 2;
        g.group_at_info = vec![GroupAtInfo {
            seq: 3,
            at_type: GroupAtType::AtMe,
        }];
        let c = row("c2c_c");
        let f = |f: ConversationFilter| (f.matches(&g), f.matches(&c));
        assert_eq!(f(ConversationFilter::new().folder("work")), (true, false));
        assert_eq!(f(ConversationFilter::new().folder("")), (false, true));
        assert_eq!(
            f(ConversationFilter::new().conv_type(ConversationType::C2c)),
            (false, true)
        );
        assert_eq!(
            f(ConversationFilter::new().conv_type(ConversationType::System)),
            (false, false)
        );
        assert_eq!(f(ConversationFilter::new().has_unread(true)), (true, false));
        assert_eq!(
            f(ConversationFilter::new().has_unread(false)),
            (false, true)
        );
        assert_eq!(
            f(ConversationFilter::new().has_at_info(true)),
            (true, false)
        );
        assert_eq!(
            f(ConversationFilter::new().has_at_info(false)),
            (false, true)
        );
    }

    #[test]
    fn json_keys_absent_vs_zero() -> Result<(), serde_json::Error> {
        let f: ConversationFilter = serde_json::from_str(
            r#"{"conversation_list_filter_mark_type":0,"conversation_list_filter_conversation_group":""}"#,
        )?;
        assert_eq!(f.mark, Some(MarkFlags::empty()));
        assert_eq!(f.folder.as_deref(), Some(""));
        assert_eq!(f.conv_type, None);
        assert_eq!(serde_json::to_string(&ConversationFilter::new())?, "{}");
        Ok(())
    }

    #[test]
    fn reserved_marks_refused() {
        let bad = ConversationFilter::new().mark(MarkFlags::from_bits_retain(1 << 8));
        assert_eq!(bad.validate().expect_err("reserved").code().as_i32(), 6017);
    }
}
