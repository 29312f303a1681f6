//! Black-box tests of the built-in Flickr emulator over HTTP (reqwest against `Emulator::start`).

use flickrfs::emulator::{Emulator, EmulatorConfig, Expected, Faults, Stats};
use md5::{Digest, Md5};
use serde_json::Value;
use std::collections::HashSet;

const KEY: &str = "0123456789abcdef0123456789abcdef";
const ALL_EXTRAS: &str = "description,date_upload,last_update,media,original_format,o_dims,count_comments,url_o,url_6k,url_5k,url_4k,url_3k,url_k,url_h,url_l,url_c,url_z";
const MANHHAI: &str = "13476480@N07";

async fn start(photos: usize) -> Emulator {
    Emulator::start(EmulatorConfig {
        photos,
        ..EmulatorConfig::default()
    })
    .await
    .unwrap()
}

thread_local! {
    // Building a client costs ~40 ms (TLS roots); libtest runs each test on its own thread,
    // so this is one client (and connection pool) per test.
    static CLIENT: reqwest::Client = reqwest::Client::new();
}

fn client() -> reqwest::Client {
    CLIENT.with(|c| c.clone())
}

async fn call(emu: &Emulator, method: &str, params: &[(&str, &str)]) -> Value {
    let mut q: Vec<(&str, &str)> = vec![
        ("method", method),
        ("api_key", KEY),
        ("format", "json"),
        ("nojsoncallback", "1"),
    ];
    q.extend_from_slice(params);
    let r = client().get(emu.api_url()).query(&q).send().await.unwrap();
    assert_eq!(r.status(), 200);
    serde_json::from_slice(&r.bytes().await.unwrap()).unwrap()
}

fn assert_fail(v: &Value, code: u64, message: &str) {
    assert_eq!(v["stat"], "fail", "{v}");
    assert_eq!(v["code"], code, "{v}");
    assert_eq!(v["message"], message, "{v}");
}

async fn page(emu: &Emulator, page: usize, per_page: usize) -> Value {
    let (p, n) = (page.to_string(), per_page.to_string());
    call(
        emu,
        "flickr.people.getPhotos",
        &[
            ("user_id", MANHHAI),
            ("page", &p),
            ("per_page", &n),
            ("extras", ALL_EXTRAS),
        ],
    )
    .await
}

fn ids(v: &Value) -> Vec<String> {
    v["photos"]["photo"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_string())
        .collect()
}

fn md5_hex(b: &[u8]) -> String {
    Md5::digest(b).iter().map(|b| format!("{b:02x}")).collect()
}

/// (width, height) from a JPEG's SOF0, walking the segments from SOI.
fn jpeg_dims(b: &[u8]) -> Option<(u32, u32)> {
    if b.get(..2)? != [0xFF, 0xD8] {
        return None;
    }
    let mut i = 2;
    loop {
        if *b.get(i)? != 0xFF {
            return None;
        }
        let marker = *b.get(i + 1)?;
        let len = u16::from_be_bytes([*b.get(i + 2)?, *b.get(i + 3)?]) as usize;
        if marker == 0xC0 {
            let h = u16::from_be_bytes([*b.get(i + 5)?, *b.get(i + 6)?]);
            let w = u16::from_be_bytes([*b.get(i + 7)?, *b.get(i + 8)?]);
            return Some((w as u32, h as u32));
        }
        i += 2 + len;
    }
}

async fn get_json<T: serde::de::DeserializeOwned>(url: String) -> T {
    let r = client().get(url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    serde_json::from_slice(&r.bytes().await.unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn user_lookup_methods_and_errors() {
    let emu = start(20).await;
    let v = call(
        &emu,
        "flickr.people.findByUsername",
        &[("username", "manhhai")],
    )
    .await;
    assert_eq!(v["stat"], "ok");
    assert_eq!(v["user"]["id"], MANHHAI);
    assert_eq!(v["user"]["nsid"], MANHHAI);
    assert_eq!(v["user"]["username"]["_content"], "manhhai");
    assert_fail(
        &call(
            &emu,
            "flickr.people.findByUsername",
            &[("username", "nobody")],
        )
        .await,
        1,
        "User not found",
    );

    for url in [
        "https://www.flickr.com/photos/manhhai/",
        "https://www.flickr.com/photos/13476480@N07/",
    ] {
        let v = call(&emu, "flickr.urls.lookupUser", &[("url", url)]).await;
        assert_eq!(v["user"]["id"], MANHHAI, "{url}");
        assert_eq!(v["user"]["username"]["_content"], "manhhai");
    }
    let v = call(
        &emu,
        "flickr.urls.lookupUser",
        &[("url", "https://www.flickr.com/photos/nobody/")],
    )
    .await;
    assert_fail(&v, 1, "User not found");

    assert_fail(
        &call(&emu, "flickr.nope", &[]).await,
        112,
        "Method \"flickr.nope\" not found",
    );
    assert_fail(
        &call(&emu, "flickr.people.getPhotos", &[("user_id", "1@N00")]).await,
        2,
        "Unknown user",
    );
    assert_fail(
        &call(&emu, "flickr.photos.getSizes", &[("photo_id", "42")]).await,
        1,
        "Photo not found",
    );
    assert_fail(
        &call(&emu, "flickr.photos.getInfo", &[]).await,
        1,
        "Photo not found",
    );

    // Bad API key.
    let r = client()
        .get(emu.api_url())
        .query(&[
            ("method", "flickr.people.findByUsername"),
            ("api_key", "xyz"),
            ("format", "json"),
            ("nojsoncallback", "1"),
        ])
        .send()
        .await
        .unwrap();
    let v: Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
    assert_fail(&v, 100, "Invalid API Key (Key has invalid format)");

    // POST form works like GET; without nojsoncallback the JSON is wrapped.
    let body =
        format!("method=flickr.people.findByUsername&api_key={KEY}&format=json&username=manhhai");
    let r = client()
        .post(emu.api_url())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    let text = r.text().await.unwrap();
    let inner = text
        .strip_prefix("jsonFlickrApi(")
        .and_then(|t| t.strip_suffix(')'))
        .expect(&text);
    let v: Value = serde_json::from_str(inner).unwrap();
    assert_eq!(v["user"]["id"], MANHHAI);
}

#[tokio::test(flavor = "multi_thread")]
async fn get_photos_shapes_and_number_string_mix() {
    let emu = start(1200).await;
    let v = page(&emu, 1, 500).await;
    assert_eq!(v["stat"], "ok");
    let photos = &v["photos"];
    assert_eq!(photos["page"], 1);
    assert_eq!(photos["pages"], 3);
    assert_eq!(photos["perpage"], 500);
    assert_eq!(photos["total"], "1200");
    let list = photos["photo"].as_array().unwrap();
    assert_eq!(list.len(), 500);
    let p = &list[0];
    assert_eq!(p["owner"], MANHHAI);
    assert_eq!(p["server"], "65535");
    assert_eq!(p["farm"], 66);
    assert_eq!(p["ispublic"], 1);
    assert!(p["dateupload"].is_string() && p["lastupdate"].is_string());
    assert!(p["count_comments"].is_string());
    assert!(p["description"]["_content"].is_string());
    assert!(p["width_k"].is_string() && p["height_k"].is_number(), "{p}");

    let with_o = list.iter().find(|p| p.get("url_o").is_some()).unwrap();
    assert!(with_o["o_width"].is_string() && with_o["width_o"].is_string());
    assert!(with_o["originalformat"].is_string() && with_o["originalsecret"].is_string());
    let without_o = list.iter().find(|p| p.get("url_o").is_none()).unwrap();
    assert!(without_o.get("o_width").is_none() && without_o.get("originalformat").is_none());
    assert!(
        without_o.get("url_l").is_some(),
        "every photo has at least Large: {without_o}"
    );
    assert!(list.iter().any(|p| p["media"] == "video"));
    let formats: HashSet<&str> = list
        .iter()
        .filter_map(|p| p["originalformat"].as_str())
        .collect();
    assert!(
        formats.contains("jpg") && formats.contains("png"),
        "{formats:?}"
    );

    // Extras only when asked.
    let v = call(
        &emu,
        "flickr.people.getPhotos",
        &[("user_id", MANHHAI), ("per_page", "3")],
    )
    .await;
    let p = &v["photos"]["photo"][0];
    assert!(
        p.get("url_k").is_none() && p.get("dateupload").is_none() && p.get("description").is_none()
    );
    assert_eq!(v["photos"]["perpage"], 3);

    // Default per_page 100, max 500.
    let v = call(&emu, "flickr.people.getPhotos", &[("user_id", MANHHAI)]).await;
    assert_eq!(v["photos"]["photo"].as_array().unwrap().len(), 100);
    let v = call(
        &emu,
        "flickr.people.getPhotos",
        &[("user_id", MANHHAI), ("per_page", "9999")],
    )
    .await;
    assert_eq!(v["photos"]["perpage"], 500);

    // Empty user.
    let v = call(
        &emu,
        "flickr.people.getPhotos",
        &[("user_id", "99999999@N00")],
    )
    .await;
    assert_eq!(v["photos"]["total"], "0");
    assert_eq!(v["photos"]["photo"].as_array().unwrap().len(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn pagination_covers_stream_once_newest_first() {
    let emu = start(1200).await;
    let exp = emu.expected("manhhai").unwrap();
    let mut all = Vec::new();
    let mut dates = Vec::new();
    for n in 1..=3 {
        let v = page(&emu, n, 500).await;
        for p in v["photos"]["photo"].as_array().unwrap() {
            dates.push(p["dateupload"].as_str().unwrap().parse::<i64>().unwrap());
        }
        all.extend(ids(&v));
    }
    assert_eq!(all.len(), 1200);
    assert_eq!(all.iter().collect::<HashSet<_>>().len(), 1200);
    assert!(dates.windows(2).all(|w| w[0] > w[1]), "newest first");
    let exp_ids: Vec<String> = exp.photos.iter().map(|p| p.id.clone()).collect();
    assert_eq!(all, exp_ids);
    assert!(ids(&page(&emu, 4, 500).await).is_empty());

    // Users' ids never collide.
    let other = emu.expected("commonsarchive").unwrap();
    assert_eq!(other.total, 60);
    assert!(other.photos.iter().all(|p| !exp_ids.contains(&p.id)));
}

#[tokio::test(flavor = "multi_thread")]
async fn grow_shifts_pages_and_total() {
    let emu = start(10).await;
    let before = ids(&page(&emu, 1, 5).await);
    emu.grow("manhhai", 3);
    let v = page(&emu, 1, 5).await;
    assert_eq!(v["photos"]["total"], "13");
    assert_eq!(v["photos"]["pages"], 3);
    let after = ids(&v);
    assert_eq!(after[3..], before[..2]);
    assert!(after[..3].iter().all(|id| !before.contains(id)));
    assert!(after[0].parse::<u64>().unwrap() > before[0].parse::<u64>().unwrap());

    // Via the control endpoint too.
    let g: Value = get_json(format!("{}/_grow?n=2", emu.base_url())).await;
    assert_eq!(g["total"], 15);
    let exp: Expected = get_json(format!("{}/_expected", emu.base_url())).await;
    assert_eq!(exp.total, 15);
    assert_eq!(exp.photos[2].id, after[0]);
    assert!(exp.photos[0].date_upload > exp.photos[1].date_upload);
    let g: Value = get_json(format!("{}/_grow?n=1&user=commonsarchive", emu.base_url())).await;
    assert_eq!(g["total"], 61);
}

#[tokio::test(flavor = "multi_thread")]
async fn sizes_info_and_comments() {
    let emu = start(300).await;
    let exp = emu.expected("manhhai").unwrap();

    let with_o = exp
        .photos
        .iter()
        .find(|p| p.has_original && p.media == "photo")
        .unwrap();
    let v = call(&emu, "flickr.photos.getSizes", &[("photo_id", &with_o.id)]).await;
    assert_eq!(v["sizes"]["candownload"], 1);
    let sizes = v["sizes"]["size"].as_array().unwrap();
    assert_eq!(sizes[0]["label"], "Square");
    assert_eq!(sizes[0]["width"], 75);
    let last = sizes.last().unwrap();
    assert_eq!(last["label"], "Original");
    assert_eq!(last["source"], with_o.best_url.as_str());
    assert_eq!(last["width"], with_o.best_width);

    let no_o = exp.photos.iter().find(|p| !p.has_original).unwrap();
    let v = call(&emu, "flickr.photos.getSizes", &[("photo_id", &no_o.id)]).await;
    assert_eq!(v["sizes"]["candownload"], 0);
    let sizes = v["sizes"]["size"].as_array().unwrap();
    assert!(sizes.iter().all(|s| s["label"] != "Original"));
    assert_eq!(sizes.last().unwrap()["source"], no_o.best_url.as_str());

    let video = exp.photos.iter().find(|p| p.media == "video").unwrap();
    assert_eq!(video.ext, "mp4");
    let v = call(&emu, "flickr.photos.getSizes", &[("photo_id", &video.id)]).await;
    let sizes = v["sizes"]["size"].as_array().unwrap();
    let vo = sizes
        .iter()
        .find(|s| s["label"] == "Video Original")
        .unwrap();
    assert_eq!(vo["media"], "video");
    assert_eq!(vo["source"], video.best_url.as_str());
    assert!(sizes.iter().any(|s| s["label"] == "Site MP4"));

    let p = &exp.photos[0];
    let v = call(&emu, "flickr.photos.getInfo", &[("photo_id", &p.id)]).await;
    let info = &v["photo"];
    assert_eq!(info["id"], p.id.as_str());
    assert_eq!(info["dateuploaded"], p.date_upload.to_string());
    assert_eq!(info["dates"]["lastupdate"], p.last_update.to_string());
    assert!(info["dates"]["taken"].as_str().unwrap().len() == 19);
    assert_eq!(info["comments"]["_content"], p.comments.len().to_string());
    assert_eq!(info["urls"]["url"][0]["type"], "photopage");
    assert_eq!(
        info["urls"]["url"][0]["_content"],
        format!("https://www.flickr.com/photos/manhhai/{}/", p.id)
    );

    let none = exp.photos.iter().find(|p| p.comments.is_empty()).unwrap();
    let v = call(
        &emu,
        "flickr.photos.comments.getList",
        &[("photo_id", &none.id)],
    )
    .await;
    assert_eq!(v["stat"], "ok");
    assert_eq!(v["comments"]["photo_id"], none.id.as_str());
    assert!(
        v["comments"].get("comment").is_none(),
        "no comment key: {v}"
    );

    let some = exp.photos.iter().find(|p| p.comments.len() >= 2).unwrap();
    let v = call(
        &emu,
        "flickr.photos.comments.getList",
        &[("photo_id", &some.id)],
    )
    .await;
    let list = v["comments"]["comment"].as_array().unwrap();
    assert_eq!(list.len(), some.comments.len());
    for (c, plain) in list.iter().zip(&some.comments) {
        assert!(c["id"].is_string() && c["author"].is_string() && c["authorname"].is_string());
        assert!(c["datecreate"].is_string() && c["permalink"].is_string());
        assert_eq!(decode(c["_content"].as_str().unwrap()), *plain);
    }
}

fn decode(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[tokio::test(flavor = "multi_thread")]
async fn texts_are_varied_and_entity_encoded_on_the_wire() {
    let emu = start(1200).await;
    let exp = emu.expected("manhhai").unwrap();
    let langs: HashSet<&str> = exp.photos.iter().map(|p| p.title_lang.as_str()).collect();
    assert!(
        ["vie", "fra", "eng", ""].iter().all(|l| langs.contains(l)),
        "{langs:?}"
    );
    assert!(exp.photos.iter().any(|p| p.title.chars().count() == 300));
    assert!(exp
        .photos
        .iter()
        .any(|p| p.title.chars().any(|c| c as u32 > 0x1F000)));
    assert!(exp
        .photos
        .iter()
        .any(|p| p.title.contains("Nhà") || p.title.contains("Hà Nội")));
    let empty_desc = exp
        .photos
        .iter()
        .filter(|p| p.description.is_empty())
        .count();
    assert!((200..500).contains(&empty_desc), "{empty_desc}");
    assert!(exp
        .photos
        .iter()
        .all(|p| p.description.is_empty() || p.description.chars().count() >= 80));
    let no_comments = exp.photos.iter().filter(|p| p.comments.is_empty()).count();
    assert!((350..650).contains(&no_comments), "{no_comments}");
    assert!(exp
        .photos
        .iter()
        .all(|p| p.comments.len() <= 5 && p.comments.len() == p.comment_langs.len()));
    let videos = exp.photos.iter().filter(|p| p.media == "video").count();
    assert!((10..70).contains(&videos), "{videos}");
    let no_orig = exp.photos.iter().filter(|p| !p.has_original).count();
    assert!((150..350).contains(&no_orig), "{no_orig}");

    // The wire form of a title with '&' or quotes is entity-encoded; decoding gives Expected.
    let mut wire = Vec::new();
    for n in 1..=3 {
        let v = page(&emu, n, 500).await;
        wire.extend(v["photos"]["photo"].as_array().unwrap().clone());
    }
    let special = exp
        .photos
        .iter()
        .position(|p| p.title.contains('&') || p.title.contains('"'))
        .unwrap();
    let t = wire[special]["title"].as_str().unwrap();
    assert!(t.contains("&amp;") || t.contains("&quot;"), "{t}");
    for (w, e) in wire.iter().zip(&exp.photos) {
        assert_eq!(decode(w["title"].as_str().unwrap()), e.title);
        assert_eq!(
            decode(w["description"]["_content"].as_str().unwrap()),
            e.description
        );
        assert_eq!(w["count_comments"], e.comments.len().to_string());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn images_match_expected_heads_and_ranges() {
    let emu = start(300).await;
    let exp = emu.expected("manhhai").unwrap();
    let c = client();
    let mut picks = vec![
        exp.photos
            .iter()
            .find(|p| p.ext == "jpg" && p.has_original)
            .unwrap(),
        exp.photos.iter().find(|p| !p.has_original).unwrap(),
        exp.photos.iter().find(|p| p.ext == "mp4").unwrap(),
    ];
    picks.extend(exp.photos.iter().find(|p| p.ext == "png"));
    for p in &picks {
        let r = c.get(&p.best_url).send().await.unwrap();
        assert_eq!(r.status(), 200, "{}", p.best_url);
        assert_eq!(r.headers()["accept-ranges"], "bytes");
        let ct = r.headers()["content-type"].to_str().unwrap().to_string();
        let body = r.bytes().await.unwrap();
        assert_eq!(body.len() as u64, p.best_bytes);
        assert_eq!(md5_hex(&body), p.best_md5);
        match p.ext.as_str() {
            "jpg" => {
                assert_eq!(ct, "image/jpeg");
                assert_eq!(jpeg_dims(&body), Some((p.best_width, p.best_height)));
                assert_eq!(&body[body.len() - 2..], &[0xFF, 0xD9]);
            }
            "png" => {
                assert_eq!(ct, "image/png");
                assert_eq!(&body[12..16], b"IHDR");
                assert_eq!(
                    u32::from_be_bytes(body[16..20].try_into().unwrap()),
                    p.best_width
                );
            }
            "mp4" => {
                assert_eq!(ct, "video/mp4");
                assert_eq!(&body[4..8], b"ftyp");
            }
            _ => {}
        }
        let h = c.head(&p.best_url).send().await.unwrap();
        assert_eq!(h.status(), 200);
        assert_eq!(
            h.headers()["content-length"],
            p.best_bytes.to_string().as_str()
        );
    }

    let p = picks[0];
    let full = c
        .get(&p.best_url)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let r = c
        .get(&p.best_url)
        .header("range", "bytes=100-299")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(
        r.headers()["content-range"],
        format!("bytes 100-299/{}", full.len()).as_str()
    );
    assert_eq!(r.bytes().await.unwrap(), full.slice(100..300));
    let r = c
        .get(&p.best_url)
        .header("range", "bytes=1000-")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(r.bytes().await.unwrap(), full.slice(1000..));
    let r = c
        .get(&p.best_url)
        .header("range", format!("bytes={}-", full.len()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 416);

    // Wrong secret, unknown photo, wrong extension: 404.
    let bad = p
        .best_url
        .replace(&format!("{}_", p.id), &format!("{}_0", p.id));
    assert_eq!(c.get(&bad).send().await.unwrap().status(), 404);
    assert_eq!(
        c.get(format!("{}/img/1_2_o.jpg", emu.base_url()))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    let wrong_ext = p.best_url.replace(".jpg", ".png");
    assert_eq!(c.get(&wrong_ext).send().await.unwrap().status(), 404);

    let s = emu.stats();
    assert_eq!(s.total_calls, 0, "image requests are not REST calls");
    assert_eq!(s.image_heads, picks.len() as u64);
    assert_eq!(s.image_gets, picks.len() as u64 + 7);
    assert_eq!(s.range_gets, 2);
    assert_eq!(s.image_gets_by_photo[&p.id], 2);
    assert_eq!(s.image_gets_by_photo.len(), picks.len());
}

#[tokio::test(flavor = "multi_thread")]
async fn stats_count_methods_and_reset() {
    let emu = start(20).await;
    call(
        &emu,
        "flickr.people.findByUsername",
        &[("username", "manhhai")],
    )
    .await;
    call(&emu, "flickr.people.getPhotos", &[("user_id", MANHHAI)]).await;
    call(&emu, "flickr.people.getPhotos", &[("user_id", "bad")]).await;
    call(&emu, "flickr.bogus", &[]).await;
    client().get(emu.api_url()).send().await.unwrap();
    let s: Stats = get_json(format!("{}/_stats", emu.base_url())).await;
    assert_eq!(s.calls["flickr.people.findByUsername"], 1);
    assert_eq!(s.calls["flickr.people.getPhotos"], 2);
    assert_eq!(s.calls["flickr.bogus"], 1);
    assert_eq!(s.calls["unknown"], 1);
    assert_eq!(s.total_calls, 5);
    assert_eq!(
        emu.stats().total_calls,
        5,
        "control endpoints are not counted"
    );
    emu.reset_stats();
    assert_eq!(emu.stats().total_calls, 0);
    call(
        &emu,
        "flickr.people.findByUsername",
        &[("username", "manhhai")],
    )
    .await;
    let r = client()
        .post(format!("{}/_reset_stats", emu.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(emu.stats().calls.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn faults_at_rate_one() {
    let emu = start(20).await;
    let exp = emu.expected("manhhai").unwrap();
    let url = &exp.photos[0].best_url;
    let c = client();
    let rest = || {
        c.get(emu.api_url())
            .query(&[
                ("method", "flickr.people.findByUsername"),
                ("api_key", KEY),
                ("format", "json"),
                ("nojsoncallback", "1"),
                ("username", "manhhai"),
            ])
            .send()
    };

    emu.set_faults(Faults {
        rate_5xx: 1.0,
        ..Faults::default()
    });
    let r = rest().await.unwrap();
    assert_eq!(r.status(), 503);
    assert!(r.text().await.unwrap().contains("<html>"));
    assert_eq!(c.get(url).send().await.unwrap().status(), 503);

    emu.set_faults(Faults {
        rate_429: 1.0,
        retry_after_secs: 7,
        ..Faults::default()
    });
    let r = rest().await.unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "7");
    assert_eq!(c.get(url).send().await.unwrap().status(), 429);

    emu.set_faults(Faults {
        rate_105: 1.0,
        ..Faults::default()
    });
    let r = rest().await.unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
    assert_fail(&v, 105, "Service currently unavailable");
    assert_eq!(
        c.get(url).send().await.unwrap().status(),
        200,
        "105 is REST only"
    );

    // Drop: full Content-Length announced, about half sent, then the connection closes.
    let f: Faults = get_json(format!("{}/_faults?drop_rate=1&rate_105=0", emu.base_url())).await;
    assert_eq!(f.drop_rate, 1.0);
    let r = c.get(url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.content_length(), Some(exp.photos[0].best_bytes));
    let mut r = r;
    let mut got = 0u64;
    let err = loop {
        match r.chunk().await {
            Ok(Some(b)) => got += b.len() as u64,
            Ok(None) => break false,
            Err(_) => break true,
        }
    };
    assert!(err, "a dropped body must end in an error");
    assert!(got < exp.photos[0].best_bytes && got > 0, "{got}");
    let head = c.head(url).send().await.unwrap();
    assert_eq!(head.status(), 200, "HEAD is never dropped");

    let s = emu.stats();
    assert_eq!(s.faults_injected, 6);
    assert_eq!(
        s.image_gets_by_photo[&exp.photos[0].id], 1,
        "only the healthy GET counts, not the dropped one"
    );
    assert_eq!(
        s.calls["flickr.people.findByUsername"], 3,
        "faulted calls count"
    );

    // Latency, then back to healthy; bad control values are rejected.
    emu.set_faults(Faults {
        latency_ms: 150,
        ..Faults::default()
    });
    let t = std::time::Instant::now();
    assert_eq!(rest().await.unwrap().status(), 200);
    assert!(t.elapsed().as_millis() >= 150);
    let r = c
        .get(format!("{}/_faults?rate_5xx=2", emu.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    emu.shutdown().await;
}

#[test]
fn cli_prints_listening_line_and_stops_on_sigterm() {
    use std::io::{BufRead, BufReader, Read};
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_flickrfs"))
        .args(["emulator", "--port", "0", "--photos", "5"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let url = line
        .trim()
        .strip_prefix("flickrfs emulator listening on ")
        .expect(&line)
        .to_string();
    assert!(
        url.starts_with("http://127.0.0.1:") && url.ends_with("/services/rest/"),
        "{url}"
    );
    let base = url.trim_end_matches("/services/rest/").to_string();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let exp: Expected = rt.block_on(get_json(format!("{base}/_expected")));
    assert_eq!(exp.total, 5);
    // SAFETY: kill(2) on the pid of the child this test spawned.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    assert!(
        rest.is_empty(),
        "exactly one line on stdout, got more: {rest:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn control_endpoints_and_bad_requests() {
    let emu = start(12).await;
    let base = emu.base_url();
    let c = client();
    let status = |url: String| {
        let c = c.clone();
        async move { c.get(url).send().await.unwrap().status().as_u16() }
    };
    assert_eq!(status(format!("{base}/_expected?user=nobody")).await, 404);
    assert_eq!(status(format!("{base}/_grow?n=abc")).await, 400);
    assert_eq!(status(format!("{base}/_grow?n=1&user=nobody")).await, 400);
    assert_eq!(status(format!("{base}/_faults?bogus=1")).await, 400);
    assert_eq!(status(format!("{base}/nothing/here")).await, 404);
    let f: Faults = get_json(format!("{base}/_faults")).await;
    assert_eq!(f.rate_5xx, 0.0);
    let exp: Expected = get_json(format!("{base}/_expected?user=commonsarchive")).await;
    assert_eq!((exp.user_id.as_str(), exp.total), ("8623220@N02", 60));
    let exp: Expected = get_json(format!("{base}/_expected?user=emptyuser")).await;
    assert!(exp.photos.is_empty());

    // Odd parameters get Flickr-style answers, never a crash.
    for (k, v) in [
        ("page", "-1"),
        ("page", "99999999999999999999"),
        ("per_page", "abc"),
        ("per_page", "0"),
        ("extras", ",,,url_zz,"),
    ] {
        let v = call(
            &emu,
            "flickr.people.getPhotos",
            &[("user_id", MANHHAI), (k, v)],
        )
        .await;
        assert_eq!(v["stat"], "ok", "{k}: {v}");
    }
    let v = call(
        &emu,
        "flickr.people.getPhotos",
        &[("user_id", MANHHAI), ("page", "1000000")],
    )
    .await;
    assert!(ids(&v).is_empty());
    for id in ["", "abc", "-5", "99999999999999999999999", "50000000001x"] {
        let v = call(&emu, "flickr.photos.getInfo", &[("photo_id", id)]).await;
        assert_fail(&v, 1, "Photo not found");
    }
    for path in [
        "/img/",
        "/img/x",
        "/img/1_2",
        "/img/_._",
        "/video/1_2_3.mp4",
        "/img/%FF%FE.jpg",
    ] {
        assert_eq!(status(format!("{base}{path}")).await, 404, "{path}");
    }
    let v = call(&emu, "flickr.people.findByUsername", &[]).await;
    assert_fail(&v, 1, "User not found");
    let r = c
        .get(format!("{}?format=json&nojsoncallback=1", emu.api_url()))
        .send()
        .await
        .unwrap();
    let v: Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
    assert_fail(&v, 100, "Invalid API Key (Key has invalid format)");
    // Still healthy afterwards.
    let v = call(&emu, "flickr.people.getPhotos", &[("user_id", MANHHAI)]).await;
    assert_eq!(v["photos"]["total"], "12");
}
