//! Integration tests of pressluft-server: the real binary on a loopback port, driven through
//! `pressluft_common::Client` (the TUI's own client). One module per area.

mod support;
mod api;
mod contract;
mod jobs;
mod s3;
