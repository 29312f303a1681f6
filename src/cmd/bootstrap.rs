//! What every command that talks to Flickr sets up first: the tokio runtime, keys, the API
//! client, a usable cache path, and the shutdown signal, with failures turned into one-line
//! messages.

use crate::cmd::args::CommonArgs;
use crate::cmd::keys::{self, KeySource};
use crate::flickr::{ClientOptions, FlickrApi};

/// A multi-thread runtime owned by `main` (fuser callbacks reach it through a `Handle`).
pub fn runtime(workers: Option<usize>) -> Result<tokio::runtime::Runtime, String> {
    let mut b = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = workers {
        b.worker_threads(n);
    }
    b.enable_all()
        .thread_name("flickrfs")
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}

/// Resolves keys (saving them when asked) and builds the client.
pub fn build_api(common: &CommonArgs) -> Result<FlickrApi, String> {
    let (keys, source) = keys::resolve(
        common.consumer_key.as_deref(),
        common.consumer_secret.as_deref(),
        &common.cache_path,
    )?;
    if source == KeySource::Flags {
        tracing::warn!(
            "API keys given as flags are visible to other users in `ps`; prefer {} / {} or --save-api-keys",
            keys::ENV_KEY,
            keys::ENV_SECRET
        );
    }
    tracing::debug!("Using API keys from {source:?}");
    if common.save_api_keys {
        let path = keys::save_keys_file(&common.cache_path, &keys)?;
        tracing::info!("Saved API keys to {} (mode 0600)", path.display());
    }
    let mut opts = ClientOptions::default();
    if let Some(url) = &common.api_url {
        opts.api_url = url.clone();
    }
    opts.rate_limit_per_hour = common.rate_limit;
    // One budget per key for every process under this cache root (a mount beside a mirror,
    // a restart): check_cache_path has made the root.
    opts.budget_file = Some(crate::flickr::budget::budget_path(
        &common.cache_path,
        &keys.consumer_key,
    ));
    opts.burst = opts.burst.min(common.rate_limit.max(1));
    FlickrApi::with_options(&keys.consumer_key, &keys.consumer_secret, opts)
        .map_err(|e| e.to_string())
}

/// Checks that the cache path can be created and written before any network work.
pub fn check_cache_path(common: &CommonArgs) -> Result<(), String> {
    crate::cache::files::ensure_private_dir(&common.cache_path)
        .map_err(|e| crate::cache::files::describe_dir_error(&common.cache_path, &e))?;
    let probe = common.cache_path.join(format!(
        ".write-probe.{}{}",
        std::process::id(),
        crate::cache::files::TEMP_SUFFIX
    ));
    std::fs::write(&probe, b"")
        .map_err(|e| crate::cache::files::describe_dir_error(&common.cache_path, &e))?;
    let _ = std::fs::remove_file(probe);
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
}
