//! The typed conversation model: identities, records, messages, drafts, marks and options.
//!
//! Every type here serialises with the exact JSON keys of the original SDK, so records can be
//! exchanged with code written against its C API.

mod conversation;
mod custom_data;
mod draft;
mod id;
pub mod lifecycle;
mod marks;
pub(crate) mod message;
mod options;

pub use conversation::Conversation;
pub use custom_data::CustomData;
pub use draft::Draft;
pub use id::{ConversationId, ConversationType, IntoConversationIds};
pub use marks::MarkFlags;
pub use message::{Message, MessageBuilder};
pub use options::{GroupAtInfo, GroupAtType, GroupType, ReceiveOption};
