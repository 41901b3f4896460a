//! The `sitrep` binary's library: configuration, start-up, TLS, logging, the first-start
//! bootstrap and its demo data, the access-log sealer and checkpoints, and the
//! `sitrep access-log …` commands.

pub mod access_log;
pub mod bootstrap;
pub mod checkpoint;
pub mod config;
pub mod demo;
pub mod sealer;
pub mod startup;
pub mod telemetry;
pub mod tls;

pub use config::Settings;
pub use startup::Application;
