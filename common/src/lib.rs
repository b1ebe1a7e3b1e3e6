//! Pressluft's wire: the API types and the typed HTTP client that the server, the TUI and the
//! tests share. No server or database code lives here.

pub mod client;
pub mod types;

pub use client::{Client, ClientError};
pub use types::*;
