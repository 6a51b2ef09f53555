//! Placeholder replaced by the index benches.
#![allow(missing_docs)]
fn main() {}
