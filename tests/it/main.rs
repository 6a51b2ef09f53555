//! Integration tests, compiled into one binary.

mod bad_input;
mod behaviour;
mod common;
mod concurrency;
mod golden;
mod paging;
mod properties;
