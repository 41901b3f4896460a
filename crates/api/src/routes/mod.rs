//! One module per resource.

pub mod access_log;
pub mod auth;
pub mod feed;
pub mod health;
pub mod keys;
pub mod me;
pub mod notifications;
pub mod organisations;
pub mod peers;
pub mod pictures;
pub mod reference;
pub mod reports;
pub mod service_accounts;
pub mod stream;
pub mod subscriptions;
pub mod taxii;
pub mod threads;
pub mod totp;
pub mod users;
