//! Integration tests, compiled into one binary.

mod api;
mod bad_input;
mod behaviour;
mod common;
mod concurrency;
mod conformance;
// Drives the loopback sync server.
#[cfg(feature = "loopback")]
mod crash;
mod errors;
mod golden;
mod lifecycle;
// Drives the loopback sync server.
#[cfg(feature = "loopback")]
mod live;
// Drives the loopback sync server.
#[cfg(feature = "loopback")]
mod loopback;
mod owner;
mod paging;
mod pipeline;
mod properties;
mod serde_forms;
mod settings;
mod sqlite;
// Drives the loopback sync server.
#[cfg(feature = "loopback")]
mod sync;
mod sync_bad_server;
// Drives the loopback sync server.
#[cfg(feature = "loopback")]
mod sync_groups;
// Drives the loopback sync server.
#[cfg(feature = "loopback")]
mod sync_properties;
// Drives the loopback sync server.
#[cfg(feature = "loopback")]
mod sync_resync;
// Drives the loopback sync server.
#[cfg(feature = "loopback")]
mod sync_status;
mod text_forms;
mod tracing;
