//! Static image downloads (not API calls): GET into a temp file with retries, resumed with
//! `Range` after a dropped connection, length-checked against `Content-Length`; and HEAD for
//! exact sizes before a download.

use crate::store::TempFile;
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
}

impl std::fmt::Display for DownloadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DownloadError::Status(s) => write!(f, "image host answered HTTP {s}"),
            DownloadError::Transport(m) => write!(f, "image download failed: {m}"),
            DownloadError::Io(e) => write!(f, "cannot write image: {e}"),
        }
    }
}

impl std::error::Error for DownloadError {}

impl From<std::io::Error> for DownloadError {
    fn from(e: std::io::Error) -> Self {
        DownloadError::Io(e)
    }
}

/// Retry settings for downloads.
#[derive(Clone, Debug)]
pub struct DownloadPolicy {
    pub attempts: u32,
    pub base_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for DownloadPolicy {
    fn default() -> Self {
        DownloadPolicy {
            attempts: 8,
            base_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(30),
        }
    }
}

/// A shared HTTP client for the image host: keep-alive, bounded timeouts, no API key ever.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(20))
        .read_timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(32)
        .user_agent(concat!("flickrfs/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_default()
}

fn jitter(max: Duration) -> Duration {
    // Full jitter from the clock's low bits: enough to spread retries, no PRNG crate needed.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u64)
        .unwrap_or(0);
    let ms = max.as_millis() as u64;
    Duration::from_millis(if ms == 0 {
        0
    } else {
        nanos.wrapping_mul(2654435761) % (ms + 1)
    })
}

fn backoff(policy: &DownloadPolicy, attempt: u32) -> Duration {
    let exp = policy
        .base_backoff
        .saturating_mul(1u32 << attempt.min(16))
        .min(policy.max_backoff);
    jitter(exp).max(policy.base_backoff / 2)
}

fn transport(e: reqwest::Error) -> String {
    e.without_url().to_string()
}

/// Downloads `url` into `tmp` (which may already hold a prefix from an earlier attempt) and
/// returns the final length. The caller commits the temp file. Calls `progress` with the bytes
/// written so far after every chunk.
pub async fn download_to(
    http: &reqwest::Client,
    url: &str,
    tmp: &mut TempFile,
    policy: &DownloadPolicy,
    mut progress: impl FnMut(u64),
) -> Result<u64, DownloadError> {
    let mut expected: Option<u64> = None;
    let mut last_err = String::from("no attempt made");
    for attempt in 0..policy.attempts {
        if attempt > 0 {
            tokio::time::sleep(backoff(policy, attempt - 1)).await;
        }
        let have = tmp.len()?;
        let mut req = http.get(url);
        if have > 0 {
            req = req.header(RANGE, format!("bytes={have}-"));
        }
        let mut resp = match req.send().await {
            Ok(r) => r,
            Err(e) => {
                last_err = transport(e);
                continue;
            }
        };
        let status = resp.status();
        if status == StatusCode::TOO_MANY_REQUESTS {
            let wait = resp
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs)
                .unwrap_or(policy.base_backoff)
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
                tmp.file.set_len(0)?;
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
            tmp.file.set_len(0)?;
            last_err = "HTTP 416".into();
            continue;
        } else if status.is_success() {
            if have > 0 {
                tmp.file.set_len(0)?;
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
                    tmp.file.write_all(&bytes)?;
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
            tmp.file.set_len(0)?;
        }
    }
    Err(DownloadError::Transport(last_err))
}

/// Exact size of the file at `url` by a HEAD request (not an API call).
pub async fn head_size(
    http: &reqwest::Client,
    url: &str,
    policy: &DownloadPolicy,
) -> Result<u64, DownloadError> {
    let mut last_err = String::new();
    for attempt in 0..policy.attempts {
        if attempt > 0 {
            tokio::time::sleep(backoff(policy, attempt - 1)).await;
        }
        match http.head(url).send().await {
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
