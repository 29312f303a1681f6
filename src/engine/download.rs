//! Static image downloads (not API calls): GET into a temp file with retries, resumed with
//! `Range` after a dropped connection, length-checked against `Content-Length`; and HEAD for
//! exact sizes before a download.

use crate::cache::files::TempFile;
use crate::config;
use crate::retry::Backoff;
use reqwest::header::{ACCEPT_RANGES, CONTENT_LENGTH, CONTENT_RANGE, RANGE, RETRY_AFTER};
use reqwest::StatusCode;
use std::io::{Seek, SeekFrom, Write};
use std::time::Duration;

/// How a download failed (after retries).
#[derive(Debug)]
pub enum DownloadError {
    /// The server answered with a status that retrying will not fix (404, 403, ...).
    Status(u16),
    /// Connection trouble or a short body, retries exhausted.
    Transport(String),
    /// Writing the temp file failed.
    Io(std::io::Error),
    /// The URL is gone: the image host redirected it to its "photo unavailable" placeholder
    /// (the photo was deleted, made private or replaced). Never saved as the photo.
    Gone,
    /// The disk is full (`ENOSPC`); `needed` is the image's length when the host said it.
    NoSpace { needed: Option<u64> },
}

impl std::fmt::Display for DownloadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DownloadError::Status(s) => write!(f, "image host answered HTTP {s}"),
            DownloadError::Transport(m) => write!(f, "image download failed: {m}"),
            DownloadError::Io(e) => write!(f, "cannot write image: {e}"),
            DownloadError::Gone => f.write_str(
                "the image URL is gone (Flickr redirects it to its 'photo unavailable' image)",
            ),
            DownloadError::NoSpace { .. } => write!(f, "cannot write image: no space left"),
        }
    }
}

impl std::error::Error for DownloadError {}

impl From<std::io::Error> for DownloadError {
    fn from(e: std::io::Error) -> Self {
        if e.raw_os_error() == Some(libc::ENOSPC) {
            DownloadError::NoSpace { needed: None }
        } else {
            DownloadError::Io(e)
        }
    }
}

/// Retry settings for downloads.
#[derive(Clone, Debug)]
pub struct DownloadPolicy {
    pub attempts: u32,
    pub backoff: Backoff,
}

impl Default for DownloadPolicy {
    fn default() -> Self {
        DownloadPolicy {
            attempts: config::DOWNLOAD_ATTEMPTS,
            backoff: config::DOWNLOAD_BACKOFF,
        }
    }
}

/// A shared HTTP client for the image host: keep-alive, bounded timeouts, no API key ever.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(config::HTTP_CONNECT_TIMEOUT)
        .read_timeout(config::HTTP_READ_TIMEOUT)
        .pool_max_idle_per_host(config::HTTP_IDLE_PER_HOST)
        .user_agent(concat!("flickrfs/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_default()
}

/// True when a (redirected) URL is Flickr's placeholder for an image that is no longer there:
/// its file is named `photo_unavailable*` (known by its name, never guessed from its size).
pub fn is_placeholder(url: &reqwest::Url) -> bool {
    url.path_segments()
        .and_then(|mut s| s.next_back())
        .is_some_and(|name| name.starts_with("photo_unavailable"))
}

fn transport(e: reqwest::Error) -> String {
    crate::flickr::transport_message(e)
}

/// Downloads `url` into `tmp` (which may already hold a prefix from an earlier attempt) and
/// returns the final length. The caller commits the temp file. Calls `progress` with the bytes
/// written so far after every chunk, and with 0 before cutting the file to start over.
pub async fn download_to(
    http: &reqwest::Client,
    url: &str,
    tmp: &mut TempFile,
    policy: &DownloadPolicy,
    mut progress: impl FnMut(u64),
) -> Result<u64, DownloadError> {
    let mut expected: Option<u64> = None;
    let mut last_err = String::from("no attempt made");
    let breaker = crate::flickr::breaker::breaker();
    for attempt in 0..policy.attempts {
        if attempt > 0 {
            breaker.check().map_err(DownloadError::Transport)?;
            tokio::time::sleep(crate::flickr::breaker::pace(
                policy.backoff.delay(attempt - 1),
            ))
            .await;
        }
        breaker.check().map_err(DownloadError::Transport)?;
        let have = tmp.len()?;
        let mut req = http.get(url);
        if have > 0 {
            req = req.header(RANGE, format!("bytes={have}-"));
        }
        let mut resp = match req.send().await {
            Ok(r) => r,
            Err(e) => {
                breaker.failure();
                last_err = transport(e);
                continue;
            }
        };
        if resp.status().is_server_error() {
            breaker.failure();
        } else {
            breaker.success();
        }
        if is_placeholder(resp.url()) {
            return Err(DownloadError::Gone);
        }
        let status = resp.status();
        if status == StatusCode::TOO_MANY_REQUESTS {
            let wait = resp
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs)
                .unwrap_or(policy.backoff.base)
                .min(Duration::from_secs(3600));
            tokio::time::sleep(wait).await;
            last_err = "HTTP 429".into();
            continue;
        }
        if status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT {
            last_err = format!("HTTP {}", status.as_u16());
            continue;
        }
        let mut offset = 0u64;
        if status == StatusCode::PARTIAL_CONTENT && have > 0 {
            // Content-Range: bytes START-END/TOTAL
            let cr = resp
                .headers()
                .get(CONTENT_RANGE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            let start = cr
                .strip_prefix("bytes ")
                .and_then(|r| r.split('-').next())
                .and_then(|s| s.parse::<u64>().ok());
            let total = cr.rsplit('/').next().and_then(|s| s.parse::<u64>().ok());
            if start != Some(have) {
                restart(tmp, &mut progress)?;
                last_err = format!("server resumed at the wrong offset ({cr})");
                continue;
            }
            if let Some(t) = total {
                expected = Some(t);
            }
            offset = have;
        } else if status == StatusCode::RANGE_NOT_SATISFIABLE {
            // `bytes */TOTAL`: a crash after the last byte but before the rename.
            let total = resp
                .headers()
                .get(CONTENT_RANGE)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("bytes */"))
                .and_then(|v| v.trim().parse::<u64>().ok());
            if total == Some(have) {
                return Ok(have);
            }
            restart(tmp, &mut progress)?;
            last_err = "HTTP 416".into();
            continue;
        } else if status.is_success() {
            if have > 0 {
                restart(tmp, &mut progress)?;
            }
            expected = resp
                .headers()
                .get(CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok());
        } else {
            return Err(DownloadError::Status(status.as_u16()));
        }
        let resumable = resp
            .headers()
            .get(ACCEPT_RANGES)
            .is_some_and(|v| v.as_bytes() == b"bytes")
            || status == StatusCode::PARTIAL_CONTENT;
        tmp.file.seek(SeekFrom::Start(offset))?;
        let mut written = offset;
        let outcome: Result<(), String> = loop {
            match resp.chunk().await {
                Ok(Some(bytes)) => {
                    if let Err(e) = tmp.file.write_all(&bytes) {
                        return Err(match DownloadError::from(e) {
                            DownloadError::NoSpace { .. } => {
                                DownloadError::NoSpace { needed: expected }
                            }
                            other => other,
                        });
                    }
                    written += bytes.len() as u64;
                    progress(written);
                }
                Ok(None) => break Ok(()),
                Err(e) => break Err(transport(e)),
            }
        };
        match (outcome, expected) {
            (Ok(()), Some(len)) if written == len => return Ok(written),
            (Ok(()), None) => return Ok(written),
            (Ok(()), Some(len)) => {
                last_err = format!("short body: {written} of {len} bytes");
            }
            (Err(e), _) => last_err = e,
        }
        if !resumable {
            restart(tmp, &mut progress)?;
        }
    }
    Err(DownloadError::Transport(last_err))
}

/// Cuts the partial file to start over, after telling its readers (see `stream::Progress`).
fn restart(tmp: &mut TempFile, progress: &mut impl FnMut(u64)) -> std::io::Result<()> {
    progress(0);
    tmp.file.set_len(0)
}

/// Exact size of the file at `url` by a HEAD request (not an API call).
pub async fn head_size(
    http: &reqwest::Client,
    url: &str,
    policy: &DownloadPolicy,
) -> Result<u64, DownloadError> {
    let mut last_err = String::new();
    let breaker = crate::flickr::breaker::breaker();
    for attempt in 0..policy.attempts {
        if attempt > 0 {
            breaker.check().map_err(DownloadError::Transport)?;
            tokio::time::sleep(crate::flickr::breaker::pace(
                policy.backoff.delay(attempt - 1),
            ))
            .await;
        }
        breaker.check().map_err(DownloadError::Transport)?;
        let sent = http.head(url).send().await;
        match &sent {
            Ok(r) if !r.status().is_server_error() => breaker.success(),
            _ => {
                breaker.failure();
            }
        }
        match sent {
            Ok(r) if is_placeholder(r.url()) => return Err(DownloadError::Gone),
            Ok(r) if r.status().is_success() => {
                if let Some(len) = r
                    .headers()
                    .get(CONTENT_LENGTH)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse().ok())
                {
                    return Ok(len);
                }
                last_err = "no Content-Length".into();
            }
            Ok(r) if r.status().is_server_error() || r.status().as_u16() == 429 => {
                last_err = format!("HTTP {}", r.status().as_u16());
            }
            Ok(r) => return Err(DownloadError::Status(r.status().as_u16())),
            Err(e) => last_err = transport(e),
        }
    }
    Err(DownloadError::Transport(last_err))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_placeholder_is_known_by_its_name() {
        let gone = |u: &str| is_placeholder(&reqwest::Url::parse(u).unwrap());
        assert!(gone(
            "https://s.yimg.com/pw/images/en-us/photo_unavailable.png"
        ));
        assert!(gone(
            "https://combo.staticflickr.com/pw/images/photo_unavailable_l.gif"
        ));
        assert!(!gone("https://live.staticflickr.com/65535/5001_abc_o.png"));
        assert!(!gone("https://x/photo_unavailable/5001_o.jpg"));
    }
}
