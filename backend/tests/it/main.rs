//! Integration tests of pressluft-server: the real binary on a loopback port, driven through
//! `pressluft_common::Client` (the TUI's own client). One module per area.

mod api;
mod backups;
mod contract;
mod doctor;
mod jobs;
mod node;
mod restore;
mod restore_s3;
mod s3;
mod support;
