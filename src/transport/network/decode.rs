//! Decoding a pull answer without serde's buffering.
//!
//! [`PullResponse`] and [`RemoteChange`] are internally tagged (`"pull"`, `"change"`): their
//! derived `Deserialize` first buffers the whole value into a tree of serde's generic content,
//! then decodes the variant from that tree. For a page that is done twice over (the page,
//! then each change inside it), an allocation per key and value of every conversation and
//! message, which cost more than the rest of a pull. Here the page is read as a plain struct
//! with each change kept as raw JSON text; a change's tag is read on its own (skipping the
//! rest without allocating), and a conversation, by far the most common change, is decoded
//! straight from its text. The other, small and rare changes go through the derived decoder.
//! The answer is the value `serde_json::from_slice` gives, and it fails where that fails.

use serde::Deserialize;
use serde::de::Error as _;
use serde_json::value::RawValue;

use crate::transport::{Bookmark, PullPage, PullResponse, RemoteChange};

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum PullKind {
    Page,
    TooFarBehind,
}

/// A pull answer's fields, whichever its kind.
#[derive(Deserialize)]
struct PullFields<'a> {
    pull: PullKind,
    #[serde(borrow, default)]
    changes: Option<Vec<&'a RawValue>>,
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

/// A change's tag; its other fields are skipped.
#[derive(Deserialize)]
struct ChangeTag {
    change: ChangeKind,
}

/// Decodes a pull answer from its JSON, as `serde_json::from_slice::<PullResponse>` does.
pub(crate) fn pull_response(json: &[u8]) -> serde_json::Result<PullResponse> {
    let fields: PullFields<'_> = serde_json::from_slice(json)?;
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
            let changes = changes
                .into_iter()
                .map(|raw| remote_change(raw.get()))
                .collect::<serde_json::Result<_>>()?;
            Ok(PullResponse::Page(PullPage {
                changes,
                bookmark,
                has_more,
            }))
        }
    }
}

/// Decodes one change from its JSON, as `serde_json::from_str::<RemoteChange>` does.
fn remote_change(json: &str) -> serde_json::Result<RemoteChange> {
    let tag: ChangeTag = serde_json::from_str(json)?;
    match tag.change {
        // The conversation's fields sit beside the tag, which it ignores like any unknown key.
        ChangeKind::Conversation => serde_json::from_str(json).map(RemoteChange::Conversation),
        ChangeKind::Deleted | ChangeKind::Groups => serde_json::from_str(json),
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
