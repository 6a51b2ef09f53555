//! Decoding a pull answer without serde's buffering.
//!
//! [`PullResponse`] and [`RemoteChange`] are internally tagged (`"pull"`, `"change"`): their
//! derived `Deserialize` first buffers the whole value into a tree of serde's generic content,
//! then decodes the variant from that tree. For a page that is done twice over (the page,
//! then each change inside it), an allocation per key and value of every conversation and
//! message, which cost more than the rest of a pull. Here the page is read as a plain struct,
//! in one pass: a change whose tag is its first key, as every encoder of the wire format writes
//! it, is decoded as it is read, a conversation (by far the most common change) straight into
//! its struct. Any other change is first read into JSON values, entry by entry, and decoded from
//! them by the derived decoder. The answer is the value `serde_json::from_slice` gives, and it
//! fails where that fails, with one exception no encoder meets: from its buffer, the derived
//! decoder also takes a number as a change's tag (a variant's index); this one refuses it.

use std::borrow::Cow;
use std::fmt;

use serde::de::value::{CowStrDeserializer, MapAccessDeserializer, MapDeserializer};
use serde::de::{self, DeserializeSeed, Error as _, IntoDeserializer, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::transport::{Bookmark, PullPage, PullResponse, RemoteChange, RemoteConversation};

/// The key of a change's tag.
const TAG: &str = "change";

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum PullKind {
    Page,
    TooFarBehind,
}

/// A pull answer's fields, whichever its kind.
#[derive(Deserialize)]
struct PullFields {
    pull: PullKind,
    #[serde(default)]
    changes: Option<Vec<Change>>,
    #[serde(default)]
    bookmark: Option<Bookmark>,
    #[serde(default)]
    has_more: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum ChangeKind {
    Conversation,
    Deleted,
    Groups,
}

/// Decodes a pull answer from its JSON, as `serde_json::from_slice::<PullResponse>` does.
pub(crate) fn pull_response(json: &[u8]) -> serde_json::Result<PullResponse> {
    let fields: PullFields = serde_json::from_slice(json)?;
    match fields.pull {
        PullKind::TooFarBehind => Ok(PullResponse::TooFarBehind),
        PullKind::Page => {
            let changes = fields
                .changes
                .ok_or_else(|| serde_json::Error::missing_field("changes"))?;
            let bookmark = fields
                .bookmark
                .ok_or_else(|| serde_json::Error::missing_field("bookmark"))?;
            let has_more = fields
                .has_more
                .ok_or_else(|| serde_json::Error::missing_field("has_more"))?;
            Ok(PullResponse::Page(PullPage {
                changes: changes.into_iter().map(|c| c.0).collect(),
                bookmark,
                has_more,
            }))
        }
    }
}

/// One change of a page, decoded as `RemoteChange`'s derived decoder does.
struct Change(RemoteChange);

impl<'de> Deserialize<'de> for Change {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(ChangeVisitor)
    }
}

struct ChangeVisitor;

impl<'de> Visitor<'de> for ChangeVisitor {
    type Value = Change;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a change object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Change, A::Error> {
        let Some(first) = map.next_key::<Key<'de>>()? else {
            return Err(A::Error::missing_field(TAG));
        };
        // The rest: a rare change, or the tag not first. Its entries are read into JSON values,
        // repeated keys kept, and decoded by the derived decoder, which sees them as it would
        // have seen the text.
        let mut fields: Vec<(String, Value)> = Vec::new();
        if first.0 == TAG {
            let kind = match map.next_value::<ChangeKind>()? {
                ChangeKind::Conversation => {
                    return RemoteConversation::deserialize(MapAccessDeserializer::new(
                        WithoutTag(map),
                    ))
                    .map(|c| Change(RemoteChange::Conversation(c)));
                }
                ChangeKind::Deleted => "deleted",
                ChangeKind::Groups => "groups",
            };
            fields.push((TAG.to_owned(), kind.into()));
        } else {
            fields.push((first.0.into_owned(), map.next_value()?));
        }
        while let Some(key) = map.next_key::<Key<'de>>()? {
            fields.push((key.0.into_owned(), map.next_value()?));
        }
        RemoteChange::deserialize(MapDeserializer::<_, serde_json::Error>::new(
            fields.into_iter(),
        ))
        .map(Change)
        .map_err(A::Error::custom)
    }
}

/// An object key, borrowed from the input when it has no escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E: de::Error>(self, key: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(key)))
            }
            fn visit_str<E: de::Error>(self, key: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(key.to_owned())))
            }
            fn visit_string<E: de::Error>(self, key: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(key)))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

/// The rest of a conversation's object once its tag was read: a second tag is refused, as
/// the derived decoder refuses it.
struct WithoutTag<A>(A);

impl<'de, A: MapAccess<'de>> MapAccess<'de> for WithoutTag<A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        match self.0.next_key::<Key<'de>>()? {
            None => Ok(None),
            Some(key) if key.0 == TAG => Err(A::Error::duplicate_field(TAG)),
            Some(key) => {
                let key: CowStrDeserializer<'de, A::Error> = key.0.into_deserializer();
                seed.deserialize(key).map(Some)
            }
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        self.0.next_value_seed(seed)
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ConversationId, Message};
    use crate::transport::{FolderRename, RemoteConversation};

    fn page() -> PullResponse {
        let id: ConversationId = "c2c_bob".parse().expect("an ID");
        let mut conversation = RemoteConversation::new(id.clone());
        conversation.pinned = true;
        conversation.marks = 5;
        conversation.folders = vec!["work".into()];
        conversation.read_position = 7;
        let mut message = Message::text("m1", "hi \"there\" \u{1F600}");
        message.server_time = Some(9);
        conversation.messages = vec![message];
        conversation.show_name = "Bob".into();
        PullResponse::Page(PullPage {
            changes: vec![
                RemoteChange::Conversation(conversation),
                RemoteChange::Deleted {
                    id,
                    floor: [1, 2, 3],
                    clear_messages: true,
                },
                RemoteChange::Folders {
                    names: vec!["office".into()],
                    renamed: vec![FolderRename {
                        from: "work".into(),
                        to: "office".into(),
                    }],
                },
            ],
            bookmark: Bookmark("42".into()),
            has_more: true,
        })
    }

    /// What the derived decoder makes of `json`, and what this one does, agree.
    fn agree(json: &str) -> Option<PullResponse> {
        let derived = serde_json::from_str::<PullResponse>(json);
        let fast = pull_response(json.as_bytes());
        assert_eq!(
            derived.as_ref().ok(),
            fast.as_ref().ok(),
            "the two decoders differ on {json}"
        );
        fast.ok()
    }

    #[test]
    fn a_page_decodes_as_the_derived_decoder_does() {
        let json = serde_json::to_string(&page()).expect("encodes");
        assert_eq!(agree(&json), Some(page()));
        let json = serde_json::to_string(&PullResponse::TooFarBehind).expect("encodes");
        assert_eq!(agree(&json), Some(PullResponse::TooFarBehind));
        // Keys in another order, the tag last, and an unknown key: both accept them.
        let reordered = r#"{"has_more":false,"bookmark":"1","x":1,"changes":[{"id":"c2c_a","pinned":false,"marks":0,"read_position":0,"change":"conversation"}],"pull":"page"}"#;
        let decoded = agree(reordered).expect("decodes");
        let PullResponse::Page(page) = decoded else {
            panic!("a page");
        };
        assert_eq!(page.changes.len(), 1);
    }

    #[test]
    fn keys_twice_escaped_or_out_of_order_decode_as_the_derived_decoder_does() {
        let conversation = r#""id":"c2c_a","pinned":false,"marks":0,"read_position":0"#;
        let deleted = r#""id":"c2c_a","floor":[1,2,3],"clear_messages":true"#;
        for change in [
            format!(r#"{{"change":"conversation",{conversation}}}"#),
            format!(r#"{{{conversation},"change":"conversation"}}"#),
            format!(r#"{{"change":"conversation",{conversation}}}"#),
            format!(r#"{{"change":"conversation",{conversation},"change":"deleted"}}"#),
            format!(r#"{{"change":"conversation",{conversation},"change":"conversation"}}"#),
            format!(r#"{{"change":"conversation",{conversation},"pinned":true}}"#),
            format!(r#"{{"change":"conversation","pinned":true,{conversation}}}"#),
            format!(r#"{{"change":"deleted",{deleted}}}"#),
            format!(r#"{{{deleted},"change":"deleted"}}"#),
            format!(r#"{{"change":"deleted",{deleted},"id":"c2c_b"}}"#),
            format!(r#"{{"change":"deleted",{deleted},"change":"deleted"}}"#),
            format!(r#"{{"id":"c2c_b",{deleted},"change":"deleted"}}"#),
            r#"{"change":"groups","names":["a"],"renamed":[{"from":"b","to":"a"}]}"#.to_owned(),
            r#"{"names":["a"],"change":"groups"}"#.to_owned(),
            r#"{"change":"groups"}"#.to_owned(),
            r#"{"change":1}"#.to_owned(),
            r#"{}"#.to_owned(),
        ] {
            agree(&format!(
                r#"{{"pull":"page","changes":[{change}],"bookmark":"1","has_more":false}}"#
            ));
        }
    }

    /// A change object's text from its entries, as given (keys may repeat).
    fn object(entries: &[(&str, &str)]) -> String {
        let body: Vec<String> = entries.iter().map(|(k, v)| format!("{k:?}:{v}")).collect();
        format!("{{{}}}", body.join(","))
    }

    /// The entries of a valid change of each kind.
    fn valid(kind: usize) -> Vec<(&'static str, &'static str)> {
        match kind {
            0 => vec![
                ("change", r#""conversation""#),
                ("id", r#""c2c_a""#),
                ("pinned", "true"),
                ("marks", "3"),
                ("read_position", "0"),
                ("messages", r#"[{"message_msg_id":"m1","message_seq":2}]"#),
                ("groups", r#"["a"]"#),
            ],
            1 => vec![
                ("change", r#""deleted""#),
                ("id", r#""group_g""#),
                ("floor", "[1,2,3]"),
                ("clear_messages", "false"),
            ],
            _ => vec![
                ("change", r#""groups""#),
                ("names", r#"["a"]"#),
                ("renamed", r#"[{"from":"b","to":"a"}]"#),
            ],
        }
    }

    proptest::proptest! {
        /// Valid changes of every kind with their keys in any order, then with entries taken
        /// out, added or repeated (some of the wrong type): the one-pass decoder accepts what
        /// the derived one accepts, with the same value, and refuses the rest.
        #[test]
        fn any_change_decodes_as_the_derived_decoder_does(
            changes in proptest::collection::vec(
                (
                    0..3usize,
                    proptest::collection::vec(0..16usize, 0..8),
                    proptest::collection::vec(0..8usize, 0..2),
                    proptest::collection::vec(
                        (
                            0..9usize,
                            proptest::sample::select(vec![
                                "change", "id", "pinned", "marks", "read_position", "messages",
                                "floor", "names", "other",
                            ]),
                            proptest::sample::select(vec![
                                r#""conversation""#, r#""deleted""#, r#""groups""#,
                                r#""c2c_a""#, r#""nope""#, "true", "0", "-1", "null",
                                "[1,2,3]", "[]", r#"["a"]"#, r#"{"k":1}"#,
                            ]),
                        ),
                        0..3,
                    ),
                ),
                0..4,
            )
        ) {
            let changes: Vec<String> = changes
                .into_iter()
                .map(|(kind, order, removed, added)| {
                    let mut entries = valid(kind);
                    // Reorder: swap pairs by the given indices.
                    for pair in order.chunks(2) {
                        if let [a, b] = pair {
                            let n = entries.len();
                            entries.swap(a % n, b % n);
                        }
                    }
                    for r in removed {
                        if r < entries.len() {
                            entries.remove(r);
                        }
                    }
                    for (at, key, value) in added {
                        // A tag given as a variant index: see `a_numeric_tag_is_refused`.
                        if key == TAG && value.parse::<f64>().is_ok() {
                            continue;
                        }
                        entries.insert(at.min(entries.len()), (key, value));
                    }
                    object(&entries)
                })
                .collect();
            agree(&format!(
                r#"{{"pull":"page","changes":[{}],"bookmark":"1","has_more":false}}"#,
                changes.join(",")
            ));
        }
    }

    /// The one difference: the derived decoder buffers a whole page, and from that buffer it
    /// takes a number as a variant's index. No encoder writes one; this decoder refuses it.
    #[test]
    fn a_numeric_tag_is_refused() {
        let json = r#"{"pull":"page","changes":[{"change":1,"id":"c2c_a","floor":[1,2,3],"clear_messages":true}],"bookmark":"1","has_more":false}"#;
        assert!(serde_json::from_str::<PullResponse>(json).is_ok());
        assert!(pull_response(json.as_bytes()).is_err());
    }

    #[test]
    fn what_the_derived_decoder_refuses_is_refused() {
        for json in [
            "",
            "[]",
            r#"{"pull":"nonsense"}"#,
            r#"{"changes":[],"bookmark":"1","has_more":false}"#,
            r#"{"pull":"page","bookmark":"1","has_more":false}"#,
            r#"{"pull":"page","changes":[],"has_more":false}"#,
            r#"{"pull":"page","changes":[],"bookmark":"1"}"#,
            r#"{"pull":"page","changes":[{"id":"c2c_a"}],"bookmark":"1","has_more":false}"#,
            r#"{"pull":"page","changes":[{"change":"what"}],"bookmark":"1","has_more":false}"#,
            r#"{"pull":"page","changes":[{"change":"conversation","id":"nope"}],"bookmark":"1","has_more":false}"#,
            r#"{"pull":"page","changes":[{"change":"deleted","id":"c2c_a"}],"bookmark":"1","has_more":false}"#,
            r#"{"pull":"page","changes":[1],"bookmark":"1","has_more":false}"#,
        ] {
            assert_eq!(agree(json), None, "{json} is refused");
            assert!(pull_response(json.as_bytes()).is_err(), "{json}");
        }
    }
}
