//! The typed conversation model: identities, records, messages, drafts, marks and options.
//!
//! Every type here serialises with the exact JSON keys of the original SDK (SPEC §2–§6), so
//! records can be exchanged with code written against the C API.

mod conversation;
mod custom_data;
mod draft;
mod id;
mod marks;
pub(crate) mod message;
mod options;

pub use conversation::Conversation;
pub use custom_data::CustomData;
pub use draft::Draft;
pub use id::{ConversationId, ConversationType};
pub use marks::MarkFlags;
pub use message::Message;
pub use options::{GroupAtInfo, GroupAtType, GroupType, ReceiveOption};
