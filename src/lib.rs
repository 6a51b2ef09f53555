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
pub mod sync;
pub mod transport;
mod watch;

pub use error::{Error, ErrorCode, Result};
pub use events::{Event, EventStream, GroupRemovalReason, Lagged};
pub use filter::ConversationFilter;
pub use limits::Limits;
pub use manager::{
    CleanTarget, ConversationManager, IngestOutcome, ManagerBuilder, Profile, UnreadStream,
};
pub use model::{
    Conversation, ConversationId, ConversationType, CustomData, Draft, GroupAtInfo, GroupAtType,
    GroupType, MarkFlags, Message, ReceiveOption,
};
pub use outcome::ConversationOutcome;
pub use paging::{Cursor, Page};
pub use store::{MemoryStore, SqliteStore, SqliteStoreOptions, Store};
pub use sync::{SyncOptions, SyncStatus, SyncStatusStream};
pub use transport::Transport;
