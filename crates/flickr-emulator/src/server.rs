//! The HTTP plumbing: shared state (the `World` of per-user overlays, faults, stats), the
//! hyper accept loop, routing, response helpers, and `/_expected` (what a correct client ends
//! up with, computed from the current state).

use super::data::{self, Key, Photo, Rng, USERS};
use super::faults::{Fault, Faults};
use super::overlay::Overlay;
use super::Stats;
use super::{control, host, image, meta, rest, sets};
use super::{EmulatorConfig, Expected, ExpectedComment, ExpectedGeo, ExpectedPhoto, ExpectedSet};
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

/// The mutable part of the emulated Flickr: each user's overlay, the number of mutating
/// operations so far (it keys their random choices) and the emulated clock they stamp
/// `lastupdate` and new comments with.
pub struct World {
    pub users: [Overlay; 3],
    pub ops: u64,
    pub clock: i64,
}

impl World {
    /// The rng and time of the next mutating operation.
    pub fn next_op(&mut self, seed: u64) -> (Rng, i64) {
        self.ops += 1;
        let newest = self.users.iter().map(|o| o.count).max().unwrap_or(0) as i64;
        // After every upload of the grown streams and their first month of edits.
        let floor = data::EPOCH + newest * 3600 + 31 * 86_400;
        self.clock = self.clock.max(floor) + 3600;
        (Rng::new(&[seed, 0x0B5, self.ops]), self.clock)
    }
}

/// Everything the handlers share.
pub struct State {
    pub seed: u64,
    pub image_kb: usize,
    /// "http://127.0.0.1:PORT"
    pub base: String,
    pub world: Mutex<World>,
    pub faults: Mutex<Faults>,
    stats: Mutex<Stats>,
    requests: AtomicU64,
    /// HEAD requests of the image host being answered now (see [`Stats::image_heads_max_overlap`]).
    heads_in_flight: AtomicU64,
}

pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl State {
    pub fn new(cfg: &EmulatorConfig, base: String) -> State {
        let counts = data::initial_counts(cfg.photos);
        let users = std::array::from_fn(|u| {
            let mut o = Overlay::new(u, counts[u]);
            o.private_rate = cfg.private_rate;
            o.tie_rate = cfg.tie_rate;
            o.markup_rate = cfg.markup_rate;
            o
        });
        State {
            seed: cfg.seed,
            image_kb: cfg.image_kb,
            base,
            world: Mutex::new(World {
                users,
                ops: 0,
                clock: 0,
            }),
            faults: Mutex::new(cfg.faults.clone()),
            stats: Mutex::new(Stats::default()),
            requests: AtomicU64::new(0),
            heads_in_flight: AtomicU64::new(0),
        }
    }

    pub fn with_world<R>(&self, f: impl FnOnce(&mut World) -> R) -> R {
        f(&mut lock(&self.world))
    }

    /// A copy of a user's overlay and its listing, to work on without the lock.
    pub fn snapshot(&self, user: usize) -> (Overlay, Arc<Vec<Key>>) {
        self.with_world(|w| {
            let o = &mut w.users[user];
            let l = o.listing();
            (o.clone(), l)
        })
    }

    /// The user's overlay and the photos of their listing that are public now (what
    /// photosets and `/_expected` are made of), newest first.
    pub fn public_listing(&self, user: usize) -> (Overlay, Vec<Key>) {
        let (o, listing) = self.snapshot(user);
        let visible = listing
            .iter()
            .copied()
            .filter(|&k| !o.is_private(self.seed, k))
            .collect();
        (o, visible)
    }

    /// The photo with this id if it exists now and is public.
    pub fn photo(&self, id: &str) -> Option<Photo> {
        let key = data::key_of(id)?;
        let seed = self.seed;
        let o = self.with_world(|w| {
            let o = &w.users[key.user];
            o.visible(seed, key).then(|| o.clone())
        })?;
        Some(o.photo(seed, self.image_kb, key))
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
        Some(self.with_world(|w| {
            let o = &mut w.users[user];
            o.grow(n);
            o.listing().len()
        }))
    }

    pub fn expected(&self, username: &str) -> Option<Expected> {
        let user = data::user_by_name(username)?;
        let seed = self.seed;
        let (o, listing) = self.snapshot(user);
        let visible: Vec<Key> = listing
            .iter()
            .copied()
            .filter(|&k| !o.is_private(seed, k))
            .collect();
        let set_defs = sets::sets(seed, user);
        let members: Vec<Vec<Key>> = set_defs.iter().map(|s| s.members(seed, &visible)).collect();
        let photos = visible
            .iter()
            .map(|&key| {
                let p = o.photo(seed, self.image_kb, key);
                let best = p.best();
                let bytes = image::render(
                    best.format,
                    best.width,
                    best.height,
                    best.len,
                    p.byte_key(best),
                );
                let taken = meta::taken(seed, p.id, p.date_upload);
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
                    secret: p.secret.clone(),
                    original_secret: p.has_original.then(|| p.orig_secret.clone()),
                    tags: meta::tags(seed, p.id),
                    date_taken: taken.text,
                    date_taken_granularity: taken.granularity,
                    date_taken_unknown: taken.unknown,
                    geo: meta::geo(seed, p.id).map(|g| ExpectedGeo {
                        latitude: g.latitude,
                        longitude: g.longitude,
                        accuracy: g.accuracy,
                        place_id: g.place_id.to_string(),
                        woeid: g.woeid.to_string(),
                    }),
                    sets: set_defs
                        .iter()
                        .filter(|s| s.contains(seed, key))
                        .map(|s| s.id.clone())
                        .collect(),
                    comment_details: rest::comments_of(seed, &p)
                        .into_iter()
                        .map(|c| ExpectedComment {
                            id: c.id,
                            author: c.author.to_string(),
                            authorname: c.authorname.to_string(),
                            datecreate: c.datecreate,
                            permalink: c.permalink,
                            raw: c.text.wire(),
                            text: c.text.content.clone(),
                        })
                        .collect(),
                }
            })
            .collect::<Vec<_>>();
        let mut deleted: Vec<Key> = o.deleted.iter().copied().collect();
        deleted.sort_by(|a, b| b.cmp(a));
        let sets = expected_sets(&set_defs, &members);
        Some(Expected {
            user_id: USERS[user].nsid.to_string(),
            username: USERS[user].username.to_string(),
            total: photos.len(),
            photos,
            listed_total: listing.len(),
            deleted: deleted.iter().map(|k| k.id().to_string()).collect(),
            private: listing
                .iter()
                .filter(|&&k| o.is_private(seed, k))
                .map(|k| k.id().to_string())
                .collect(),
            sets,
        })
    }

    /// The user's photosets with their public members (for `/_sets`), or None.
    pub fn sets_of(&self, username: &str) -> Option<Vec<ExpectedSet>> {
        let user = data::user_by_name(username)?;
        let seed = self.seed;
        let (_, visible) = self.public_listing(user);
        let defs = sets::sets(seed, user);
        let members: Vec<Vec<Key>> = defs.iter().map(|s| s.members(seed, &visible)).collect();
        Some(expected_sets(&defs, &members))
    }

    /// Latency, then the fault dice for a non-control request (counted when one fires).
    pub async fn pre(&self, rest: bool, image_get: bool) -> Fault {
        let faults = {
            let mut f = lock(&self.faults);
            let now = f.clone();
            if image_get && f.drop_next > 0 {
                f.drop_next -= 1;
            }
            now
        };
        if faults.latency_ms > 0 {
            tokio::time::sleep(Duration::from_millis(faults.latency_ms)).await;
        }
        let n = self.requests.fetch_add(1, Ordering::Relaxed);
        let fault = if image_get && faults.drop_next > 0 {
            Fault::Drop
        } else {
            faults.roll(self.seed, n, rest, image_get)
        };
        if fault != Fault::None {
            self.with_stats(|s| s.faults_injected += 1);
        }
        fault
    }

    /// Counts a HEAD of the image host as being answered until the guard drops, and keeps
    /// the most ever answered at once in the stats.
    pub fn head_started(&self) -> HeadGuard<'_> {
        let now = self.heads_in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.with_stats(|s| s.image_heads_max_overlap = s.image_heads_max_overlap.max(now));
        HeadGuard { state: self }
    }

    pub fn retry_after(&self) -> u64 {
        lock(&self.faults).retry_after_secs
    }
}

/// A HEAD being answered (see [`State::head_started`]).
pub struct HeadGuard<'a> {
    state: &'a State,
}

impl Drop for HeadGuard<'_> {
    fn drop(&mut self) {
        self.state.heads_in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Non-empty sets (Flickr has no empty sets) with their members in set order.
fn expected_sets(defs: &[sets::SetDef], members: &[Vec<Key>]) -> Vec<ExpectedSet> {
    defs.iter()
        .zip(members)
        .filter(|(_, m)| !m.is_empty())
        .map(|(s, m)| ExpectedSet {
            id: s.id.clone(),
            title: s.title.to_string(),
            description: s.description.to_string(),
            primary: m[0].id().to_string(),
            date_create: s.date_create,
            date_update: s.date_update(),
            photos: m.iter().map(|k| k.id().to_string()).collect(),
        })
        .collect()
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
        p if p.starts_with(host::PLACEHOLDER_DIR) => host::placeholder(&state, &req),
        p if p.starts_with("/_") => control::handle(state, &req).await,
        _ => text(
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "not found\n",
        ),
    }
}

/// Query-string (or form body) pairs, percent- and plus-decoded.
pub fn parse_pairs(q: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(q.as_bytes()).into_owned().collect()
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
