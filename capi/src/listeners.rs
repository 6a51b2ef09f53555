//! Listeners: the eight `TIMSet...Callback` setters, and the C form of each event of the
//! logged-in user's conversation list.
//!
//! While a user is logged in, the forwarder (`forwarder.rs`) posts the C form of the manager's
//! events to the callback thread, which calls the listener set at that moment.

use std::ffi::{c_char, c_int, c_void};
use std::sync::{Arc, PoisonError, RwLock};

use timconv::{Conversation, ConversationFilter, ConversationId, Event};

use crate::ffi::{
    TIMConvConversationGroupCreatedCallback, TIMConvConversationGroupDeletedCallback,
    TIMConvConversationGroupNameChangedCallback, TIMConvConversationsAddedToGroupCallback,
    TIMConvConversationsDeletedFromGroupCallback, TIMConvEventCallback,
    TIMConvTotalUnreadMessageCountChangedByFilterCallback,
    TIMConvTotalUnreadMessageCountChangedCallback, UserData, c_string, entry_void,
};

/// A listener: the C function and its `user_data`.
type Listener<F> = Option<(F, UserData)>;

type ConvEventFn = unsafe extern "C" fn(c_int, *const c_char, *const c_void);
type TotalFn = unsafe extern "C" fn(c_int, *const c_void);
type ByFilterFn = unsafe extern "C" fn(*const c_char, c_int, *const c_void);
type NameAndListFn = unsafe extern "C" fn(*const c_char, *const c_char, *const c_void);
type NameFn = unsafe extern "C" fn(*const c_char, *const c_void);

/// The listeners set now. Process-wide: they may be set before `TIMInit` and stay set until
/// replaced.
#[derive(Clone, Copy)]
struct Listeners {
    conv_event: Listener<ConvEventFn>,
    total_unread: Listener<TotalFn>,
    unread_by_filter: Listener<ByFilterFn>,
    group_created: Listener<NameAndListFn>,
    group_deleted: Listener<NameFn>,
    group_renamed: Listener<NameAndListFn>,
    added_to_group: Listener<NameAndListFn>,
    removed_from_group: Listener<NameAndListFn>,
}

static LISTENERS: RwLock<Listeners> = RwLock::new(Listeners {
    conv_event: None,
    total_unread: None,
    unread_by_filter: None,
    group_created: None,
    group_deleted: None,
    group_renamed: None,
    added_to_group: None,
    removed_from_group: None,
});

fn set(edit: impl FnOnce(&mut Listeners)) {
    edit(&mut LISTENERS.write().unwrap_or_else(PoisonError::into_inner));
}

fn listeners() -> Listeners {
    *LISTENERS.read().unwrap_or_else(PoisonError::into_inner)
}

/// Sets the listener of conversation events (`kTIMConvEvent_Add`, `_Del`, `_Update`,
/// `_Start`, `_Finish`, each with a JSON array of ConvInfo); NULL removes it.
#[unsafe(no_mangle)]
pub extern "C" fn TIMSetConvEventCallback(cb: TIMConvEventCallback, user_data: *const c_void) {
    entry_void("TIMSetConvEventCallback", || {
        set(|l| l.conv_event = cb.map(|cb| (cb, UserData(user_data))));
    });
}

/// Sets the listener of the total unread count; NULL removes it.
#[unsafe(no_mangle)]
pub extern "C" fn TIMSetConvTotalUnreadMessageCountChangedCallback(
    cb: TIMConvTotalUnreadMessageCountChangedCallback,
    user_data: *const c_void,
) {
    entry_void("TIMSetConvTotalUnreadMessageCountChangedCallback", || {
        set(|l| l.total_unread = cb.map(|cb| (cb, UserData(user_data))));
    });
}

/// Sets the listener of subscribed filters' unread counts; NULL removes it.
#[unsafe(no_mangle)]
pub extern "C" fn TIMSetConvUnreadMessageCountChangedByFilterCallback(
    cb: TIMConvTotalUnreadMessageCountChangedByFilterCallback,
    user_data: *const c_void,
) {
    entry_void(
        "TIMSetConvUnreadMessageCountChangedByFilterCallback",
        || {
            set(|l| l.unread_by_filter = cb.map(|cb| (cb, UserData(user_data))));
        },
    );
}

/// Sets the listener of created conversation groups; NULL removes it.
#[unsafe(no_mangle)]
pub extern "C" fn TIMSetConvConversationGroupCreatedCallback(
    cb: TIMConvConversationGroupCreatedCallback,
    user_data: *const c_void,
) {
    entry_void("TIMSetConvConversationGroupCreatedCallback", || {
        set(|l| l.group_created = cb.map(|cb| (cb, UserData(user_data))));
    });
}

/// Sets the listener of deleted conversation groups; NULL removes it.
#[unsafe(no_mangle)]
pub extern "C" fn TIMSetConvConversationGroupDeletedCallback(
    cb: TIMConvConversationGroupDeletedCallback,
    user_data: *const c_void,
) {
    entry_void("TIMSetConvConversationGroupDeletedCallback", || {
        set(|l| l.group_deleted = cb.map(|cb| (cb, UserData(user_data))));
    });
}

/// Sets the listener of renamed conversation groups; NULL removes it.
#[unsafe(no_mangle)]
pub extern "C" fn TIMSetConvConversationGroupNameChangedCallback(
    cb: TIMConvConversationGroupNameChangedCallback,
    user_data: *const c_void,
) {
    entry_void("TIMSetConvConversationGroupNameChangedCallback", || {
        set(|l| l.group_renamed = cb.map(|cb| (cb, UserData(user_data))));
    });
}

/// Sets the listener of conversations added to a group; NULL removes it.
#[unsafe(no_mangle)]
pub extern "C" fn TIMSetConvConversationsAddedToGroupCallback(
    cb: TIMConvConversationsAddedToGroupCallback,
    user_data: *const c_void,
) {
    entry_void("TIMSetConvConversationsAddedToGroupCallback", || {
        set(|l| l.added_to_group = cb.map(|cb| (cb, UserData(user_data))));
    });
}

/// Sets the listener of conversations that left a group; NULL removes it.
#[unsafe(no_mangle)]
pub extern "C" fn TIMSetConvConversationsDeletedFromGroupCallback(
    cb: TIMConvConversationsDeletedFromGroupCallback,
    user_data: *const c_void,
) {
    entry_void("TIMSetConvConversationsDeletedFromGroupCallback", || {
        set(|l| l.removed_from_group = cb.map(|cb| (cb, UserData(user_data))));
    });
}

/// The C form of an event: which listener it goes to and what it receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CEvent {
    /// `TIMConvEventCallback(conv_event, json_conv_array)`.
    Conversations { event: c_int, json: String },
    /// `TIMConvTotalUnreadMessageCountChangedCallback(total)`.
    TotalUnread(c_int),
    /// `TIMConvTotalUnreadMessageCountChangedByFilterCallback(filter, count)`.
    UnreadByFilter { filter: String, count: c_int },
    /// `TIMConvConversationGroupCreatedCallback(name, conversation_array)`.
    FolderCreated { name: String, json: String },
    /// `TIMConvConversationGroupDeletedCallback(name)`.
    FolderDeleted { name: String },
    /// `TIMConvConversationGroupNameChangedCallback(old_name, new_name)`.
    FolderRenamed { old_name: String, new_name: String },
    /// `TIMConvConversationsAddedToGroupCallback(name, conversation_array)`.
    AddedToGroup { name: String, json: String },
    /// `TIMConvConversationsDeletedFromGroupCallback(name, conversation_array)`.
    RemovedFromGroup { name: String, json: String },
}

/// A count as the C listeners take it (an `int`), saturating.
fn count(n: u64) -> c_int {
    c_int::try_from(n).unwrap_or(c_int::MAX)
}

/// A JSON array of ConvInfo.
fn conv_array(conversations: &[Arc<Conversation>]) -> String {
    serde_json::to_string(conversations).unwrap_or_else(|err| {
        tracing::error!(error = %err, "cannot encode conversations");
        "[]".to_owned()
    })
}

/// ConvInfo of conversations known by ID only: the record if it still exists, otherwise its
/// ID and type with every other key at its default (a deleted conversation).
fn by_id(
    ids: &[ConversationId],
    lookup: &impl Fn(&ConversationId) -> Option<Arc<Conversation>>,
) -> String {
    let conversations: Vec<Arc<Conversation>> = ids
        .iter()
        .map(|id| lookup(id).unwrap_or_else(|| Arc::new(Conversation::new(id.clone()))))
        .collect();
    conv_array(&conversations)
}

/// The C form of `event`, `None` for the events the C API has no listener for (sync failures,
/// rejected operations). `lookup` finds a conversation's current record; `filter_text` the
/// text a filter was subscribed with.
pub(crate) fn c_event(
    event: Event,
    lookup: &impl Fn(&ConversationId) -> Option<Arc<Conversation>>,
    filter_text: &impl Fn(&ConversationFilter) -> String,
) -> Option<CEvent> {
    let conversations = |event: c_int, json: String| Some(CEvent::Conversations { event, json });
    match event {
        Event::Added(list) => conversations(0, conv_array(&list)),
        Event::Deleted(ids) => {
            let gone: Vec<Arc<Conversation>> = ids
                .into_iter()
                .map(|id| Arc::new(Conversation::new(id)))
                .collect();
            conversations(1, conv_array(&gone))
        }
        Event::Updated(list) => conversations(2, conv_array(&list)),
        Event::SyncStarted => conversations(3, "[]".to_owned()),
        Event::SyncFinished => conversations(4, "[]".to_owned()),
        Event::TotalUnreadChanged(n) => Some(CEvent::TotalUnread(count(n))),
        Event::UnreadByFilterChanged { filter, count: n } => Some(CEvent::UnreadByFilter {
            filter: filter_text(&filter),
            count: count(n),
        }),
        Event::FolderCreated {
            name,
            conversations: ids,
        } => Some(CEvent::FolderCreated {
            name,
            json: by_id(&ids, lookup),
        }),
        Event::FolderDeleted { name } => Some(CEvent::FolderDeleted { name }),
        Event::FolderRenamed { old_name, new_name } => {
            Some(CEvent::FolderRenamed { old_name, new_name })
        }
        Event::ConversationsAddedToFolder {
            name,
            conversations: ids,
        } => Some(CEvent::AddedToGroup {
            name,
            json: by_id(&ids, lookup),
        }),
        Event::ConversationsRemovedFromFolder {
            name,
            conversations: ids,
            ..
        } => Some(CEvent::RemovedFromGroup {
            name,
            json: by_id(&ids, lookup),
        }),
        other => {
            tracing::debug!(event = ?other, "an event without a C listener");
            None
        }
    }
}

/// Calls the listener of `event` set now, if any. Runs on the callback thread.
pub(crate) fn deliver(event: CEvent) {
    let l = listeners();
    // SAFETY (every call below): the function is the listener the C program set for this
    // event, with the prototype of its header type; the strings are valid, NUL-terminated and
    // outlive the call; `user_data` goes back exactly as it was given.
    match event {
        CEvent::Conversations { event, json } => {
            if let Some((cb, ud)) = l.conv_event {
                let json = c_string(json);
                // SAFETY: see above.
                unsafe { cb(event, json.as_ptr(), ud.0) };
            }
        }
        CEvent::TotalUnread(n) => {
            if let Some((cb, ud)) = l.total_unread {
                // SAFETY: see above.
                unsafe { cb(n, ud.0) };
            }
        }
        CEvent::UnreadByFilter { filter, count } => {
            if let Some((cb, ud)) = l.unread_by_filter {
                let filter = c_string(filter);
                // SAFETY: see above.
                unsafe { cb(filter.as_ptr(), count, ud.0) };
            }
        }
        CEvent::FolderCreated { name, json } => name_and_list(l.group_created, name, json),
        CEvent::FolderDeleted { name } => {
            if let Some((cb, ud)) = l.group_deleted {
                let name = c_string(name);
                // SAFETY: see above.
                unsafe { cb(name.as_ptr(), ud.0) };
            }
        }
        CEvent::FolderRenamed { old_name, new_name } => {
            name_and_list(l.group_renamed, old_name, new_name);
        }
        CEvent::AddedToGroup { name, json } => name_and_list(l.added_to_group, name, json),
        CEvent::RemovedFromGroup { name, json } => {
            name_and_list(l.removed_from_group, name, json);
        }
    }
}

/// Calls a listener that takes two strings.
fn name_and_list(listener: Listener<NameAndListFn>, first: String, second: String) {
    if let Some((cb, ud)) = listener {
        let (first, second) = (c_string(first), c_string(second));
        // SAFETY: as in `deliver`: the C program's listener of this prototype, two valid
        // strings that outlive the call, its own `user_data`.
        unsafe { cb(first.as_ptr(), second.as_ptr(), ud.0) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use timconv::FolderRemovalReason;

    fn id(text: &str) -> ConversationId {
        text.parse().expect("a valid ID")
    }

    fn convert(event: Event) -> Option<CEvent> {
        let lookup = |id: &ConversationId| {
            (id.as_str() == "c2c_alive").then(|| {
                let mut c = Conversation::new(id.clone());
                c.unread_count = 3;
                Arc::new(c)
            })
        };
        c_event(event, &lookup, &|_| "the filter".to_owned())
    }

    fn json(text: &str) -> Value {
        serde_json::from_str(text).expect("JSON")
    }

    #[test]
    fn list_events_carry_conv_info_arrays_with_their_codes() {
        let c = Conversation::new(id("group_g"));
        let Some(CEvent::Conversations { event, json: text }) =
            convert(Event::Added(vec![Arc::new(c.clone())]))
        else {
            panic!("a conversation event");
        };
        assert_eq!(event, 0);
        assert_eq!(json(&text)[0]["conv_id"], "g");
        assert_eq!(json(&text)[0]["conv_type"], 2);
        for (event, code) in [
            (Event::Updated(vec![Arc::new(c)]), 2),
            (Event::SyncStarted, 3),
            (Event::SyncFinished, 4),
        ] {
            let Some(CEvent::Conversations { event, .. }) = convert(event) else {
                panic!("a conversation event");
            };
            assert_eq!(event, code);
        }
    }

    #[test]
    fn a_deleted_conversation_is_its_id_and_type() {
        let Some(CEvent::Conversations {
            event: 1,
            json: text,
        }) = convert(Event::Deleted(vec![id("c2c_bob")]))
        else {
            panic!("a delete event");
        };
        let v = json(&text);
        assert_eq!(
            (v[0]["conv_id"].as_str(), v[0]["conv_type"].as_u64()),
            (Some("bob"), Some(1))
        );
        assert_eq!(v[0]["conv_unread_num"], 0);
    }

    #[test]
    fn unread_events_saturate_to_int() {
        assert_eq!(
            convert(Event::TotalUnreadChanged(u64::MAX)),
            Some(CEvent::TotalUnread(c_int::MAX))
        );
        assert_eq!(
            convert(Event::UnreadByFilterChanged {
                filter: ConversationFilter::new(),
                count: 7
            }),
            Some(CEvent::UnreadByFilter {
                filter: "the filter".into(),
                count: 7
            })
        );
    }

    #[test]
    fn folder_events_look_their_conversations_up() {
        let Some(CEvent::FolderCreated { name, json: text }) = convert(Event::FolderCreated {
            name: "work".into(),
            conversations: vec![id("c2c_alive"), id("c2c_gone")],
        }) else {
            panic!("a created event");
        };
        assert_eq!(name, "work");
        let v = json(&text);
        assert_eq!(v[0]["conv_unread_num"], 3, "the current record");
        assert_eq!(v[1]["conv_id"], "gone", "a missing one by ID");
        assert!(matches!(
            convert(Event::ConversationsRemovedFromFolder {
                name: "work".into(),
                conversations: vec![id("c2c_gone")],
                reason: FolderRemovalReason::ByUser,
            }),
            Some(CEvent::RemovedFromGroup { .. })
        ));
        assert_eq!(
            convert(Event::FolderRenamed {
                old_name: "a".into(),
                new_name: "b".into()
            }),
            Some(CEvent::FolderRenamed {
                old_name: "a".into(),
                new_name: "b".into()
            })
        );
        assert_eq!(
            convert(Event::FolderDeleted { name: "b".into() }),
            Some(CEvent::FolderDeleted { name: "b".into() })
        );
    }
}
