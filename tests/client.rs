//! The Flickr client against the built-in emulator (and a few hand-rolled broken servers):
//! every method, every error path, retries, Retry-After, the rate limit and call counters,
//! with counts read from the emulator's own statistics.

use flickrfs::emulator::{Emulator, EmulatorConfig, Faults};
use flickrfs::flickr::{
    best_size, ClientOptions, FlickrApi, FlickrError, FlickrUser, LISTING_EXTRAS,
};
use std::io::{Read, Write};
use std::time::{Duration, Instant};

const KEY: &str = "0123456789abcdef0123456789abcdef";
const SECRET: &str = "s3cr3t-value-42";
const NSID: &str = "13476480@N07";

async fn emu(photos: usize) -> Emulator {
    Emulator::start(EmulatorConfig {
        photos,
        seed: 11,
        ..EmulatorConfig::default()
    })
    .await
    .unwrap()
}

fn fast(api_url: &str) -> ClientOptions {
    ClientOptions {
        api_url: api_url.to_string(),
        rate_limit_per_hour: 100_000_000,
        burst: 1000,
        max_retries: 6,
        base_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(50),
        timeout: Duration::from_secs(10),
    }
}

fn api(e: &Emulator) -> FlickrApi {
    FlickrApi::with_options(KEY, SECRET, fast(&e.api_url())).unwrap()
}

fn assert_no_secret(text: &str) {
    assert!(!text.contains(KEY), "key leaked: {text}");
    assert!(!text.contains(SECRET), "secret leaked: {text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn find_user_by_name_nsid_and_url() {
    let e = emu(10).await;
    let a = api(&e);
    let want = FlickrUser {
        user_id: NSID.into(),
        username: "manhhai".into(),
    };
    assert_eq!(a.find_user("manhhai").await.unwrap(), want);
    assert_eq!(a.find_user(NSID).await.unwrap(), want);
    assert_eq!(
        a.find_user("https://www.flickr.com/photos/manhhai/")
            .await
            .unwrap(),
        want
    );
    assert_eq!(
        a.find_user("www.flickr.com/photos/manhhai").await.unwrap(),
        want
    );
    let s = e.stats();
    assert_eq!(s.calls.get("flickr.people.findByUsername"), Some(&1));
    assert_eq!(s.calls.get("flickr.urls.lookupUser"), Some(&3));
    assert_eq!(a.call_counts(), s.calls);
    assert_eq!(a.total_calls(), s.total_calls);
    // Lenient parsing of the user object.
    let u = FlickrUser::from_json(&serde_json::json!({
        "user": {"nsid": "1@N01", "username": {"_content": "x"}}
    }))
    .unwrap();
    assert_eq!(u.user_id, "1@N01");
    assert_eq!(u.username, "x");
    assert!(FlickrUser::from_json(&serde_json::json!({"user": {}})).is_err());
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_user_and_invalid_key_are_typed_with_flickrs_words() {
    let e = emu(10).await;
    let err = api(&e).find_user("nobody-at-all").await.unwrap_err();
    assert_eq!(err.code(), Some(1));
    assert!(err.to_string().contains("User not found"), "{err}");
    // No retry for a permanent error.
    assert_eq!(e.stats().total_calls, 1);

    let bad = FlickrApi::with_options("not-a-key", SECRET, fast(&e.api_url())).unwrap();
    let err = bad.find_user("manhhai").await.unwrap_err();
    assert!(err.is_invalid_key(), "{err:?}");
    assert!(err.to_string().contains("Invalid API Key"), "{err}");
    assert_no_secret(&format!("{err} {err:?} {bad:?}"));
    assert_no_secret(&format!("{:?}", api(&e)));
}

#[tokio::test(flavor = "multi_thread")]
async fn listing_pages_match_expected() {
    let e = emu(1200).await;
    let a = api(&e);
    let exp = e.expected("manhhai").unwrap();
    let mut ids = Vec::new();
    for page in 1..=3 {
        let p = a.get_photos(NSID, page, 500, LISTING_EXTRAS).await.unwrap();
        assert_eq!(p.page_count, 3);
        assert_eq!(p.photo_count, 1200);
        ids.extend(p.photos.iter().map(|p| p.id.clone()));
    }
    let want: Vec<String> = exp.photos.iter().map(|p| p.id.clone()).collect();
    assert_eq!(ids, want, "newest first, all of them, once");
    // per_page above Flickr's maximum is clamped, not an error.
    let p = a.get_photos(NSID, 1, 10_000, &[]).await.unwrap();
    assert_eq!(p.photos.len(), 500);
    // The listing carries texts and sizes; photos (not videos) with url_o have their best.
    let p = a.get_photos(NSID, 1, 500, LISTING_EXTRAS).await.unwrap();
    for (l, x) in p.photos.iter().zip(&exp.photos) {
        assert_eq!(l.title, x.title);
        assert_eq!(l.description, x.description);
        assert_eq!(l.date_upload, x.date_upload);
        assert_eq!(l.last_update, x.last_update);
        assert_eq!(l.count_comments as usize, x.comments.len());
        if x.media == "photo" {
            let b = l.best_size().unwrap();
            assert_eq!(
                (b.url.as_str(), b.width, b.height),
                (x.best_url.as_str(), x.best_width, x.best_height)
            );
        }
    }
    let s = e.stats();
    assert_eq!(s.calls.get("flickr.people.getPhotos"), Some(&5));
    assert_eq!(a.call_counts(), s.calls);
    // An empty stream.
    let u = a.find_user("emptyuser").await.unwrap();
    let p = a
        .get_photos(&u.user_id, 1, 500, LISTING_EXTRAS)
        .await
        .unwrap();
    assert_eq!((p.photos.len(), p.photo_count), (0, 0));
}

#[tokio::test(flavor = "multi_thread")]
async fn sizes_info_and_comments_match_expected() {
    let e = emu(400).await;
    let a = api(&e);
    let exp = e.expected("manhhai").unwrap();
    let without_o = exp
        .photos
        .iter()
        .find(|p| !p.has_original && p.media == "photo")
        .unwrap();
    let video = exp.photos.iter().find(|p| p.media == "video").unwrap();
    let with_o = exp
        .photos
        .iter()
        .find(|p| p.has_original && p.media == "photo")
        .unwrap();
    for x in [without_o, video, with_o] {
        let sizes = a.get_photo_sizes(&x.id).await.unwrap();
        let b = best_size(&sizes).unwrap();
        assert_eq!(
            (b.url.as_str(), b.width, b.height),
            (x.best_url.as_str(), x.best_width, x.best_height),
            "photo {} ({})",
            x.id,
            x.media
        );
        if x.media == "video" {
            assert_eq!(b.media, "video");
        } else {
            assert_eq!(b.label == "Original", x.has_original);
        }
    }
    let commented = exp.photos.iter().find(|p| p.comments.len() >= 2).unwrap();
    let silent = exp.photos.iter().find(|p| p.comments.is_empty()).unwrap();
    for x in [commented, silent] {
        let info = a.get_photo_info(&x.id).await.unwrap();
        assert_eq!(info.id, x.id);
        assert_eq!(info.title, x.title);
        assert_eq!(info.description, x.description);
        assert_eq!(info.comment_count as usize, x.comments.len());
        assert_eq!(info.last_update, x.last_update);
        let comments: Vec<String> = a
            .get_photo_comments(&x.id)
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.content)
            .collect();
        assert_eq!(comments, x.comments);
    }
    let s = e.stats();
    assert_eq!(s.calls.get("flickr.photos.getSizes"), Some(&3));
    assert_eq!(s.calls.get("flickr.photos.getInfo"), Some(&2));
    assert_eq!(s.calls.get("flickr.photos.comments.getList"), Some(&2));
    assert_eq!(a.call_counts(), s.calls);
    // An unknown photo: Flickr's error, not a panic.
    let err = a.get_photo_sizes("1").await.unwrap_err();
    assert!(err.code().is_some(), "{err:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn transient_failures_are_retried_until_they_pass() {
    let e = emu(50).await;
    let a = api(&e);
    e.set_faults(Faults {
        rate_5xx: 0.3,
        rate_105: 0.3,
        ..Faults::default()
    });
    for _ in 0..20 {
        let p = a.get_photos(NSID, 1, 50, &[]).await.unwrap();
        assert_eq!(p.photos.len(), 50);
    }
    let s = e.stats();
    let listing = s.calls["flickr.people.getPhotos"];
    assert!(listing > 20, "no retry seen: {listing}");
    assert!(s.faults_injected > 0);
    assert_eq!(listing - 20, s.faults_injected, "one retry per fault");
    assert_eq!(a.call_counts(), s.calls, "every attempt is counted");
    // Retries are bounded: a server that always fails gives up with a typed error.
    e.set_faults(Faults {
        rate_5xx: 1.0,
        ..Faults::default()
    });
    e.reset_stats();
    let err = a.get_photos(NSID, 1, 50, &[]).await.unwrap_err();
    assert!(
        matches!(err, FlickrError::Http { status } if status >= 500),
        "{err:?}"
    );
    assert_eq!(e.stats().total_calls, 7, "1 attempt + max_retries 6");
    e.set_faults(Faults {
        rate_105: 1.0,
        ..Faults::default()
    });
    let err = a.get_photos(NSID, 1, 50, &[]).await.unwrap_err();
    assert_eq!(err.code(), Some(105));
}

#[tokio::test(flavor = "multi_thread")]
async fn http_429_waits_for_retry_after() {
    let e = emu(20).await;
    let a = api(&e);
    e.set_faults(Faults {
        rate_429: 1.0,
        retry_after_secs: 1,
        ..Faults::default()
    });
    let client = a.clone();
    let task = tokio::spawn(async move {
        let t = Instant::now();
        let r = client.get_photos(NSID, 1, 20, &[]).await;
        (t.elapsed(), r)
    });
    // Let one 429 through, then heal the server.
    tokio::time::sleep(Duration::from_millis(300)).await;
    e.set_faults(Faults::default());
    let (elapsed, r) = task.await.unwrap();
    assert_eq!(r.unwrap().photos.len(), 20);
    assert!(
        elapsed >= Duration::from_millis(950),
        "did not wait: {elapsed:?}"
    );
    assert_eq!(e.stats().calls["flickr.people.getPhotos"], 2);
}

/// A one-connection-at-a-time HTTP server answering every request with `body` (raw HTTP).
fn broken_server(responses: Vec<&'static str>) -> (String, std::thread::JoinHandle<usize>) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/services/rest/", l.local_addr().unwrap());
    let h = std::thread::spawn(move || {
        let mut served = 0;
        for r in responses {
            let Ok((mut s, _)) = l.accept() else { break };
            let mut buf = [0u8; 8192];
            let _ = s.read(&mut buf);
            let _ = s.write_all(r.as_bytes());
            served += 1;
        }
        served
    });
    (url, h)
}

const GARBAGE: &str =
    "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\nContent-Length: 17\r\n\r\n<html>oops</html>";
const TRUNCATED: &str = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: 22\r\n\r\n{\"stat\":\"ok\",\"user\":{";
const JSONP_OK: &str = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: 93\r\n\r\njsonFlickrApi({\"user\":{\"id\":\"1@N01\",\"nsid\":\"1@N01\",\"username\":{\"_content\":\"x\"}},\"stat\":\"ok\"})";
const NO_STAT: &str =
    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: 2\r\n\r\n[]";

#[tokio::test(flavor = "multi_thread")]
async fn broken_bodies_are_retried_then_typed_never_a_panic() {
    // Garbage, then a truncated body, then a good (JSONP-wrapped) answer: retried through.
    let (url, h) = broken_server(vec![GARBAGE, TRUNCATED, JSONP_OK]);
    let a = FlickrApi::with_options(KEY, SECRET, fast(&url)).unwrap();
    let u = a.find_user("x").await.unwrap();
    assert_eq!(u.user_id, "1@N01");
    assert_eq!(h.join().unwrap(), 3);
    assert_eq!(a.total_calls(), 3);

    // Only broken bodies: a typed error once the retries are spent.
    let (url, h) = broken_server(vec![GARBAGE; 7]);
    let a = FlickrApi::with_options(KEY, SECRET, fast(&url)).unwrap();
    let err = a.find_user("x").await.unwrap_err();
    assert!(matches!(err, FlickrError::InvalidResponse(_)), "{err:?}");
    assert_no_secret(&format!("{err} {err:?}"));
    assert_eq!(h.join().unwrap(), 7);

    // JSON without `stat`: an error, not a panic.
    let (url, h) = broken_server(vec![NO_STAT; 7]);
    let a = FlickrApi::with_options(KEY, SECRET, fast(&url)).unwrap();
    assert!(a.find_user("x").await.is_err());
    h.join().unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn unreachable_api_is_a_transport_error_without_the_key() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    }; // closed again: nothing listens there
    let mut o = fast(&format!("http://127.0.0.1:{port}/services/rest/"));
    o.max_retries = 2;
    let a = FlickrApi::with_options(KEY, SECRET, o).unwrap();
    let t = Instant::now();
    let err = a.find_user("manhhai").await.unwrap_err();
    assert!(matches!(err, FlickrError::Transport(_)), "{err:?}");
    assert!(t.elapsed() < Duration::from_secs(5));
    assert_no_secret(&format!("{err} {err:?}"));
    assert!(FlickrApi::with_options(KEY, SECRET, fast("not a url")).is_err());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_rate_limit_spaces_calls_after_the_burst() {
    let e = emu(5).await;
    // 7,200 calls/hour = 2 per second, burst 3: calls 4 and 5 wait ~0.5 s each.
    let mut o = fast(&e.api_url());
    o.rate_limit_per_hour = 7200;
    o.burst = 3;
    let a = FlickrApi::with_options(KEY, SECRET, o).unwrap();
    let t = Instant::now();
    for _ in 0..3 {
        a.get_photos(NSID, 1, 5, &[]).await.unwrap();
    }
    let burst = t.elapsed();
    for _ in 0..2 {
        a.get_photos(NSID, 1, 5, &[]).await.unwrap();
    }
    assert!(
        burst < Duration::from_millis(400),
        "burst was paced: {burst:?}"
    );
    assert!(
        t.elapsed() >= Duration::from_millis(900),
        "not paced: {:?}",
        t.elapsed()
    );
    assert_eq!(a.calls_last_hour(), 5);
    assert_eq!(a.calls_left_this_hour(), 7195);
    assert_eq!(e.stats().total_calls, 5);
}
