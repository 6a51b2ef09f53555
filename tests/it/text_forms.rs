//! The text forms of the public enums: each prints its name and parses it back; text that
//! names nothing is refused with 6017.

use std::fmt::Display;
use std::str::FromStr;

use timconv::{
    CleanTarget, ConversationType, ErrorCode, FolderRemovalReason, GroupAtType, GroupType,
    IngestOutcome, MessageHistory, ReceiveOption, SyncStatus, Synchronous,
};

use crate::common::id;

/// Every value prints as its expected name and parses back to itself; junk is refused.
fn round_trip<T>(values: &[(T, &str)])
where
    T: Display + FromStr<Err = timconv::Error> + PartialEq + std::fmt::Debug,
{
    for (value, name) in values {
        assert_eq!(value.to_string(), *name);
        assert_eq!(&name.parse::<T>().expect(name), value);
    }
    for junk in ["nonsense", "C2C", " c2c", "Public", "-1"] {
        if values.iter().any(|(_, name)| *name == junk) {
            continue;
        }
        let err = junk.parse::<T>().expect_err(junk);
        assert_eq!(err.code().as_i32(), 6017, "{junk:?}");
    }
}

#[test]
fn closed_enums_print_and_parse_their_names() {
    round_trip(&[
        (ConversationType::C2c, "c2c"),
        (ConversationType::Group, "group"),
        (ConversationType::System, "system"),
    ]);
    round_trip(&[
        (FolderRemovalReason::ByUser, "by_user"),
        (FolderRemovalReason::Evicted, "evicted"),
    ]);
    round_trip(&[
        (MessageHistory::Keep, "keep"),
        (MessageHistory::Clear, "clear"),
    ]);
    round_trip(&[
        (IngestOutcome::Created, "created"),
        (IngestOutcome::Updated, "updated"),
        (IngestOutcome::Replaced, "replaced"),
        (IngestOutcome::Duplicate, "duplicate"),
        (IngestOutcome::Unchanged, "unchanged"),
        (IngestOutcome::Stale, "stale"),
    ]);
    round_trip(&[
        (Synchronous::Normal, "normal"),
        (Synchronous::Full, "full"),
        (Synchronous::Extra, "extra"),
    ]);
    // The serde names of the outcomes are the same as the text ones.
    assert_eq!(
        serde_json::to_string(&IngestOutcome::Replaced).unwrap(),
        format!("\"{}\"", IngestOutcome::Replaced)
    );
}

#[test]
fn open_enums_print_names_and_keep_unknown_numbers() {
    round_trip(&[
        (ReceiveOption::Receive, "receive"),
        (ReceiveOption::NotReceive, "not_receive"),
        (ReceiveOption::NotNotify, "not_notify"),
        (ReceiveOption::NotNotifyExceptAt, "not_notify_except_at"),
        (ReceiveOption::NotReceiveExceptAt, "not_receive_except_at"),
        (ReceiveOption::Unknown(9), "9"),
    ]);
    round_trip(&[
        (GroupType::Public, "public"),
        (GroupType::Private, "private"),
        (GroupType::ChatRoom, "chat_room"),
        (GroupType::BChatRoom, "broadcast_chat_room"),
        (GroupType::AvChatRoom, "av_chat_room"),
        (GroupType::Community, "community"),
        (GroupType::Unknown(77), "77"),
    ]);
    round_trip(&[
        (GroupAtType::AtMe, "at_me"),
        (GroupAtType::AtAll, "at_all"),
        (GroupAtType::AtAllAtMe, "at_all_at_me"),
        (GroupAtType::Unknown(0), "0"),
    ]);
    // A known number reads as its variant.
    assert_eq!("4".parse::<GroupType>().unwrap(), GroupType::AvChatRoom);
}

#[test]
fn clean_targets_and_codes_have_text_forms() {
    round_trip(&[
        (CleanTarget::AllC2c, "c2c"),
        (CleanTarget::AllGroups, "group"),
        (CleanTarget::All, ""),
        (CleanTarget::Conversation(id("c2c_alice")), "c2c_alice"),
        (CleanTarget::Conversation(id("group_team")), "group_team"),
    ]);
    round_trip(&[
        (ErrorCode::InvalidParameters, "6017"),
        (ErrorCode::TooManyPinned, "51012"),
        (ErrorCode::Success, "0"),
    ]);
    assert_eq!(
        "12345".parse::<ErrorCode>().unwrap_err().code().as_i32(),
        6017
    );
}

#[test]
fn sync_status_prints() {
    assert_eq!(SyncStatus::Disabled.to_string(), "disabled");
    assert_eq!(SyncStatus::UpToDate.to_string(), "up_to_date");
    let failed = SyncStatus::Failed {
        code: ErrorCode::NetworkDisconnected,
        message: "offline".into(),
    };
    assert_eq!(failed.to_string(), "failed (9508): offline");
}
