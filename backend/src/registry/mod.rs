//! Registry of nodes, sites and environments (registration, read models, reset).

pub mod handlers;
