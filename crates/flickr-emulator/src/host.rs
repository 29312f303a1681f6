//! The image host: `GET`/`HEAD` of `/img/<id>_<secret>_<name>.<ext>` and
//! `/video/<id>_<secret>_<name>.mp4`, with byte ranges, image stats, and faults (503, 429,
//! and dropped connections halfway through a body); URLs of deleted photos and old secrets
//! of replaced ones redirect (302) to the placeholder, which it also serves, as Flickr's
//! static host sends them to `s.yimg.com/pw/images/en-us/photo_unavailable[_l].png`.

use super::data::{self, File, Photo};
use super::faults::Fault;
use super::image;
use super::server::{self, Body, BoxError, State};
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Frame, Incoming};
use hyper::header::{
    HeaderValue, ACCEPT_RANGES, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, LOCATION, RANGE,
};
use hyper::{Method, Request, Response, StatusCode};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

pub async fn handle(state: &State, req: &Request<Incoming>) -> Response<Body> {
    let head = req.method() == Method::HEAD;
    if !head && req.method() != Method::GET {
        return server::text(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain; charset=utf-8",
            "method not allowed\n",
        );
    }
    // Held while the HEAD is answered (latency included): how many overlap.
    let _head = head.then(|| state.head_started());
    state.with_stats(|s| {
        if head {
            s.image_heads += 1
        } else {
            s.image_gets += 1
        }
    });
    let fault = state.pre(false, !head).await;
    match fault {
        Fault::Http5xx => return server::unavailable(),
        Fault::Http429 => return server::too_many(state),
        _ => {}
    }
    let (photo, file) = match lookup(state, req.uri().path()) {
        Lookup::Found(found) => *found,
        Lookup::Gone(large) => {
            state.with_stats(|s| s.image_redirects += 1);
            let name = if large {
                "photo_unavailable_l.png"
            } else {
                "photo_unavailable.png"
            };
            let mut r = server::text(StatusCode::FOUND, "text/html; charset=utf-8", "");
            r.headers_mut().insert(
                LOCATION,
                hv(format!("{}{PLACEHOLDER_DIR}{name}", state.base)),
            );
            return r;
        }
        Lookup::Missing => {
            return server::text(
                StatusCode::NOT_FOUND,
                "text/plain; charset=utf-8",
                "not found\n",
            )
        }
    };
    let bytes = Bytes::from(image::render(
        file.format,
        file.width,
        file.height,
        file.len,
        photo.byte_key(&file),
    ));
    let len = bytes.len() as u64;
    let slow = lock_faults(state);
    let range = req
        .headers()
        .get(RANGE)
        .filter(|_| !slow.ignore_range)
        .and_then(|v| v.to_str().ok())
        .map(|v| parse_range(v, len));
    let (status, start, end) = match range {
        None | Some(Range::Ignore) => (StatusCode::OK, 0, len),
        Some(Range::Slice(a, b)) => (StatusCode::PARTIAL_CONTENT, a, b + 1),
        Some(Range::Unsatisfiable) => {
            let mut r = server::text(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "text/plain; charset=utf-8",
                "",
            );
            r.headers_mut()
                .insert(CONTENT_RANGE, hv(format!("bytes */{len}")));
            return r;
        }
    };
    let slice = bytes.slice(start as usize..end as usize);
    let drop = fault == Fault::Drop && !head;
    let sent = if head {
        0
    } else if drop {
        slice.len() as u64 / 2
    } else {
        slice.len() as u64
    };
    let best = photo.best().name == file.name && photo.best().video == file.video;
    state.with_stats(|s| {
        s.image_bytes_sent += sent;
        if status == StatusCode::PARTIAL_CONTENT && !head {
            s.range_gets += 1;
        }
        if status == StatusCode::OK && !head && !drop && best {
            *s.image_gets_by_photo
                .entry(photo.id.to_string())
                .or_default() += 1;
        }
    });
    let body: Body = if head {
        server::full(Bytes::new())
    } else if drop {
        let half = slice.slice(..sent as usize);
        DropBody {
            data: Some(half),
            sleep: None,
        }
        .boxed()
    } else if slow.trickle_ms > 0 {
        TrickleBody {
            data: slice.clone(),
            pause: Duration::from_millis(slow.trickle_ms),
            sleep: None,
        }
        .boxed()
    } else {
        server::full(slice.clone())
    };
    let mut r = Response::new(body);
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static(file.format.content_type()),
    );
    h.insert(CONTENT_LENGTH, HeaderValue::from(slice.len()));
    h.insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if status == StatusCode::PARTIAL_CONTENT {
        h.insert(
            CONTENT_RANGE,
            hv(format!("bytes {start}-{}/{len}", end - 1)),
        );
    }
    r
}

fn hv(s: String) -> HeaderValue {
    HeaderValue::from_str(&s).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Where the placeholder images live on the emulator's host.
pub const PLACEHOLDER_DIR: &str = "/pw/images/en-us/";

/// `GET`/`HEAD` of the placeholder (`photo_unavailable.png`, `photo_unavailable_l.png`).
pub fn placeholder(state: &State, req: &Request<Incoming>) -> Response<Body> {
    let name = req.uri().path().strip_prefix(PLACEHOLDER_DIR).unwrap_or("");
    if !matches!(name, "photo_unavailable.png" | "photo_unavailable_l.png") {
        return server::text(
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "not found\n",
        );
    }
    let head = req.method() == Method::HEAD;
    if !head {
        state.with_stats(|s| s.placeholder_gets += 1);
    }
    let png = image::placeholder_png();
    let len = png.len();
    let mut r = Response::new(server::full(if head { Vec::new() } else { png }));
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("image/png"));
    r.headers_mut()
        .insert(CONTENT_LENGTH, HeaderValue::from(len));
    r
}

enum Lookup {
    Found(Box<(Photo, File)>),
    /// A URL the photo had (deleted photo, or a secret before a replacement): redirect;
    /// `true` for large sizes (Large 1024 and up, Original, video files).
    Gone(bool),
    Missing,
}

/// The photo and file a path names (the secret and extension must match).
fn lookup(state: &State, path: &str) -> Lookup {
    parse_lookup(state, path).unwrap_or(Lookup::Missing)
}

fn parse_lookup(state: &State, path: &str) -> Option<Lookup> {
    let (video, rest) = match path.strip_prefix("/img/") {
        Some(rest) => (false, rest),
        None => (true, path.strip_prefix("/video/")?),
    };
    let (stem, ext) = rest.rsplit_once('.')?;
    let mut parts = stem.splitn(3, '_');
    let (id, secret, name) = (parts.next()?, parts.next()?, parts.next()?);
    let key = data::key_of(id)?;
    let seed = state.seed;
    let (o, exists) = state.with_world(|w| {
        let o = &w.users[key.user];
        (o.clone(), o.exists(key))
    });
    if exists {
        let photo = o.photo(seed, state.image_kb, key);
        if let Some(file) = photo.file_for_path(video, secret, name, ext).cloned() {
            return Some(Lookup::Found(Box::new((photo, file))));
        }
    }
    if o.stale_secret(seed, key, secret) {
        let large = video || matches!(name, "b" | "h" | "k" | "3k" | "4k" | "5k" | "6k" | "o");
        return Some(Lookup::Gone(large));
    }
    None
}

#[derive(Debug, PartialEq, Eq)]
enum Range {
    /// Serve the whole file (no single well-formed range).
    Ignore,
    /// Inclusive byte range.
    Slice(u64, u64),
    Unsatisfiable,
}

fn parse_range(v: &str, len: u64) -> Range {
    let Some(spec) = v.trim().strip_prefix("bytes=") else {
        return Range::Ignore;
    };
    if spec.contains(',') {
        return Range::Ignore;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return Range::Ignore;
    };
    let (a, b) = (a.trim(), b.trim());
    if a.is_empty() {
        return match b.parse::<u64>() {
            Ok(0) => Range::Unsatisfiable,
            Ok(n) if len > 0 => Range::Slice(len - n.min(len), len - 1),
            Ok(_) => Range::Unsatisfiable,
            Err(_) => Range::Ignore,
        };
    }
    let Ok(a) = a.parse::<u64>() else {
        return Range::Ignore;
    };
    let end = if b.is_empty() {
        u64::MAX
    } else {
        match b.parse::<u64>() {
            Ok(b) if b >= a => b,
            _ => return Range::Ignore,
        }
    };
    if a >= len {
        Range::Unsatisfiable
    } else {
        Range::Slice(a, end.min(len - 1))
    }
}

/// The faults that shape an image body (read once per request).
fn lock_faults(state: &State) -> super::faults::Faults {
    state
        .faults
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
}

/// A body sent in 64 KiB pieces with a pause before each (the `trickle_ms` fault).
struct TrickleBody {
    data: Bytes,
    pause: Duration,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl hyper::body::Body for TrickleBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if self.data.is_empty() {
            return Poll::Ready(None);
        }
        let pause = self.pause;
        let sleep = self
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(pause)));
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => {
                self.sleep = None;
                let n = self.data.len().min(64 * 1024);
                let piece = self.data.split_to(n);
                Poll::Ready(Some(Ok(Frame::data(piece))))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// A body that yields its (partial) data, waits a moment so it reaches the socket, then
/// fails, which makes hyper close the connection short of Content-Length.
struct DropBody {
    data: Option<Bytes>,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl hyper::body::Body for DropBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if let Some(d) = self.data.take() {
            return Poll::Ready(Some(Ok(Frame::data(d))));
        }
        let sleep = self
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(Duration::from_millis(20))));
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => {
                Poll::Ready(Some(Err("connection dropped (fault injection)".into())))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-", 10), Range::Slice(0, 9));
        assert_eq!(parse_range("bytes=3-5", 10), Range::Slice(3, 5));
        assert_eq!(parse_range("bytes=3-50", 10), Range::Slice(3, 9));
        assert_eq!(parse_range("bytes=-4", 10), Range::Slice(6, 9));
        assert_eq!(parse_range("bytes=-40", 10), Range::Slice(0, 9));
        assert_eq!(parse_range("bytes=10-", 10), Range::Unsatisfiable);
        assert_eq!(parse_range("bytes=5-3", 10), Range::Ignore);
        assert_eq!(parse_range("bytes=0-1,4-5", 10), Range::Ignore);
        assert_eq!(parse_range("items=0-1", 10), Range::Ignore);
        assert_eq!(parse_range("bytes=x-", 10), Range::Ignore);
    }
}
