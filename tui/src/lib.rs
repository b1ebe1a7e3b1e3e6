//! Pressluft's terminal client: one `App` state changed only by `App::update(Action)`, drawn by
//! `ui::render`, with network calls described as `Effect`s and run by `execute_effect` in tasks.

pub mod action;
pub mod app;
pub mod cli;
mod dialog_keys;
pub mod effects;
pub mod format;
pub mod job;
mod keys;
pub mod runtime;
pub mod state;
pub mod strings;
pub mod ui;

pub use action::{Action, Effect, Op, Secret};
pub use app::{App, Config, Dialog, Pane, Screen, StartAuth};
pub use effects::execute_effect;
pub use job::JobView;
pub use ui::render;
