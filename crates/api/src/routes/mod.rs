//! One module per resource.

pub mod access_log;
pub mod auth;
pub mod health;
pub mod me;
pub mod organisations;
pub mod users;
