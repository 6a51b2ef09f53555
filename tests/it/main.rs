//! Integration tests, compiled into one binary.

mod api;
mod bad_input;
mod behaviour;
mod common;
mod concurrency;
mod conformance;
mod crash;
mod golden;
mod lifecycle;
mod live;
mod loopback;
mod paging;
mod properties;
mod serde_forms;
mod sqlite;
mod sync;
mod sync_bad_server;
mod sync_groups;
mod sync_properties;
mod sync_resync;
mod sync_status;
mod text_forms;
