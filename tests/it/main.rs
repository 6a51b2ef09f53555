//! Integration tests, compiled into one binary.

mod bad_input;
mod behaviour;
mod common;
mod concurrency;
mod conformance;
mod crash;
mod golden;
mod live;
mod loopback;
mod paging;
mod properties;
mod sqlite;
mod sync;
mod sync_bad_server;
mod sync_groups;
mod sync_properties;
mod sync_resync;
mod sync_status;
