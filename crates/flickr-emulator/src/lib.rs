//! flickr-emulator: a deterministic Flickr stand-in (REST methods, image host and control
//! endpoints on 127.0.0.1) for flickrfs's tests, its offline demo and its benchmarks. It shares
//! no code with flickrfs: it plays Flickr, and must behave like Flickr, not like the client.
//!
//! This crate owns the public API (`Emulator`, its config, stats, expected data and the
//! `flickrfs emulator` CLI). Submodules: `data` (deterministic stream, keys, ids), `meta`
//! (date taken, tags, geo), `text` (corpus, entities, markup), `image` (bytes, placeholder),
//! `overlay` (what changed: growth, deletions, late-public inserts, edits, replacements,
//! private/tie/markup rates), `sets` (photosets), `faults`, `server` (hyper plumbing, state,
//! `/_expected`), `control` (control endpoints), `rest` (REST methods) and `host` (the image
//! host and placeholder).
//!
//! REST methods: flickr.people.findByUsername, flickr.urls.lookupUser,
//! flickr.people.getPhotos (page, per_page <= 500, min_upload_date/max_upload_date inclusive
//! as unix seconds or "YYYY-MM-DD HH:MM:SS", extras incl. tags, date_taken, geo),
//! flickr.photos.getSizes, flickr.photos.getInfo, flickr.photos.comments.getList,
//! flickr.photosets.getList and flickr.photosets.getPhotos.
//!
//! Control endpoints (GET, JSON answers, 400 on bad parameters; `user` defaults to manhhai).
//! Every change is off until one of them (or the config) turns it on:
//! - `/_stats`, `/_reset_stats`, `/_faults?rate_5xx=&rate_105=&rate_429=&retry_after=&drop_rate=&latency_ms=`
//!   `&drop_next=N` (drop the next N image GETs), `&ignore_range=1` (answer Range with the whole
//!   file, as HTTP allows), `&trickle_ms=` (image bodies in 64 KiB pieces, this pause before each)
//! - `/_expected?user=`: what a correct client ends up with now (see `Expected`).
//! - `/_grow?user=&n=`: n newer photos at the head.
//! - `/_delete?user=&n=&where=head|middle|tail|random` or `ids=a,b`: photos gone from
//!   listings and sets, `total` drops, getInfo/getSizes/comments answer code 1 "Photo not
//!   found", their image URLs answer 302 to the placeholder.
//! - `/_insert?user=&n=`: photos made public late, at old upload dates between existing ones
//!   (ids never used before; they join the middle of the stream).
//! - `/_edit?user=&n=` or `ids=` [`&what=title,description,comment`]: texts change and/or a
//!   comment is added; `lastupdate` moves forward.
//! - `/_replace?user=&n=` or `ids=`: new secrets and bytes, `lastupdate` forward; the old URLs
//!   answer 302 to `/pw/images/en-us/photo_unavailable[_l].png` (served here, a valid PNG).
//! - `/_private?user=&rate=`: that fraction is private: counted in `total` and `pages`, left
//!   out of the pages they sit on (short pages), code 1 for getInfo & co.
//! - `/_ties?user=&rate=`: that fraction of still photos has a PNG Original exactly as large
//!   as its Large 2048 (a client must prefer the Original among equal dimensions).
//! - `/_markup?user=&rate=`: that fraction of comments carries markup (links, bold, entities,
//!   line breaks); comments added by `/_edit` carry it half the time anyway.
//! - `/_sets?user=`: the user's photosets with their members in set order.

mod control;
mod data;
mod faults;
mod host;
mod image;
mod meta;
mod overlay;
mod rest;
mod server;
mod sets;
mod text;
mod timefmt;

pub use faults::Faults;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How to start an emulator.
#[derive(Clone, Debug)]
pub struct EmulatorConfig {
    /// 0 = any free port.
    pub port: u16,
    /// Size of the default user's (`manhhai`) stream.
    pub photos: usize,
    pub seed: u64,
    pub faults: Faults,
    /// Mean image size in KiB (the best size of each photo is 0.5x..1.5x this).
    pub image_kb: usize,
    /// Every user's starting rate (0..1) of private photos (counted in `total`, missing from
    /// pages); `/_private` changes it per user.
    pub private_rate: f64,
    /// Every user's starting rate of still photos whose PNG Original has exactly the
    /// dimensions of their Large 2048; `/_ties` changes it per user.
    pub tie_rate: f64,
    /// Every user's starting rate of generated comments served with markup; `/_markup`.
    pub markup_rate: f64,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            port: 0,
            photos: 1200,
            seed: 1,
            faults: Faults::default(),
            image_kb: 24,
            private_rate: 0.0,
            tie_rate: 0.0,
            markup_rate: 0.0,
        }
    }
}

/// Request counters (also served by `GET /_stats`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Stats {
    /// REST method -> count, every request including failed and faulted ones ("unknown" when
    /// the method parameter is missing).
    pub calls: BTreeMap<String, u64>,
    pub total_calls: u64,
    pub image_gets: u64,
    pub image_heads: u64,
    pub image_bytes_sent: u64,
    /// Photo id -> GETs of its best image served in full with 200 (not ranges, not dropped).
    pub image_gets_by_photo: BTreeMap<String, u64>,
    pub range_gets: u64,
    pub faults_injected: u64,
    /// Image requests answered with a 302 to the placeholder (old secret, deleted photo).
    #[serde(default)]
    pub image_redirects: u64,
    /// GETs of the placeholder image itself.
    #[serde(default)]
    pub placeholder_gets: u64,
    /// The most HEAD requests of the image host ever answered at once (a client that probes
    /// sizes one at a time keeps this at 1).
    #[serde(default)]
    pub image_heads_max_overlap: u64,
}

/// What a correct client should end up with for a user (also served by `GET /_expected`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Expected {
    pub user_id: String,
    pub username: String,
    /// Photos a client can see (`photos.len()`).
    pub total: usize,
    /// Newest first, like the stream.
    pub photos: Vec<ExpectedPhoto>,
    /// The `total` flickr.people.getPhotos reports: public and private photos.
    #[serde(default)]
    pub listed_total: usize,
    /// Ids of photos that existed and were deleted (`/_delete`), newest first.
    #[serde(default)]
    pub deleted: Vec<String>,
    /// Ids of private photos (counted in `listed_total`, never listed), newest first.
    #[serde(default)]
    pub private: Vec<String>,
    /// The user's photosets, as flickr.photosets.getList orders them.
    #[serde(default)]
    pub sets: Vec<ExpectedSet>,
}

/// A photoset and its public members in the set's order.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ExpectedSet {
    pub id: String,
    pub title: String,
    pub description: String,
    pub primary: String,
    pub date_create: i64,
    pub date_update: i64,
    pub photos: Vec<String>,
}

/// One comment: Flickr's fields, the wire `_content` and the plain text a client stores.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ExpectedComment {
    pub id: String,
    pub author: String,
    pub authorname: String,
    pub datecreate: i64,
    pub permalink: String,
    /// `_content` exactly as served (entities, markup).
    pub raw: String,
    /// Tags removed, entities decoded, line breaks kept (= the entry of `comments`).
    pub text: String,
}

/// A geotag as the `geo` extra reports it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ExpectedGeo {
    pub latitude: f64,
    pub longitude: f64,
    pub accuracy: u8,
    pub place_id: String,
    pub woeid: String,
}

/// One photo as a correct client stores it (plain text, entities decoded).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ExpectedPhoto {
    pub id: String,
    pub date_upload: i64,
    pub last_update: i64,
    /// "photo" | "video"
    pub media: String,
    pub title: String,
    pub description: String,
    pub comments: Vec<String>,
    /// ISO 639-3 of the language each text was generated in (vie, fra, eng); "" when empty.
    pub title_lang: String,
    pub description_lang: String,
    pub comment_langs: Vec<String>,
    /// For photos the largest image size; for videos the "Video Original" mp4 (getSizes).
    pub best_url: String,
    pub best_width: u32,
    pub best_height: u32,
    pub best_bytes: u64,
    /// Lowercase hex md5 of the best file's bytes.
    pub best_md5: String,
    /// jpg, png, gif, mp4
    pub ext: String,
    pub has_original: bool,
    /// Current secrets (they change when the photo is replaced).
    #[serde(default)]
    pub secret: String,
    #[serde(default)]
    pub original_secret: Option<String>,
    /// Normalised tags, as the `tags` extra lists them (space-separated there).
    #[serde(default)]
    pub tags: Vec<String>,
    /// `datetaken`, `datetakengranularity` (0, 4, 6, 8), `datetakenunknown`.
    #[serde(default)]
    pub date_taken: String,
    #[serde(default)]
    pub date_taken_granularity: u8,
    #[serde(default)]
    pub date_taken_unknown: bool,
    #[serde(default)]
    pub geo: Option<ExpectedGeo>,
    /// Ids of the photosets holding the photo.
    #[serde(default)]
    pub sets: Vec<String>,
    /// The comments with their Flickr fields (same order as `comments`).
    #[serde(default)]
    pub comment_details: Vec<ExpectedComment>,
}

/// A running emulator. Stops when dropped or on `shutdown()`.
pub struct Emulator {
    addr: SocketAddr,
    state: Arc<server::State>,
    stop: Option<watch::Sender<bool>>,
    task: Option<JoinHandle<()>>,
}

impl Emulator {
    /// Binds 127.0.0.1:`cfg.port` and starts serving.
    pub async fn start(cfg: EmulatorConfig) -> std::io::Result<Emulator> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", cfg.port)).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(server::State::new(&cfg, format!("http://{addr}")));
        let (tx, rx) = watch::channel(false);
        let task = tokio::spawn(server::serve(listener, state.clone(), rx));
        Ok(Emulator {
            addr,
            state,
            stop: Some(tx),
            task: Some(task),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// "http://127.0.0.1:PORT"
    pub fn base_url(&self) -> String {
        self.state.base.clone()
    }

    /// "http://127.0.0.1:PORT/services/rest/"
    pub fn api_url(&self) -> String {
        format!("{}/services/rest/", self.state.base)
    }

    pub fn stats(&self) -> Stats {
        self.state.stats()
    }

    pub fn reset_stats(&self) {
        self.state.reset_stats()
    }

    /// Adds `n` newer photos at the head of `username`'s stream (unknown users: no-op).
    pub fn grow(&self, username: &str, n: usize) {
        self.state.grow(username, n);
    }

    pub fn set_faults(&self, f: Faults) {
        self.state.set_faults(f)
    }

    pub fn expected(&self, username: &str) -> Option<Expected> {
        self.state.expected(username)
    }

    /// Stops accepting and closes open connections.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(true);
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(true);
        }
    }
}

/// Arguments of `flickrfs emulator`.
#[derive(clap::Args, Debug, Clone)]
pub struct EmulatorArgs {
    /// Port on 127.0.0.1 (0 = any free port).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Photos in the default user's (manhhai) stream.
    #[arg(long, default_value_t = 1200)]
    pub photos: usize,
    /// Seed of all generated data.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Mean image size in KiB.
    #[arg(long, default_value_t = 24)]
    pub image_kb: usize,
    /// Rate (0..1) of HTTP 503 responses.
    #[arg(long, default_value_t = 0.0)]
    pub fault_5xx: f64,
    /// Rate (0..1) of Flickr error 105 on REST calls.
    #[arg(long, default_value_t = 0.0)]
    pub fault_105: f64,
    /// Rate (0..1) of HTTP 429 responses.
    #[arg(long, default_value_t = 0.0)]
    pub fault_429: f64,
    /// Retry-After seconds sent with 429.
    #[arg(long, default_value_t = 1)]
    pub retry_after: u64,
    /// Rate (0..1) of image downloads cut off halfway.
    #[arg(long, default_value_t = 0.0)]
    pub fault_drop: f64,
    /// Latency added to every request, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Rate (0..1) of private photos: counted in `total`, missing from pages (short pages).
    #[arg(long, default_value_t = 0.0)]
    pub private_rate: f64,
    /// Rate (0..1) of photos whose PNG Original ties with Large 2048 in dimensions.
    #[arg(long, default_value_t = 0.0)]
    pub tie_rate: f64,
    /// Rate (0..1) of comments served with markup (links, bold, entities, line breaks).
    #[arg(long, default_value_t = 0.0)]
    pub markup_rate: f64,
}

impl EmulatorArgs {
    pub fn config(&self) -> EmulatorConfig {
        EmulatorConfig {
            port: self.port,
            photos: self.photos,
            seed: self.seed,
            image_kb: self.image_kb,
            private_rate: self.private_rate,
            tie_rate: self.tie_rate,
            markup_rate: self.markup_rate,
            faults: Faults {
                rate_5xx: self.fault_5xx,
                rate_105: self.fault_105,
                rate_429: self.fault_429,
                retry_after_secs: self.retry_after,
                drop_rate: self.fault_drop,
                latency_ms: self.latency_ms,
                ..Faults::default()
            },
        }
    }
}

/// Runs until SIGINT/SIGTERM. Prints exactly one line to stdout when listening:
/// `flickrfs emulator listening on http://127.0.0.1:PORT/services/rest/`.
pub fn run_cli(args: EmulatorArgs) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the tokio runtime: {e}"))?;
    rt.block_on(async {
        let emu = Emulator::start(args.config())
            .await
            .map_err(|e| format!("cannot listen on 127.0.0.1:{}: {e}", args.port))?;
        let mut out = std::io::stdout().lock();
        writeln!(out, "flickrfs emulator listening on {}", emu.api_url())
            .and_then(|_| out.flush())
            .map_err(|e| format!("cannot write to stdout: {e}"))?;
        drop(out);
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .map_err(|e| format!("cannot install the SIGTERM handler: {e}"))?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r.map_err(|e| format!("cannot wait for SIGINT: {e}"))?,
            _ = term.recv() => {}
        }
        emu.shutdown().await;
        Ok(())
    })
}
