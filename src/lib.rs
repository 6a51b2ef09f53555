#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

pub mod error;
pub mod events;
pub mod filter;
mod folders;
mod index;
pub mod limits;
pub mod live;
pub(crate) mod manager;
pub mod model;
pub mod outcome;
pub mod paging;
pub mod store;
mod streams;
pub mod sync;
pub mod transport;

pub use error::{Error, ErrorCode, Result};
pub use events::{Event, EventStream, FolderRemovalReason, Lagged};
pub use filter::ConversationFilter;
pub use limits::Limits;
pub use manager::{
    CleanTarget, ConversationManager, IngestOutcome, ManagerBuilder, MessageHistory, Profile,
    ReadUpTo, UnreadStream,
};
pub use model::{
    Conversation, ConversationId, ConversationType, CustomData, Draft, GroupAtInfo, GroupAtType,
    GroupType, IntoConversationIds, MarkFlags, Message, MessageBuilder, ReceiveOption,
};
pub use outcome::{BatchOutcome, ConversationOutcome};
pub use paging::{Cursor, Page};
pub use store::{MemoryStore, SqliteStore, SqliteStoreOptions, Store, Synchronous};
pub use sync::{SyncOptions, SyncStatus, SyncStatusStream};
pub use transport::Transport;
