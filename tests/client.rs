//! The Flickr client against the built-in emulator (and a few hand-rolled broken servers):
//! every method, every error path, retries, Retry-After, the rate limit and call counters,
//! with counts read from the emulator's own statistics.

use flickr_emulator::{Emulator, EmulatorConfig, Faults};
use flickrfs::flickr::{ClientOptions, FlickrApi, FlickrError, FlickrUser, LISTING_EXTRAS};
use flickrfs::photo::best_size;
use flickrfs::retry::Backoff;
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
        backoff: Backoff::new(Duration::from_millis(5), Duration::from_millis(50)),
        timeout: Duration::from_secs(10),
        budget_file: None,
    }
}

fn api(e: &Emulator) -> FlickrApi {
    FlickrApi::with_options(KEY, SECRET, fast(&e.api_url())).unwrap()
}

fn assert_no_secret(text: &str) {
    assert!(!text.contains(KEY), "key leaked: {text}");
    assert!(!text.contains(SECRET), "secret leaked: {text}");
}

/// Display and Debug of an error, checked for the key and secret.
fn assert_error_is_clean(err: &FlickrError) {
    assert_no_secret(&format!("{err} {err:?}"));
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
    // Surrounding blanks (a pasted name) do not matter.
    assert_eq!(a.find_user("  manhhai \n").await.unwrap(), want);
    let other = a.find_user("commonsarchive").await.unwrap();
    assert_eq!(other.username, "commonsarchive");
    assert_ne!(other.user_id, NSID);
    assert_eq!(a.find_user(&other.user_id).await.unwrap(), other);
    let s = e.stats();
    assert_eq!(s.calls.get("flickr.people.findByUsername"), Some(&3));
    assert_eq!(s.calls.get("flickr.urls.lookupUser"), Some(&4));
    assert_eq!(s.total_calls, 7);
    assert_eq!(s.faults_injected, 0);
    assert_eq!(a.call_counts(), s.calls);
    assert_eq!(a.total_calls(), s.total_calls);
}

#[test]
fn flickr_user_from_json_is_lenient() {
    let u = FlickrUser::from_json(&serde_json::json!({
        "user": {"nsid": "1@N01", "username": {"_content": "x"}}
    }))
    .unwrap();
    assert_eq!((u.user_id.as_str(), u.username.as_str()), ("1@N01", "x"));
    // lookupUser has `id` and no `nsid`; a bare user object (no `user` wrapper) is fine too.
    let u = FlickrUser::from_json(&serde_json::json!({"id": "2@N02", "username": "y"})).unwrap();
    assert_eq!((u.user_id.as_str(), u.username.as_str()), ("2@N02", "y"));
    // An empty nsid falls back to id; a missing username is empty, not an error.
    let u =
        FlickrUser::from_json(&serde_json::json!({"user": {"nsid": "", "id": "3@N03"}})).unwrap();
    assert_eq!((u.user_id.as_str(), u.username.as_str()), ("3@N03", ""));
    // No id at all: a typed error, not a panic.
    for v in [
        serde_json::json!({"user": {}}),
        serde_json::json!({"stat": "ok"}),
        serde_json::json!({"user": {"nsid": "", "id": ""}}),
        serde_json::json!(null),
    ] {
        let err = FlickrUser::from_json(&v).unwrap_err();
        assert!(matches!(err, FlickrError::InvalidResponse(_)), "{err:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_user_and_invalid_key_are_typed_with_flickrs_words() {
    let e = emu(10).await;
    let a = api(&e);
    let err = a.find_user("nobody-at-all").await.unwrap_err();
    assert_eq!(err.code(), Some(1));
    assert!(!err.is_invalid_key());
    assert!(
        matches!(&err, FlickrError::Api { code: 1, message } if message == "User not found"),
        "{err:?}"
    );
    assert!(err.to_string().contains("User not found"), "{err}");
    assert_error_is_clean(&err);
    // No retry for a permanent error.
    assert_eq!(e.stats().total_calls, 1);
    // The same through lookupUser.
    let err = a
        .find_user("https://www.flickr.com/photos/nobody-at-all/")
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(1));
    assert!(err.to_string().contains("User not found"), "{err}");
    let s = e.stats();
    assert_eq!(s.calls.get("flickr.urls.lookupUser"), Some(&1));
    assert_eq!(s.total_calls, 2);

    e.reset_stats();
    let bad = FlickrApi::with_options("not-a-key", SECRET, fast(&e.api_url())).unwrap();
    let err = bad.find_user("manhhai").await.unwrap_err();
    assert!(err.is_invalid_key(), "{err:?}");
    assert_eq!(err.code(), Some(100));
    assert!(
        err.to_string()
            .contains("Invalid API Key (Key has invalid format)"),
        "{err}"
    );
    assert_eq!(e.stats().total_calls, 1, "an invalid key is not retried");
    // A key of the right shape with a non-hex character is still invalid.
    let bad2 = FlickrApi::with_options(
        "0123456789abcdef0123456789abcdeg",
        SECRET,
        fast(&e.api_url()),
    )
    .unwrap();
    let err2 = bad2.get_photos(NSID, 1, 10, &[]).await.unwrap_err();
    assert_eq!(err2.code(), Some(100));
    assert_error_is_clean(&err);
    assert_no_secret(&format!("{bad:?}"));
    let good = api(&e);
    let dbg = format!("{good:?}");
    assert_no_secret(&dbg);
    assert!(dbg.contains(&e.api_url()), "{dbg}");
    assert_eq!(good.api_url(), e.api_url());
}

#[tokio::test(flavor = "multi_thread")]
async fn listing_pages_match_expected() {
    let e = emu(1200).await;
    let a = api(&e);
    let exp = e.expected("manhhai").unwrap();
    assert_eq!(exp.total, 1200);
    assert_eq!(exp.photos.len(), 1200);
    let want: Vec<String> = exp.photos.iter().map(|p| p.id.clone()).collect();
    let mut ids = Vec::new();
    for page in 1..=3 {
        let p = a.get_photos(NSID, page, 500, LISTING_EXTRAS).await.unwrap();
        assert_eq!(
            (p.page, p.page_count, p.per_page, p.photo_count),
            (page, 3, 500, 1200)
        );
        assert_eq!(p.photos.len(), if page < 3 { 500 } else { 200 });
        ids.extend(p.photos.iter().map(|p| p.id.clone()));
    }
    assert_eq!(ids, want, "newest first, all of them, once");
    // Smaller pages give the same order; a page past the end is empty, not an error.
    let mut ids = Vec::new();
    for page in 1..=13 {
        let p = a.get_photos(NSID, page, 100, &[]).await.unwrap();
        assert_eq!((p.page_count, p.photo_count), (12, 1200));
        if page == 13 {
            assert!(p.photos.is_empty());
        }
        ids.extend(p.photos.into_iter().map(|p| p.id));
    }
    assert_eq!(ids, want);
    // per_page above Flickr's maximum gives 500 (the request itself is checked against a
    // canned server below), page 0 becomes 1.
    let p = a.get_photos(NSID, 0, 10_000, &[]).await.unwrap();
    assert_eq!((p.page, p.per_page, p.photos.len()), (1, 500, 500));
    assert_eq!(p.photos[0].id, want[0]);
    // The listing carries texts and sizes; photos (not videos) with url_o have their best.
    let p = a.get_photos(NSID, 1, 500, LISTING_EXTRAS).await.unwrap();
    let mut checked_best = 0;
    for (l, x) in p.photos.iter().zip(&exp.photos) {
        assert_eq!(l.id, x.id);
        assert_eq!(l.title, x.title);
        assert_eq!(l.description, x.description);
        assert_eq!(l.date_upload, x.date_upload);
        assert_eq!(l.last_update, x.last_update);
        assert_eq!(l.media, x.media);
        assert_eq!(l.count_comments as usize, x.comments.len());
        assert_eq!(l.original_format.is_some(), x.has_original, "{}", x.id);
        if x.media == "photo" {
            let b = l.best.as_ref().unwrap();
            assert_eq!(
                (b.url.as_str(), b.width, b.height),
                (x.best_url.as_str(), x.best_width, x.best_height)
            );
            checked_best += 1;
        }
    }
    assert!(checked_best > 400, "{checked_best}");
    let s = e.stats();
    assert_eq!(s.calls.get("flickr.people.getPhotos"), Some(&18));
    assert_eq!(s.total_calls, 18);
    assert_eq!(a.call_counts(), s.calls);
    // An empty stream.
    let u = a.find_user("emptyuser").await.unwrap();
    let p = a
        .get_photos(&u.user_id, 1, 500, LISTING_EXTRAS)
        .await
        .unwrap();
    assert_eq!((p.photos.len(), p.photo_count), (0, 0));
    // An unknown user id: Flickr's error code, no retry.
    e.reset_stats();
    let err = a.get_photos("1@N01", 1, 10, &[]).await.unwrap_err();
    assert_eq!(err.code(), Some(2), "{err:?}");
    assert_eq!(e.stats().total_calls, 1);
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
        assert!(sizes.len() >= 2, "{sizes:?}");
        let b = best_size(&sizes).unwrap();
        assert_eq!(
            (b.url.as_str(), b.width, b.height),
            (x.best_url.as_str(), x.best_width, x.best_height),
            "photo {} ({})",
            x.id,
            x.media
        );
        assert_eq!(
            sizes.iter().any(|s| s.label == "Original"),
            x.has_original,
            "{}",
            x.id
        );
        if x.media == "video" {
            assert_eq!(b.media, "video");
        } else {
            assert_eq!(b.media, "photo");
            assert_eq!(b.label == "Original", x.has_original);
        }
        let info = a.get_photo_info(&x.id).await.unwrap();
        assert_eq!(info.media, x.media);
        assert_eq!(info.original_format.is_some(), x.has_original);
        assert_eq!(info.date_upload, x.date_upload);
        assert_eq!(
            info.page_url.as_deref(),
            Some(format!("https://www.flickr.com/photos/manhhai/{}/", x.id).as_str())
        );
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
        let comments = a.get_photo_comments(&x.id).await.unwrap();
        let texts: Vec<String> = comments.iter().map(|c| c.content.clone()).collect();
        assert_eq!(texts, x.comments);
        for c in &comments {
            assert!(!c.id.is_empty() && c.author.contains('@') && !c.author_name.is_empty());
            assert!(c.date_create > x.date_upload, "{c:?}");
        }
    }
    assert!(a.get_photo_comments(&silent.id).await.unwrap().is_empty());
    let s = e.stats();
    assert_eq!(s.calls.get("flickr.photos.getSizes"), Some(&3));
    assert_eq!(s.calls.get("flickr.photos.getInfo"), Some(&5));
    assert_eq!(s.calls.get("flickr.photos.comments.getList"), Some(&3));
    assert_eq!(s.total_calls, 11);
    assert_eq!(a.call_counts(), s.calls);
    assert_eq!(a.total_calls(), 11);
    // An unknown photo: Flickr's error with its words, not a panic and not retried.
    e.reset_stats();
    for err in [
        a.get_photo_sizes("1").await.unwrap_err(),
        a.get_photo_info("1").await.unwrap_err(),
        a.get_photo_comments("1").await.unwrap_err(),
    ] {
        assert_eq!(err.code(), Some(1), "{err:?}");
        assert!(err.to_string().contains("Photo not found"), "{err}");
        assert_error_is_clean(&err);
    }
    assert_eq!(e.stats().total_calls, 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn transient_failures_are_retried_until_they_pass() {
    let e = emu(50).await;
    let a = api(&e);
    let exp = e.expected("manhhai").unwrap();
    // Only 5xx, then only 105, then both: each is retried through. Rates stay low enough
    // that seven faults in a row (the retry budget) are vanishingly unlikely.
    for faults in [
        Faults {
            rate_5xx: 0.3,
            ..Faults::default()
        },
        Faults {
            rate_105: 0.3,
            ..Faults::default()
        },
        Faults {
            rate_5xx: 0.2,
            rate_105: 0.2,
            ..Faults::default()
        },
    ] {
        e.reset_stats();
        e.set_faults(faults.clone());
        let b = api(&e);
        for _ in 0..20 {
            let p = b.get_photos(NSID, 1, 50, &[]).await.unwrap();
            assert_eq!(p.photos.len(), 50);
            assert_eq!(p.photos[0].id, exp.photos[0].id);
        }
        let s = e.stats();
        let listing = s.calls["flickr.people.getPhotos"];
        assert!(listing > 20, "no retry seen with {faults:?}: {listing}");
        assert!(s.faults_injected > 0);
        assert_eq!(listing - 20, s.faults_injected, "one retry per fault");
        assert_eq!(b.call_counts(), s.calls, "every attempt is counted");
        assert_eq!(b.total_calls(), s.total_calls);
    }
    // Other methods too.
    e.reset_stats();
    e.set_faults(Faults {
        rate_5xx: 0.2,
        rate_105: 0.2,
        ..Faults::default()
    });
    let x = &exp.photos[0];
    for _ in 0..5 {
        assert_eq!(
            a.find_user("manhhai").await.unwrap().user_id,
            NSID.to_string()
        );
        assert_eq!(
            a.get_photo_info(&x.id).await.unwrap().last_update,
            x.last_update
        );
    }
    let s = e.stats();
    assert_eq!(s.total_calls - 10, s.faults_injected);
    assert!(s.faults_injected > 0);
    assert_eq!(a.call_counts(), s.calls);

    // Retries are bounded: a server that always fails gives up with a typed error.
    e.set_faults(Faults {
        rate_5xx: 1.0,
        ..Faults::default()
    });
    e.reset_stats();
    let err = a.get_photos(NSID, 1, 50, &[]).await.unwrap_err();
    assert!(matches!(err, FlickrError::Http { status: 503 }), "{err:?}");
    assert_error_is_clean(&err);
    let s = e.stats();
    assert_eq!(s.total_calls, 7, "1 attempt + max_retries 6");
    assert_eq!(s.faults_injected, 7);
    e.set_faults(Faults {
        rate_105: 1.0,
        ..Faults::default()
    });
    e.reset_stats();
    let err = a.get_photos(NSID, 1, 50, &[]).await.unwrap_err();
    assert_eq!(err.code(), Some(105));
    assert!(
        err.to_string().contains("Service currently unavailable"),
        "{err}"
    );
    assert_error_is_clean(&err);
    assert_eq!(e.stats().total_calls, 7);
    // max_retries 0: one attempt only.
    let mut o = fast(&e.api_url());
    o.max_retries = 0;
    let once = FlickrApi::with_options(KEY, SECRET, o).unwrap();
    e.reset_stats();
    assert_eq!(
        once.get_photos(NSID, 1, 5, &[]).await.unwrap_err().code(),
        Some(105)
    );
    assert_eq!(e.stats().total_calls, 1);
    assert_eq!(once.total_calls(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn http_429_waits_for_retry_after() {
    let e = emu(20).await;
    let a = api(&e);
    // Retry-After (1 s) is far above the back-off cap (50 ms): the server's word wins.
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
    // Once the first 429 went out, heal the server; the retry (after 1 s) then passes.
    let deadline = Instant::now() + Duration::from_secs(10);
    while e.stats().faults_injected == 0 {
        assert!(Instant::now() < deadline, "no request reached the emulator");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    e.set_faults(Faults::default());
    let (elapsed, r) = task.await.unwrap();
    assert_eq!(r.unwrap().photos.len(), 20);
    assert!(
        elapsed >= Duration::from_secs(1),
        "did not wait: {elapsed:?}"
    );
    let s = e.stats();
    assert_eq!(s.calls["flickr.people.getPhotos"], 2);
    assert_eq!(s.faults_injected, 1);
    assert_eq!(a.call_counts(), s.calls);

    // Always 429 (Retry-After: 0): bounded, and a typed HTTP 429 error.
    e.set_faults(Faults {
        rate_429: 1.0,
        retry_after_secs: 0,
        ..Faults::default()
    });
    e.reset_stats();
    let err = a.get_photos(NSID, 1, 20, &[]).await.unwrap_err();
    assert!(matches!(err, FlickrError::Http { status: 429 }), "{err:?}");
    assert!(err.to_string().contains("429"), "{err}");
    assert_error_is_clean(&err);
    assert_eq!(e.stats().total_calls, 7);
}

/// One raw HTTP/1.1 response with a correct Content-Length and `Connection: close`.
fn http(status: &str, content_type: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// A one-connection-at-a-time server answering the n-th connection with `responses[n]`
/// (raw bytes; empty = close without answering). Returns its API URL and a handle giving
/// the request lines it received.
fn canned_server(responses: Vec<String>) -> (String, std::thread::JoinHandle<Vec<String>>) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/services/rest/", l.local_addr().unwrap());
    let h = std::thread::spawn(move || {
        let mut requests = Vec::new();
        for r in responses {
            let Ok((mut s, _)) = l.accept() else { break };
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut head = Vec::new();
            let mut buf = [0u8; 4096];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let head = String::from_utf8_lossy(&head);
            requests.push(head.lines().next().unwrap_or("").to_string());
            let _ = s.write_all(r.as_bytes());
            let _ = s.flush();
        }
        requests
    });
    (url, h)
}

fn html_200() -> String {
    http("200 OK", "text/html", "<html><body>oops</body></html>")
}

fn truncated_json() -> String {
    http("200 OK", "application/json", "{\"stat\":\"ok\",\"user\":{")
}

/// Headers promise more body than arrives before the connection closes.
fn short_body() -> String {
    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: 500\r\n\r\n{\"stat\":\"ok\"".to_string()
}

fn jsonp_ok() -> String {
    http(
        "200 OK",
        "text/javascript",
        "jsonFlickrApi({\"user\":{\"id\":\"1@N01\",\"nsid\":\"1@N01\",\"username\":{\"_content\":\"x\"}},\"stat\":\"ok\"})",
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn broken_bodies_are_retried_then_typed_never_a_panic() {
    // Every sort of broken answer, then a good (JSONP-wrapped) one: retried through.
    let (url, h) = canned_server(vec![
        html_200(),
        truncated_json(),
        short_body(),
        String::new(), // connection closed without a word
        http("502 Bad Gateway", "text/html", "<html>bad gateway</html>"),
        http("200 OK", "application/json", ""),
        jsonp_ok(),
    ]);
    let a = FlickrApi::with_options(KEY, SECRET, fast(&url)).unwrap();
    let u = a.find_user("x").await.unwrap();
    assert_eq!(u.user_id, "1@N01");
    assert_eq!(u.username, "x");
    let requests = h.join().unwrap();
    assert_eq!(requests.len(), 7);
    assert_eq!(a.total_calls(), 7);
    assert_eq!(a.call_counts()["flickr.people.findByUsername"], 7);
    // What went over the wire: a GET with the method, key, JSON format and the username.
    for r in &requests {
        assert!(r.starts_with("GET /services/rest/?"), "{r}");
        for part in [
            "method=flickr.people.findByUsername",
            &format!("api_key={KEY}"),
            "format=json",
            "nojsoncallback=1",
            "username=x",
        ] {
            assert!(r.contains(part), "{part} missing in {r}");
        }
    }

    // Only broken bodies: a typed error once the retries are spent (1 + 6 attempts).
    for (body, words) in [
        (html_200(), "not JSON"),
        (truncated_json(), "not JSON"),
        (http("200 OK", "application/json", "[]"), "stat"),
        (
            http("200 OK", "application/json", "{\"stat\":\"weird\"}"),
            "stat",
        ),
    ] {
        let (url, h) = canned_server(vec![body.clone(); 7]);
        let a = FlickrApi::with_options(KEY, SECRET, fast(&url)).unwrap();
        let err = a.find_user("x").await.unwrap_err();
        assert!(
            matches!(&err, FlickrError::InvalidResponse(m) if m.contains(words)),
            "{err:?} for {body:?}"
        );
        assert_error_is_clean(&err);
        assert_eq!(h.join().unwrap().len(), 7);
        assert_eq!(a.total_calls(), 7);
    }
    // A body cut short by the connection: a transport error after the retries.
    let (url, h) = canned_server(vec![short_body(); 7]);
    let a = FlickrApi::with_options(KEY, SECRET, fast(&url)).unwrap();
    let err = a.find_user("x").await.unwrap_err();
    assert!(matches!(err, FlickrError::Transport(_)), "{err:?}");
    assert_error_is_clean(&err);
    assert_eq!(h.join().unwrap().len(), 7);

    // `ok` but the wrong shape: parsed into a typed error, no retry (the call itself passed).
    // The request clamps per_page to Flickr's 500 and page to at least 1.
    let (url, h) = canned_server(vec![http(
        "200 OK",
        "application/json",
        "{\"stat\":\"ok\",\"nothing\":1}",
    )]);
    let a = FlickrApi::with_options(KEY, SECRET, fast(&url)).unwrap();
    let err = a.get_photos(NSID, 0, 10_000, &[]).await.unwrap_err();
    assert!(matches!(err, FlickrError::InvalidResponse(_)), "{err:?}");
    let requests = h.join().unwrap();
    assert_eq!(requests.len(), 1);
    for part in [
        "method=flickr.people.getPhotos",
        "user_id=13476480%40N07",
        "&page=1&",
        "per_page=500",
    ] {
        assert!(
            requests[0].contains(part),
            "{part} missing in {}",
            requests[0]
        );
    }
    assert!(!requests[0].contains("extras="), "{}", requests[0]);

    // A 4xx other than 429 is not worth retrying.
    let (url, h) = canned_server(vec![http("404 Not Found", "text/html", "<html/>")]);
    let a = FlickrApi::with_options(KEY, SECRET, fast(&url)).unwrap();
    let err = a.find_user("x").await.unwrap_err();
    assert!(matches!(err, FlickrError::Http { status: 404 }), "{err:?}");
    assert_eq!(h.join().unwrap().len(), 1);

    // A fail without a code or message: Flickr's code 0 (transient), retried, then typed.
    let (url, h) = canned_server(vec![
        http("200 OK", "application/json", "{\"stat\":\"fail\"}"),
        jsonp_ok(),
    ]);
    let a = FlickrApi::with_options(KEY, SECRET, fast(&url)).unwrap();
    assert_eq!(a.find_user("x").await.unwrap().user_id, "1@N01");
    assert_eq!(h.join().unwrap().len(), 2);
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
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    assert!(err.to_string().starts_with("cannot reach Flickr"), "{err}");
    assert_error_is_clean(&err);
    assert!(!err.to_string().contains("api_key"), "{err}");
    assert_eq!(a.total_calls(), 3, "1 attempt + max_retries 2");
    // A URL that can never work is refused before any call, saying what would.
    for url in ["not a url", "ftp://127.0.0.1/services/rest/"] {
        let bad = FlickrApi::with_options(KEY, SECRET, fast(url)).unwrap_err();
        assert!(matches!(bad, FlickrError::Config(_)), "{bad:?}");
        assert!(bad.to_string().contains("http:// or https://"), "{bad}");
        assert_error_is_clean(&bad);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_rate_limit_allows_a_burst_then_spaces_calls() {
    let e = emu(5).await;
    // Burst 3, then one token per 100 s: three calls pass at once, the fourth is held back.
    let mut o = fast(&e.api_url());
    o.rate_limit_per_hour = 36;
    o.burst = 3;
    let a = FlickrApi::with_options(KEY, SECRET, o.clone()).unwrap();
    // Without a burst these three would take 200 s; 10 s is only a guard against that hang.
    tokio::time::timeout(Duration::from_secs(10), async {
        for _ in 0..3 {
            a.get_photos(NSID, 1, 5, &[]).await.unwrap();
        }
    })
    .await
    .expect("the burst was paced");
    let fourth =
        tokio::time::timeout(Duration::from_millis(600), a.get_photos(NSID, 1, 5, &[])).await;
    assert!(fourth.is_err(), "the fourth call was not held back");
    assert_eq!(e.stats().total_calls, 3, "the fourth reached the server");
    assert_eq!(a.total_calls(), 3);
    assert_eq!(a.calls_last_hour(), 3);
    assert_eq!(a.calls_left_this_hour(), 33);

    // 7,200 calls/hour = one per 0.5 s, burst 2: calls 3 and 4 wait ~0.5 s each.
    e.reset_stats();
    o.rate_limit_per_hour = 7200;
    o.burst = 2;
    let b = FlickrApi::with_options(KEY, SECRET, o).unwrap();
    let t = Instant::now();
    let mut done = Vec::new();
    for _ in 0..4 {
        b.get_photos(NSID, 1, 5, &[]).await.unwrap();
        done.push(t.elapsed());
    }
    assert!(done[2] >= Duration::from_millis(450), "not paced: {done:?}");
    assert!(done[3] >= Duration::from_millis(950), "not paced: {done:?}");
    assert_eq!(b.calls_last_hour(), 4);
    assert_eq!(b.calls_left_this_hour(), 7196);
    let s = e.stats();
    assert_eq!(s.total_calls, 4);
    assert_eq!(b.call_counts(), s.calls);
}
