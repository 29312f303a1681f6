//! `FlickrApi`: the async REST client. Builds requests (the API key travels only in the
//! query string and never reaches a log or an error), retries transient failures with
//! exponential backoff and full jitter, honours `Retry-After` on HTTP 429, spends a token of
//! the rate limiter per attempt (at the task's [`super::priority`]), and counts calls per method.

use super::error::FlickrError;
use super::ratelimit::RateLimiter;
use super::types::{self, FlickrUser, PhotoInfo, PhotoPage};
use crate::config;
use crate::photo::{Comment, Size};
use crate::retry::Backoff;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const DEFAULT_API_URL: &str = "https://api.flickr.com/services/rest/";

/// Everything a listing can carry, so that neither getSizes nor getInfo is needed per photo.
pub const LISTING_EXTRAS: &[&str] = &[
    "description",
    "date_upload",
    "last_update",
    "media",
    "original_format",
    "o_dims",
    "count_comments",
    "date_taken",
    "tags",
    "url_o",
    "url_6k",
    "url_5k",
    "url_4k",
    "url_3k",
    "url_k",
    "url_h",
    "url_l",
    "url_c",
    "url_z",
];

#[derive(Clone, Debug)]
pub struct ClientOptions {
    pub api_url: String,
    pub rate_limit_per_hour: u32,
    pub burst: u32,
    pub max_retries: u32,
    pub backoff: Backoff,
    pub timeout: Duration,
    /// The key's shared budget file ([`super::budget`]); `None`: this process counts alone.
    pub budget_file: Option<std::path::PathBuf>,
}

/// An API URL the client can call: absolute, http or https, with a host. Said in one line
/// that names what was given and what is expected.
fn check_api_url(url: &str) -> Result<(), FlickrError> {
    let expected =
        "expected an http:// or https:// URL such as https://api.flickr.com/services/rest";
    match reqwest::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(()),
        Ok(u) => Err(FlickrError::Config(format!(
            "invalid API URL {url:?}: scheme {:?} is not supported, {expected}",
            u.scheme()
        ))),
        Err(e) => Err(FlickrError::Config(format!(
            "invalid API URL {url:?}: {e}, {expected}"
        ))),
    }
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            api_url: std::env::var("FLICKR_API_URL")
                .ok()
                .filter(|u| !u.is_empty())
                .unwrap_or_else(|| DEFAULT_API_URL.to_string()),
            rate_limit_per_hour: config::DEFAULT_RATE_LIMIT,
            burst: config::RATE_BURST,
            max_retries: config::API_RETRIES,
            backoff: config::API_BACKOFF,
            timeout: config::API_TIMEOUT,
            budget_file: None,
        }
    }
}

struct Inner {
    key: String,
    #[allow(dead_code)] // kept for signed calls; public methods need only the key
    secret: String,
    opts: ClientOptions,
    /// Built on first use (or by [`FlickrApi::warm_up`]): loading the system's CA
    /// certificates costs about 0.1 s from a cold disk, which a mount over a cache it serves
    /// without a single call should not wait for.
    http: std::sync::OnceLock<reqwest::Client>,
    limiter: RateLimiter,
    counts: Mutex<BTreeMap<String, u64>>,
    total: AtomicU64,
}

/// The Flickr REST client. Cheap to clone.
#[derive(Clone)]
pub struct FlickrApi {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for FlickrApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlickrApi")
            .field("api_url", &self.inner.opts.api_url)
            .field("consumer_key", &"<redacted>")
            .field("consumer_secret", &"<redacted>")
            .finish()
    }
}

enum Attempt {
    Done(Value),
    Retry {
        after: Option<Duration>,
        err: FlickrError,
    },
    Fail(FlickrError),
}

impl FlickrApi {
    pub fn new(consumer_key: &str, consumer_secret: &str) -> FlickrApi {
        Self::with_options(consumer_key, consumer_secret, ClientOptions::default()).unwrap_or_else(
            |_| {
                FlickrApi::build(
                    consumer_key,
                    consumer_secret,
                    ClientOptions::default(),
                    std::sync::OnceLock::new(),
                )
            },
        )
    }

    pub fn with_options(
        consumer_key: &str,
        consumer_secret: &str,
        opts: ClientOptions,
    ) -> Result<FlickrApi, FlickrError> {
        check_api_url(&opts.api_url)?;
        Ok(FlickrApi::build(
            consumer_key,
            consumer_secret,
            opts,
            std::sync::OnceLock::new(),
        ))
    }

    fn build(
        key: &str,
        secret: &str,
        opts: ClientOptions,
        http: std::sync::OnceLock<reqwest::Client>,
    ) -> FlickrApi {
        FlickrApi {
            inner: Arc::new(Inner {
                key: key.trim().to_string(),
                secret: secret.to_string(),
                limiter: match &opts.budget_file {
                    Some(p) => RateLimiter::shared(opts.rate_limit_per_hour, opts.burst, p.clone()),
                    None => RateLimiter::new(opts.rate_limit_per_hour, opts.burst),
                },
                opts,
                http,
                counts: Mutex::new(BTreeMap::new()),
                total: AtomicU64::new(0),
            }),
        }
    }

    /// The HTTP client, built on first use.
    fn http(&self) -> &reqwest::Client {
        self.inner.http.get_or_init(|| {
            reqwest::Client::builder()
                .timeout(self.inner.opts.timeout)
                .connect_timeout(Duration::from_secs(20))
                .user_agent(concat!("flickrfs/", env!("CARGO_PKG_VERSION")))
                .build()
                .unwrap_or_else(|e| {
                    tracing::warn!("HTTP client with defaults: {}", e.without_url());
                    reqwest::Client::new()
                })
        })
    }

    /// Builds the HTTP client now (off the path of whatever waits for the first call).
    pub fn warm_up(&self) {
        self.http();
    }

    pub fn api_url(&self) -> &str {
        &self.inner.opts.api_url
    }

    pub fn call_counts(&self) -> BTreeMap<String, u64> {
        self.inner
            .counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn total_calls(&self) -> u64 {
        self.inner.total.load(Ordering::Relaxed)
    }

    pub fn calls_last_hour(&self) -> u64 {
        self.inner.limiter.calls_last_hour()
    }

    pub fn calls_left_this_hour(&self) -> u64 {
        self.inner.limiter.calls_left_this_hour()
    }

    /// How long calls have yet to wait for the rate limit, when they wait.
    pub fn rate_wait(&self) -> Option<Duration> {
        self.inner.limiter.waiting_for()
    }

    /// The configured allowance, calls per hour.
    pub fn rate_limit_per_hour(&self) -> u32 {
        self.inner.limiter.per_hour()
    }

    /// A username, an NSID or a photostream URL.
    pub async fn find_user(&self, user: &str) -> Result<FlickrUser, FlickrError> {
        let user = user.trim();
        let v = if user.contains("flickr.com/") {
            let url = if user.starts_with("http") {
                user.to_string()
            } else {
                format!("https://{user}")
            };
            self.call("flickr.urls.lookupUser", &[("url", url)]).await?
        } else if is_nsid(user) {
            let url = format!("https://www.flickr.com/photos/{user}/");
            self.call("flickr.urls.lookupUser", &[("url", url)]).await?
        } else {
            self.call(
                "flickr.people.findByUsername",
                &[("username", user.to_string())],
            )
            .await?
        };
        FlickrUser::from_json(&v)
    }

    pub async fn get_photos(
        &self,
        user_id: &str,
        page: u32,
        per_page: u32,
        extras: &[&str],
    ) -> Result<PhotoPage, FlickrError> {
        self.get_photos_uploaded(user_id, page, per_page, extras, None, None)
            .await
    }

    /// `flickr.people.getPhotos` restricted to photos uploaded between `min_upload_date` and
    /// `max_upload_date` (unix seconds, both inclusive, as Flickr documents them).
    pub async fn get_photos_uploaded(
        &self,
        user_id: &str,
        page: u32,
        per_page: u32,
        extras: &[&str],
        min_upload_date: Option<i64>,
        max_upload_date: Option<i64>,
    ) -> Result<PhotoPage, FlickrError> {
        let mut params = vec![
            ("user_id", user_id.to_string()),
            ("page", page.max(1).to_string()),
            ("per_page", per_page.clamp(1, 500).to_string()),
        ];
        if let Some(d) = min_upload_date {
            params.push(("min_upload_date", d.to_string()));
        }
        if let Some(d) = max_upload_date {
            params.push(("max_upload_date", d.to_string()));
        }
        if !extras.is_empty() {
            params.push(("extras", extras.join(",")));
        }
        let v = self.call("flickr.people.getPhotos", &params).await?;
        PhotoPage::from_json(&v)
    }

    /// One page of the user's photosets (`flickr.photosets.getList`): the sets, the pages.
    pub async fn get_photosets(
        &self,
        user_id: &str,
        page: u32,
        per_page: u32,
    ) -> Result<(Vec<types::Photoset>, u32), FlickrError> {
        let params = [
            ("user_id", user_id.to_string()),
            ("page", page.max(1).to_string()),
            ("per_page", per_page.clamp(1, 500).to_string()),
        ];
        let v = self.call("flickr.photosets.getList", &params).await?;
        types::photosets_from_json(&v)
    }

    /// One page of a photoset's photo ids in the set's order (`flickr.photosets.getPhotos`).
    pub async fn get_photoset_photos(
        &self,
        set_id: &str,
        user_id: &str,
        page: u32,
        per_page: u32,
    ) -> Result<(Vec<String>, u32), FlickrError> {
        let params = [
            ("photoset_id", set_id.to_string()),
            ("user_id", user_id.to_string()),
            ("page", page.max(1).to_string()),
            ("per_page", per_page.clamp(1, 500).to_string()),
        ];
        let v = self.call("flickr.photosets.getPhotos", &params).await?;
        types::photoset_photos_from_json(&v)
    }

    pub async fn get_photo_sizes(&self, photo_id: &str) -> Result<Vec<Size>, FlickrError> {
        let v = self
            .call(
                "flickr.photos.getSizes",
                &[("photo_id", photo_id.to_string())],
            )
            .await?;
        types::sizes_from_json(&v)
    }

    pub async fn get_photo_info(&self, photo_id: &str) -> Result<PhotoInfo, FlickrError> {
        let v = self
            .call(
                "flickr.photos.getInfo",
                &[("photo_id", photo_id.to_string())],
            )
            .await?;
        PhotoInfo::from_json(&v)
    }

    pub async fn get_photo_comments(&self, photo_id: &str) -> Result<Vec<Comment>, FlickrError> {
        let v = self
            .call(
                "flickr.photos.comments.getList",
                &[("photo_id", photo_id.to_string())],
            )
            .await?;
        types::comments_from_json(&v)
    }

    /// One REST call with retries. `params` must not contain the key.
    pub async fn call(
        &self,
        method: &str,
        params: &[(&str, String)],
    ) -> Result<Value, FlickrError> {
        let opts = &self.inner.opts;
        let mut attempt = 0u32;
        let breaker = super::breaker::breaker();
        loop {
            // Fails at once, before spending a call, when a person waits and Flickr is down.
            breaker.check().map_err(FlickrError::Transport)?;
            if let Err(wait) = self.inner.limiter.acquire().await {
                return Err(FlickrError::RateLimited { wait });
            }
            self.count(method);
            tracing::debug!(
                "Flickr call {method} {}",
                params
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            );
            let outcome = self.attempt(method, params).await;
            let (after, err) = match outcome {
                Attempt::Done(v) => {
                    breaker.success();
                    return Ok(v);
                }
                Attempt::Fail(e) => {
                    breaker.success();
                    return Err(e);
                }
                Attempt::Retry { after, err } => (after, err),
            };
            match err {
                FlickrError::Transport(_) | FlickrError::Http { status: 500.. } => {
                    breaker.failure();
                }
                _ => breaker.success(),
            }
            if attempt >= opts.max_retries || breaker.check().is_err() {
                return Err(err);
            }
            let wait = after.unwrap_or_else(|| super::breaker::pace(opts.backoff.delay(attempt)));
            tracing::debug!(
                "Flickr call {method} failed ({err}); retry {} in {:?}",
                attempt + 1,
                wait
            );
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    fn count(&self, method: &str) {
        *self
            .inner
            .counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(method.to_string())
            .or_default() += 1;
        self.inner.total.fetch_add(1, Ordering::Relaxed);
    }

    async fn attempt(&self, method: &str, params: &[(&str, String)]) -> Attempt {
        let mut query: Vec<(&str, &str)> = vec![
            ("method", method),
            ("api_key", &self.inner.key),
            ("format", "json"),
            ("nojsoncallback", "1"),
        ];
        query.extend(params.iter().map(|(k, v)| (*k, v.as_str())));
        let resp = match self
            .http()
            .get(&self.inner.opts.api_url)
            .query(&query)
            .send()
            .await
        {
            Ok(r) => r,
            Err(e) => {
                return Attempt::Retry {
                    after: None,
                    err: FlickrError::Transport(super::error::transport_message(e)),
                }
            }
        };
        let status = resp.status().as_u16();
        if status == 429 {
            let after = resp
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                // Honoured even above the back-off cap (the server knows best), within reason.
                .map(|s| Duration::from_secs(s.min(3600)));
            return Attempt::Retry {
                after: Some(after.unwrap_or(self.inner.opts.backoff.base)),
                err: FlickrError::Http { status },
            };
        }
        if status >= 500 || status == 408 {
            return Attempt::Retry {
                after: None,
                err: FlickrError::Http { status },
            };
        }
        if !(200..300).contains(&status) {
            return Attempt::Fail(FlickrError::Http { status });
        }
        let body = match resp.bytes().await {
            Ok(b) => b,
            Err(e) => {
                return Attempt::Retry {
                    after: None,
                    err: FlickrError::Transport(super::error::transport_message(e)),
                }
            }
        };
        let v: Value = match serde_json::from_slice(strip_jsonp(&body)) {
            Ok(v) => v,
            Err(e) => {
                return Attempt::Retry {
                    after: None,
                    err: FlickrError::InvalidResponse(format!("not JSON ({e})")),
                }
            }
        };
        match v.get("stat").and_then(Value::as_str) {
            Some("ok") => Attempt::Done(v),
            Some("fail") => {
                let err = FlickrError::Api {
                    code: types::num(&v["code"]).unwrap_or(0),
                    message: types::text(&v["message"]).unwrap_or_else(|| "unknown error".into()),
                };
                if err.is_transient_api() {
                    Attempt::Retry { after: None, err }
                } else {
                    Attempt::Fail(err)
                }
            }
            _ => Attempt::Retry {
                after: None,
                err: FlickrError::InvalidResponse("no \"stat\" in the answer".into()),
            },
        }
    }
}

/// Accepts `jsonFlickrApi(...)` as well as bare JSON.
fn strip_jsonp(body: &[u8]) -> &[u8] {
    let t = body.trim_ascii();
    if let Some(inner) = t.strip_prefix(b"jsonFlickrApi(") {
        if let Some(inner) = inner.strip_suffix(b")") {
            return inner;
        }
    }
    t
}

/// `12345678@N07`
pub fn is_nsid(s: &str) -> bool {
    match s.split_once('@') {
        Some((a, b)) => {
            !a.is_empty()
                && a.bytes().all(|c| c.is_ascii_digit())
                && b.len() == 3
                && b.starts_with('N')
                && b[1..].bytes().all(|c| c.is_ascii_digit())
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_keys() {
        let api = FlickrApi::new("0123456789abcdef0123456789abcdef", "s3cr3tvalue");
        let d = format!("{api:?}");
        assert!(
            !d.contains("0123456789abcdef") && !d.contains("s3cr3tvalue"),
            "{d}"
        );
    }

    #[test]
    fn nsids_and_jsonp() {
        assert!(is_nsid("13476480@N07"));
        assert!(!is_nsid("manhhai"));
        assert!(!is_nsid("1@N0"));
        assert_eq!(strip_jsonp(b" jsonFlickrApi({\"a\":1}) "), b"{\"a\":1}");
    }
}
