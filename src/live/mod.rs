#![doc = include_str!("../../docs/LIVE_LISTS.md")]

mod diff;
mod list;
mod registry;
mod watch;
mod window;

pub use eyeball_im::{Vector, VectorDiff};
pub use list::{LiveList, LiveListController, LiveListDiff, LiveListStream};
pub use watch::ConversationWatch;

pub(crate) use list::Source;
pub(crate) use registry::{Registry, Subscription};
pub(crate) use window::ListKey;
