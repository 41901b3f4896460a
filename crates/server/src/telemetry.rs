//! Logging: `tracing` with a filter from the configuration (or `RUST_LOG`), pretty for
//! people or JSON lines in production.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::config::{LogFormat, LogSettings};

/// Logs to standard error, as the service does.
pub fn init(settings: &LogSettings) {
    init_with(settings, std::io::stderr);
}

/// Logs to `writer` (the tests pass one that goes into the test harness's output). Only
/// the first call in a process sets the subscriber; later ones change nothing.
pub fn init_with<W>(settings: &LogSettings, writer: W)
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&settings.level));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer);
    let _ = match settings.format {
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).try_init(),
        LogFormat::Pretty => builder.compact().try_init(),
    };
}
