//! Integration tests of pressluft-server: the real binary on a loopback port, driven through
//! `pressluft_common::Client` (the TUI's own client). One module per area.

mod api;
mod contract;
mod doctor;
mod jobs;
mod s3;
mod node;
mod support;
