//! The HTTP plumbing: shared state, the hyper accept loop, routing, response helpers and the
//! control endpoints (`/_stats`, `/_reset_stats`, `/_grow`, `/_expected`, `/_faults`).

use super::data::{self, Photo, USERS};
use super::faults::{Fault, Faults};
use super::{host, image, rest, EmulatorConfig, Expected, ExpectedPhoto, Stats};
use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub type Body = BoxBody<Bytes, BoxError>;

/// Everything the handlers share.
pub struct State {
    pub seed: u64,
    pub image_kb: usize,
    /// "http://127.0.0.1:PORT"
    pub base: String,
    counts: Mutex<[usize; 3]>,
    faults: Mutex<Faults>,
    stats: Mutex<Stats>,
    requests: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl State {
    pub fn new(cfg: &EmulatorConfig, base: String) -> State {
        State {
            seed: cfg.seed,
            image_kb: cfg.image_kb,
            base,
            counts: Mutex::new(data::initial_counts(cfg.photos)),
            faults: Mutex::new(cfg.faults.clone()),
            stats: Mutex::new(Stats::default()),
            requests: AtomicU64::new(0),
        }
    }

    pub fn counts(&self) -> [usize; 3] {
        *lock(&self.counts)
    }

    pub fn photo(&self, id: &str) -> Option<Photo> {
        let (user, rank) = data::locate(id, &self.counts())?;
        Some(self.photo_at(user, rank))
    }

    pub fn photo_at(&self, user: usize, rank: u64) -> Photo {
        Photo::generate(self.seed, self.image_kb, user, rank)
    }

    pub fn stats(&self) -> Stats {
        lock(&self.stats).clone()
    }

    pub fn with_stats(&self, f: impl FnOnce(&mut Stats)) {
        f(&mut lock(&self.stats))
    }

    pub fn reset_stats(&self) {
        *lock(&self.stats) = Stats::default();
    }

    pub fn set_faults(&self, f: Faults) {
        *lock(&self.faults) = f;
    }

    /// New total of the user's stream, or None for an unknown user.
    pub fn grow(&self, username: &str, n: usize) -> Option<usize> {
        let user = data::user_by_name(username)?;
        let mut counts = lock(&self.counts);
        counts[user] = counts[user].saturating_add(n);
        Some(counts[user])
    }

    pub fn expected(&self, username: &str) -> Option<Expected> {
        let user = data::user_by_name(username)?;
        let total = self.counts()[user];
        let photos = (0..total as u64)
            .rev()
            .map(|rank| {
                let p = self.photo_at(user, rank);
                let best = p.best();
                let bytes = image::render(
                    best.format,
                    best.width,
                    best.height,
                    best.len,
                    p.byte_key(best),
                );
                ExpectedPhoto {
                    id: p.id.to_string(),
                    date_upload: p.date_upload,
                    last_update: p.last_update,
                    media: if p.video { "video" } else { "photo" }.to_string(),
                    title: p.title.content.clone(),
                    description: p.description.content.clone(),
                    comments: p.comments.iter().map(|c| c.content.clone()).collect(),
                    title_lang: p.title.lang.to_string(),
                    description_lang: p.description.lang.to_string(),
                    comment_langs: p.comments.iter().map(|c| c.lang.to_string()).collect(),
                    best_url: format!("{}{}", self.base, p.path_of(best)),
                    best_width: best.width,
                    best_height: best.height,
                    best_bytes: bytes.len() as u64,
                    best_md5: image::md5_hex(&bytes),
                    ext: best.format.ext().to_string(),
                    has_original: p.has_original,
                }
            })
            .collect();
        Some(Expected {
            user_id: USERS[user].nsid.to_string(),
            username: USERS[user].username.to_string(),
            total,
            photos,
        })
    }

    /// Latency, then the fault dice for a non-control request (counted when one fires).
    pub async fn pre(&self, rest: bool, image_get: bool) -> Fault {
        let faults = lock(&self.faults).clone();
        if faults.latency_ms > 0 {
            tokio::time::sleep(Duration::from_millis(faults.latency_ms)).await;
        }
        let n = self.requests.fetch_add(1, Ordering::Relaxed);
        let fault = faults.roll(self.seed, n, rest, image_get);
        if fault != Fault::None {
            self.with_stats(|s| s.faults_injected += 1);
        }
        fault
    }

    pub fn retry_after(&self) -> u64 {
        lock(&self.faults).retry_after_secs
    }
}

/// Accepts connections until `stop` changes or its sender is dropped.
pub async fn serve(listener: TcpListener, state: Arc<State>, mut stop: watch::Receiver<bool>) {
    loop {
        let stream = tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, _)) => stream,
                Err(_) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stop.changed() => return,
        };
        let _ = stream.set_nodelay(true);
        let state = state.clone();
        let mut stop = stop.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| {
                let state = state.clone();
                async move { Ok::<_, Infallible>(route(state, req).await) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc);
            tokio::select! {
                _ = conn => {}
                _ = stop.changed() => {}
            }
        });
    }
}

async fn route(state: Arc<State>, req: Request<Incoming>) -> Response<Body> {
    let path = req.uri().path();
    match path {
        "/services/rest/" | "/services/rest" => rest::handle(&state, req).await,
        p if p.starts_with("/img/") || p.starts_with("/video/") => host::handle(&state, &req).await,
        p if p.starts_with("/_") => control(state, &req).await,
        _ => text(
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "not found\n",
        ),
    }
}

/// Query-string (or form body) pairs, percent- and plus-decoded.
pub fn parse_pairs(q: &str) -> Vec<(String, String)> {
    reqwest::Url::parse(&format!("http://e/?{q}"))
        .map(|u| u.query_pairs().into_owned().collect())
        .unwrap_or_default()
}

pub fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

pub fn text(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<Body> {
    let body = body.into();
    let mut r = Response::new(full(body.clone()));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r.headers_mut()
        .insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
    r
}

pub fn json(status: StatusCode, v: &impl serde::Serialize) -> Response<Body> {
    let body = serde_json::to_vec(v).unwrap_or_else(|_| b"{}".to_vec());
    text(status, "application/json; charset=utf-8", body)
}

/// The 503 page of a 5xx fault.
pub fn unavailable() -> Response<Body> {
    text(
        StatusCode::SERVICE_UNAVAILABLE,
        "text/html; charset=utf-8",
        "<html><head><title>503 Service Unavailable</title></head><body><h1>Flickr is having a massage</h1></body></html>\n",
    )
}

/// The 429 of a rate-limit fault.
pub fn too_many(state: &State) -> Response<Body> {
    let mut r = text(
        StatusCode::TOO_MANY_REQUESTS,
        "text/plain; charset=utf-8",
        "Too Many Requests\n",
    );
    r.headers_mut()
        .insert("retry-after", HeaderValue::from(state.retry_after()));
    r
}

async fn control(state: Arc<State>, req: &Request<Incoming>) -> Response<Body> {
    let params = parse_pairs(req.uri().query().unwrap_or(""));
    let bad = |msg: String| {
        json(
            StatusCode::BAD_REQUEST,
            &serde_json::json!({ "error": msg }),
        )
    };
    match req.uri().path() {
        "/_stats" => json(StatusCode::OK, &state.stats()),
        "/_reset_stats" => {
            state.reset_stats();
            json(StatusCode::OK, &state.stats())
        }
        "/_grow" => {
            let user = param(&params, "user").unwrap_or(USERS[0].username);
            let n = match param(&params, "n").map(str::parse::<usize>) {
                Some(Ok(n)) => n,
                _ => return bad("n: expected a number of photos".into()),
            };
            match state.grow(user, n) {
                Some(total) => json(
                    StatusCode::OK,
                    &serde_json::json!({ "username": user, "total": total }),
                ),
                None => bad(format!("unknown user {user:?}")),
            }
        }
        "/_expected" => {
            let user = param(&params, "user")
                .unwrap_or(USERS[0].username)
                .to_string();
            // Hashing every best image of a big stream takes a while: keep it off the workers.
            let st = state.clone();
            let u = user.clone();
            match tokio::task::spawn_blocking(move || st.expected(&u)).await {
                Ok(Some(e)) => json(StatusCode::OK, &e),
                Ok(None) => json(
                    StatusCode::NOT_FOUND,
                    &serde_json::json!({ "error": format!("unknown user {user:?}") }),
                ),
                Err(e) => json(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &serde_json::json!({ "error": e.to_string() }),
                ),
            }
        }
        "/_faults" => {
            let mut f = lock(&state.faults);
            let mut next = f.clone();
            match next.apply_params(&params) {
                Ok(()) => {
                    *f = next.clone();
                    json(StatusCode::OK, &next)
                }
                Err(e) => bad(e),
            }
        }
        _ => text(
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "not found\n",
        ),
    }
}
