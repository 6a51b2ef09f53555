#![doc = include_str!("../README.md")]
#![warn(missing_docs)]
// The exported functions keep the original C API's names (`TIMConvGetConvList`, ...).
#![allow(non_snake_case)]

mod calls;
mod codes;
mod conversation;
mod data_dir;
mod decoration;
mod delivery;
mod draft;
mod ext;
mod ffi;
mod folders;
mod forwarder;
mod init;
mod input;
mod listeners;
mod sdk;
mod session;
mod unread;

pub use codes::{
    TIM_ERR_CONV, TIM_ERR_GROUP, TIM_ERR_JSON, TIM_ERR_NOTLOGIN, TIM_ERR_PARAM, TIM_ERR_SDKUNINIT,
    TIM_SUCC,
};
pub use conversation::{
    TIMConvCreate, TIMConvDelete, TIMConvDeleteConversationList, TIMConvGetConvInfo,
    TIMConvGetConvList, TIMConvGetConversationListByFilter,
};
pub use decoration::{
    TIMConvMarkConversation, TIMConvPinConversation, TIMConvSetConversationCustomData,
};
pub use draft::{TIMConvCancelDraft, TIMConvSetDraft};
pub use ext::TIMConvExtFeedMessage;
pub use ffi::{
    TIMCommCallback, TIMConvConversationGroupCreatedCallback,
    TIMConvConversationGroupDeletedCallback, TIMConvConversationGroupNameChangedCallback,
    TIMConvConversationsAddedToGroupCallback, TIMConvConversationsDeletedFromGroupCallback,
    TIMConvEventCallback, TIMConvTotalUnreadMessageCountChangedByFilterCallback,
    TIMConvTotalUnreadMessageCountChangedCallback,
};
pub use folders::{
    TIMConvAddConversationsToGroup, TIMConvCreateConversationGroup, TIMConvDeleteConversationGroup,
    TIMConvDeleteConversationsFromGroup, TIMConvGetConversationGroupList,
    TIMConvRenameConversationGroup,
};
pub use init::{TIMInit, TIMLogin, TIMLogout, TIMUninit};
pub use listeners::{
    TIMSetConvConversationGroupCreatedCallback, TIMSetConvConversationGroupDeletedCallback,
    TIMSetConvConversationGroupNameChangedCallback, TIMSetConvConversationsAddedToGroupCallback,
    TIMSetConvConversationsDeletedFromGroupCallback, TIMSetConvEventCallback,
    TIMSetConvTotalUnreadMessageCountChangedCallback,
    TIMSetConvUnreadMessageCountChangedByFilterCallback,
};
pub use unread::{
    TIMConvCleanConversationUnreadMessageCount, TIMConvGetTotalUnreadMessageCount,
    TIMConvGetUnreadMessageCountByFilter, TIMConvSubscribeUnreadMessageCountByFilter,
    TIMConvUnsubscribeUnreadMessageCountByFilter,
};
