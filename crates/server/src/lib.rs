//! The `sitrep` binary's library: configuration, start-up, first-start bootstrap, TLS.

pub mod audit;
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
