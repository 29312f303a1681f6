//! Log setup: tracing-subscriber on stderr, level from `--debug` (0-4) or `RUST_LOG`.
//!
//! Other crates are held at `warn` so that an HTTP library logging a request URL (which carries
//! the API key) at debug level can never print it; only an explicit RUST_LOG overrides that.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. `quiet` (a progress bar is showing) lowers the default
/// level to warnings.
pub fn init(debug: Option<u8>, quiet: bool) {
    let level = match debug {
        Some(0) => "error",
        Some(1) => "warn",
        Some(2) => "info",
        Some(3) => "debug",
        Some(_) => "trace",
        None if quiet => "warn",
        None => "info",
    };
    let filter = match std::env::var("RUST_LOG") {
        Ok(v) if !v.is_empty() && debug.is_none() => EnvFilter::new(v),
        _ => EnvFilter::new(format!("warn,flickrfs={level},mirror_flickr={level}")),
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}
