//! Black-box tests of the built-in Flickr emulator over HTTP (reqwest against `Emulator::start`).

use flickr_emulator::{Emulator, EmulatorConfig, Expected, Faults, Stats};
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

// ---- Changing streams (the overlay) ----

async fn ctl(emu: &Emulator, path: &str) -> Value {
    get_json(format!("{}{path}", emu.base_url())).await
}

fn strs(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect()
}

async fn expected_of(emu: &Emulator) -> Expected {
    get_json(format!("{}/_expected", emu.base_url())).await
}

/// Every id the listing serves, page by page, and the page lengths.
async fn all_listed(
    emu: &Emulator,
    per_page: usize,
    extra: &[(&str, &str)],
) -> (Vec<String>, Vec<usize>, Value) {
    let mut out = vec![];
    let mut lens = vec![];
    let mut first = Value::Null;
    let n = per_page.to_string();
    for page in 1.. {
        let p = page.to_string();
        let mut q = vec![
            ("user_id", MANHHAI),
            ("page", p.as_str()),
            ("per_page", n.as_str()),
        ];
        q.extend_from_slice(extra);
        let v = call(emu, "flickr.people.getPhotos", &q).await;
        let got = ids(&v);
        lens.push(got.len());
        out.extend(got);
        let pages = v["photos"]["pages"].as_u64().unwrap() as usize;
        if page == 1 {
            first = v;
        }
        if page >= pages {
            break;
        }
    }
    (out, lens, first)
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The URL an old image URL redirects to, checked to be the served placeholder PNG.
async fn assert_redirects_to_placeholder(emu: &Emulator, url: &str) {
    let r = no_redirects().get(url).send().await.unwrap();
    assert_eq!(r.status(), 302, "{url}");
    let to = r.headers()["location"].to_str().unwrap().to_string();
    assert!(
        to.starts_with(&emu.base_url()) && to.contains("/pw/images/en-us/photo_unavailable"),
        "{to}"
    );
    assert!(to.ends_with(".png"));
    let r = client().get(&to).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/png");
    let b = r.bytes().await.unwrap();
    assert_eq!(&b[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(&b[12..16], b"IHDR");
    // The default client follows the redirect and gets the placeholder: a 200 PNG.
    let r = client().get(url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.url().as_str().contains("photo_unavailable"));
}

#[tokio::test(flavor = "multi_thread")]
async fn defaults_change_nothing() {
    let emu = start(50).await;
    let exp = expected_of(&emu).await;
    assert_eq!((exp.total, exp.listed_total), (50, 50));
    assert!(exp.deleted.is_empty() && exp.private.is_empty());
    let (listed, lens, _) = all_listed(&emu, 20, &[]).await;
    assert_eq!(lens, vec![20, 20, 10]);
    let want: Vec<String> = exp.photos.iter().map(|p| p.id.clone()).collect();
    assert_eq!(listed, want);
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_anywhere_and_old_urls_redirect() {
    let emu = start(200).await;
    let before = expected_of(&emu).await;
    let mut gone = vec![];
    for (place, n) in [("middle", 5), ("head", 2), ("tail", 3), ("random", 4)] {
        let v = ctl(&emu, &format!("/_delete?n={n}&where={place}")).await;
        let d = strs(&v["deleted"]);
        assert_eq!(d.len(), n, "{place}");
        gone.extend(d);
    }
    let pos = |id: &String| before.photos.iter().position(|p| &p.id == id).unwrap();
    assert_eq!(pos(&gone[5]), 0, "head deletes the newest");
    assert_eq!(pos(&gone[9]), 199, "tail deletes the oldest");
    assert!((90..110).contains(&pos(&gone[0])), "middle");
    let v = ctl(&emu, &format!("/_delete?ids={}", before.photos[50].id)).await;
    gone.extend(strs(&v["deleted"]));
    assert_eq!(v["total"], 185);

    let exp = expected_of(&emu).await;
    assert_eq!((exp.total, exp.listed_total), (185, 185));
    let mut d = exp.deleted.clone();
    d.sort();
    let mut g = gone.clone();
    g.sort();
    assert_eq!(d, g);
    let (listed, _, first) = all_listed(&emu, 100, &[]).await;
    assert_eq!(first["photos"]["total"], "185");
    assert_eq!(first["photos"]["pages"], 2);
    let want: Vec<String> = exp.photos.iter().map(|p| p.id.clone()).collect();
    assert_eq!(listed, want);

    let id = &gone[0];
    for m in [
        "flickr.photos.getInfo",
        "flickr.photos.getSizes",
        "flickr.photos.comments.getList",
    ] {
        assert_fail(
            &call(&emu, m, &[("photo_id", id)]).await,
            1,
            "Photo not found",
        );
    }
    let old = before.photos.iter().find(|p| &p.id == id).unwrap();
    assert_redirects_to_placeholder(&emu, &old.best_url).await;
    assert!(emu.stats().image_redirects >= 1);
    // Deleted ids are gone for good: deleting again changes nothing.
    let v = ctl(&emu, &format!("/_delete?ids={id}")).await;
    assert!(strs(&v["deleted"]).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn inserts_join_the_middle_with_new_ids_at_old_dates() {
    let emu = start(120).await;
    let before = expected_of(&emu).await;
    let v = ctl(&emu, "/_insert?n=6").await;
    let new = strs(&v["inserted"]);
    assert_eq!((new.len(), v["total"].as_u64()), (6, Some(126)));
    let old_ids: HashSet<&str> = before.photos.iter().map(|p| p.id.as_str()).collect();
    assert!(new.iter().all(|id| !old_ids.contains(id.as_str())));

    let exp = expected_of(&emu).await;
    assert_eq!(exp.total, 126);
    assert_eq!(
        exp.photos[0].id, before.photos[0].id,
        "the head is unchanged"
    );
    assert!(exp
        .photos
        .windows(2)
        .all(|w| w[0].date_upload > w[1].date_upload));
    for id in &new {
        let i = exp.photos.iter().position(|p| &p.id == id).unwrap();
        assert!(
            i > 0 && i + 1 < exp.photos.len(),
            "strictly inside the stream"
        );
        let p = &exp.photos[i];
        assert!(p.date_upload < before.photos[0].date_upload);
        let info = call(&emu, "flickr.photos.getInfo", &[("photo_id", id)]).await;
        assert_eq!(info["photo"]["dateuploaded"], p.date_upload.to_string());
        let r = client().get(&p.best_url).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(md5_hex(&r.bytes().await.unwrap()), p.best_md5);
    }
    let (listed, _, _) = all_listed(&emu, 50, &[]).await;
    let want: Vec<String> = exp.photos.iter().map(|p| p.id.clone()).collect();
    assert_eq!(listed, want);
    // Deterministic: the same operations on a fresh emulator give the same ids.
    let again = start(120).await;
    let v = ctl(&again, "/_insert?n=6").await;
    assert_eq!(strs(&v["inserted"]), new);
}

#[tokio::test(flavor = "multi_thread")]
async fn edits_change_texts_comments_and_lastupdate() {
    let emu = start(80).await;
    let before = expected_of(&emu).await;
    let p0 = &before.photos[7];
    let v = ctl(
        &emu,
        &format!("/_edit?ids={}&what=title,description,comment", p0.id),
    )
    .await;
    assert_eq!(strs(&v["edited"]), vec![p0.id.clone()]);
    let exp = expected_of(&emu).await;
    let p1 = exp.photos.iter().find(|p| p.id == p0.id).unwrap();
    assert_ne!(p1.title, p0.title);
    assert_ne!(p1.description, p0.description);
    assert_eq!(p1.comments.len(), p0.comments.len() + 1);
    assert!(p1.last_update > p0.last_update);
    assert_eq!(
        (p1.best_md5.as_str(), p1.date_upload),
        (p0.best_md5.as_str(), p0.date_upload)
    );
    let info = call(&emu, "flickr.photos.getInfo", &[("photo_id", &p0.id)]).await;
    assert_eq!(
        info["photo"]["dates"]["lastupdate"],
        p1.last_update.to_string()
    );
    assert_eq!(
        decode(info["photo"]["title"]["_content"].as_str().unwrap()),
        p1.title
    );
    let v = page(&emu, 1, 100).await;
    let w = v["photos"]["photo"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["id"] == p0.id.as_str())
        .unwrap();
    assert_eq!(w["lastupdate"], p1.last_update.to_string());
    assert_eq!(w["count_comments"], p1.comments.len().to_string());
    let c = call(
        &emu,
        "flickr.photos.comments.getList",
        &[("photo_id", &p0.id)],
    )
    .await;
    let list = c["comments"]["comment"].as_array().unwrap();
    let last = list.last().unwrap();
    let d = p1.comment_details.last().unwrap();
    assert_eq!(last["_content"], d.raw.as_str());
    assert_eq!(last["datecreate"], d.datecreate.to_string());
    assert_eq!(&d.text, p1.comments.last().unwrap());

    // Random edits: every edited photo moved its lastupdate forward, nothing else moved.
    let edited = strs(&ctl(&emu, "/_edit?n=5").await["edited"]);
    assert_eq!(edited.len(), 5);
    let after = expected_of(&emu).await;
    for (a, b) in exp.photos.iter().zip(&after.photos) {
        assert_eq!(a.id, b.id);
        if edited.contains(&a.id) {
            assert!(b.last_update > a.last_update);
            assert!(
                a.title != b.title || a.description != b.description || a.comments != b.comments
            );
        } else {
            assert_eq!((a.last_update, &a.title), (b.last_update, &b.title));
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn replacements_get_new_secrets_bytes_and_old_urls_redirect() {
    let emu = start(60).await;
    let before = expected_of(&emu).await;
    let p0 = before.photos.iter().find(|p| p.has_original).unwrap();
    let v = ctl(&emu, &format!("/_replace?ids={}", p0.id)).await;
    assert_eq!(strs(&v["replaced"]), vec![p0.id.clone()]);
    let exp = expected_of(&emu).await;
    let p1 = exp.photos.iter().find(|p| p.id == p0.id).unwrap();
    assert_ne!(p1.secret, p0.secret);
    assert_ne!(p1.original_secret, p0.original_secret);
    assert_ne!(p1.best_md5, p0.best_md5);
    assert_ne!(p1.best_url, p0.best_url);
    assert!(p1.last_update > p0.last_update);
    assert_eq!(p1.title, p0.title);
    let r = client().get(&p1.best_url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(md5_hex(&r.bytes().await.unwrap()), p1.best_md5);
    assert_redirects_to_placeholder(&emu, &p0.best_url).await;
    // A small size under the old secret redirects to the small placeholder.
    let small = p0.best_url.replace(
        &format!("{}_o.", p0.original_secret.as_deref().unwrap()),
        &format!("{}_s.", p0.secret),
    );
    let small = small.rsplit_once('.').unwrap().0.to_string() + ".jpg";
    let r = no_redirects().get(&small).send().await.unwrap();
    assert_eq!(r.status(), 302, "{small}");
    assert!(r.headers()["location"]
        .to_str()
        .unwrap()
        .ends_with("/photo_unavailable.png"));
    let sizes = call(&emu, "flickr.photos.getSizes", &[("photo_id", &p0.id)]).await;
    let last = sizes["sizes"]["size"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["source"], p1.best_url.as_str());
    let n = strs(&ctl(&emu, "/_replace?n=4").await["replaced"]).len();
    assert_eq!(n, 4);
    // Two from the placeholder check (one not followed, one followed), one small size.
    assert_eq!(emu.stats().image_redirects, 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn private_photos_leave_short_pages() {
    let emu = start(300).await;
    let v = ctl(&emu, "/_private?rate=0.1").await;
    let private = strs(&v["private"]);
    assert!((10..60).contains(&private.len()), "{}", private.len());
    let exp = expected_of(&emu).await;
    assert_eq!(exp.listed_total, 300);
    assert_eq!(exp.total, 300 - private.len());
    assert_eq!(exp.private, private);
    let (listed, lens, first) = all_listed(&emu, 100, &[]).await;
    assert_eq!(first["photos"]["total"], "300");
    assert_eq!(first["photos"]["pages"], 3);
    assert_eq!(lens.len(), 3);
    assert!(lens.iter().all(|&n| n < 100), "{lens:?}");
    let want: Vec<String> = exp.photos.iter().map(|p| p.id.clone()).collect();
    assert_eq!(listed, want);
    assert_fail(
        &call(&emu, "flickr.photos.getInfo", &[("photo_id", &private[0])]).await,
        1,
        "Photo not found",
    );
    // Back to all public.
    ctl(&emu, "/_private?rate=0").await;
    assert_eq!(expected_of(&emu).await.total, 300);
}

#[tokio::test(flavor = "multi_thread")]
async fn dimension_ties_make_the_png_original_best() {
    let emu = start(40).await;
    ctl(&emu, "/_ties?rate=1").await;
    let exp = expected_of(&emu).await;
    let stills: Vec<_> = exp.photos.iter().filter(|p| p.media == "photo").collect();
    assert!(stills.len() > 30);
    for p in &stills {
        assert!(p.has_original && p.ext == "png", "{}", p.id);
        assert!(p.best_url.ends_with("_o.png"));
        assert_eq!(p.best_width.max(p.best_height), 2048);
    }
    let p = stills[0];
    let v = call(&emu, "flickr.photos.getSizes", &[("photo_id", &p.id)]).await;
    let sizes = v["sizes"]["size"].as_array().unwrap();
    let o = sizes.last().unwrap();
    let k = sizes.iter().find(|s| s["label"] == "Large 2048").unwrap();
    assert_eq!(o["label"], "Original");
    assert_eq!((&o["width"], &o["height"]), (&k["width"], &k["height"]));
    let r = client().get(&p.best_url).send().await.unwrap();
    let b = r.bytes().await.unwrap();
    assert_eq!(&b[..4], b"\x89PNG");
    assert_eq!(md5_hex(&b), p.best_md5);
    let v = page(&emu, 1, 5).await;
    let w = &v["photos"]["photo"][0];
    assert_eq!(w["url_o"].as_str().is_some(), w["url_k"].as_str().is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn upload_date_bounds_are_inclusive_and_page() {
    let emu = start(100).await;
    let exp = expected_of(&emu).await;
    let max = exp.photos[10].date_upload.to_string();
    let min = exp.photos[40].date_upload.to_string();
    let want: Vec<String> = exp.photos[10..=40].iter().map(|p| p.id.clone()).collect();
    let (got, lens, first) = all_listed(
        &emu,
        10,
        &[("min_upload_date", &min), ("max_upload_date", &max)],
    )
    .await;
    assert_eq!(got, want);
    assert_eq!(first["photos"]["total"], "31");
    assert_eq!(lens, vec![10, 10, 10, 1]);
    // Only a lower bound: the newest six.
    let lower = exp.photos[5].date_upload.to_string();
    let (got, _, _) = all_listed(&emu, 100, &[("min_upload_date", &lower)]).await;
    assert_eq!(got.len(), 6);
    // Dates as "mysql datetime" too.
    let v = call(
        &emu,
        "flickr.people.getPhotos",
        &[
            ("user_id", MANHHAI),
            ("max_upload_date", "2030-01-01 00:00:00"),
        ],
    )
    .await;
    assert_eq!(v["photos"]["total"], "100");
    let v = call(
        &emu,
        "flickr.people.getPhotos",
        &[
            ("user_id", MANHHAI),
            ("min_upload_date", "2200-01-01 00:00:00"),
        ],
    )
    .await;
    assert_eq!(
        (v["photos"]["total"].as_str(), ids(&v).len()),
        (Some("0"), 0)
    );
    let v = call(
        &emu,
        "flickr.people.getPhotos",
        &[("user_id", MANHHAI), ("max_upload_date", "2000-01-01")],
    )
    .await;
    assert_eq!(v["photos"]["total"], "0");
}

#[tokio::test(flavor = "multi_thread")]
async fn extras_tags_date_taken_and_geo() {
    let emu = start(300).await;
    let exp = expected_of(&emu).await;
    let (mut no_tags, mut geo, mut unknown) = (0, 0, 0);
    let mut grans = HashSet::new();
    for pg in 1..=3 {
        let v = call(
            &emu,
            "flickr.people.getPhotos",
            &[
                ("user_id", MANHHAI),
                ("page", &pg.to_string()),
                ("per_page", "100"),
                ("extras", "tags,date_taken,geo"),
            ],
        )
        .await;
        for w in v["photos"]["photo"].as_array().unwrap() {
            let e = exp
                .photos
                .iter()
                .find(|p| w["id"] == p.id.as_str())
                .unwrap();
            assert_eq!(w["tags"], e.tags.join(" "));
            no_tags += usize::from(e.tags.is_empty());
            assert_eq!(w["datetaken"], e.date_taken.as_str());
            assert_eq!(
                w["datetakengranularity"],
                e.date_taken_granularity.to_string()
            );
            assert_eq!(
                w["datetakenunknown"],
                if e.date_taken_unknown { "1" } else { "0" }
            );
            unknown += usize::from(e.date_taken_unknown);
            grans.insert(e.date_taken_granularity);
            match &e.geo {
                Some(g) => {
                    geo += 1;
                    let lat: f64 = w["latitude"].as_str().unwrap().parse().unwrap();
                    assert!((lat - g.latitude).abs() < 1e-6);
                    assert_eq!(w["accuracy"], g.accuracy.to_string());
                    assert_eq!(w["place_id"], g.place_id.as_str());
                    assert_eq!(w["context"], 0);
                }
                None => {
                    assert_eq!(
                        (&w["latitude"], &w["longitude"]),
                        (&Value::from(0), &Value::from(0))
                    );
                    assert_eq!(w["accuracy"], 0);
                    assert!(w.get("place_id").is_none());
                }
            }
        }
    }
    assert!(
        no_tags > 30 && geo > 30 && unknown > 10,
        "{no_tags} {geo} {unknown}"
    );
    assert_eq!(grans, HashSet::from([0, 4, 6, 8]));
    let p = exp
        .photos
        .iter()
        .find(|p| p.geo.is_some() && !p.tags.is_empty())
        .unwrap();
    let info = call(&emu, "flickr.photos.getInfo", &[("photo_id", &p.id)]).await;
    assert_eq!(info["photo"]["dates"]["taken"], p.date_taken.as_str());
    assert_eq!(
        info["photo"]["tags"]["tag"].as_array().unwrap().len(),
        p.tags.len()
    );
    assert_eq!(
        info["photo"]["location"]["place_id"],
        p.geo.as_ref().unwrap().place_id.as_str()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn photosets_list_and_photos() {
    let emu = start(200).await;
    let exp = expected_of(&emu).await;
    assert_eq!(exp.sets.len(), 5);
    let v = call(&emu, "flickr.photosets.getList", &[("user_id", MANHHAI)]).await;
    assert_eq!(v["stat"], "ok");
    let ps = &v["photosets"];
    assert_eq!(
        (ps["page"].as_u64(), ps["total"].as_u64()),
        (Some(1), Some(5))
    );
    let list = ps["photoset"].as_array().unwrap();
    let titles: Vec<&str> = list
        .iter()
        .map(|s| s["title"]["_content"].as_str().unwrap())
        .collect();
    let unique: HashSet<&&str> = titles.iter().collect();
    assert!(unique.len() < titles.len(), "duplicate titles: {titles:?}");
    for (s, e) in list.iter().zip(&exp.sets) {
        assert_eq!(s["id"], e.id.as_str());
        assert_eq!(s["primary"], e.primary.as_str());
        assert!(s["photos"].is_u64() && s["videos"].is_u64());
        assert_eq!(
            s["photos"].as_u64().unwrap() + s["videos"].as_u64().unwrap(),
            e.photos.len() as u64
        );
        assert!(s["description"]["_content"].is_string());
        assert_eq!(s["date_create"], e.date_create.to_string());
        assert!(s["date_update"].is_string());
        let g = call(
            &emu,
            "flickr.photosets.getPhotos",
            &[
                ("photoset_id", &e.id),
                ("user_id", MANHHAI),
                ("extras", "url_o,last_update"),
            ],
        )
        .await;
        let set = &g["photoset"];
        assert_eq!(set["total"], e.photos.len().to_string());
        assert_eq!(
            (set["page"].as_u64(), set["perpage"].as_u64()),
            (Some(1), Some(500))
        );
        let got: Vec<String> = set["photo"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(got, e.photos);
        assert_eq!(set["photo"][0]["isprimary"], "1");
        assert_eq!(set["photo"][1]["isprimary"], "0");
        for id in &e.photos {
            assert!(exp
                .photos
                .iter()
                .find(|p| &p.id == id)
                .unwrap()
                .sets
                .contains(&e.id));
        }
    }
    // The set's own order is not the stream's.
    let first = &exp.sets[0].photos;
    let pos: Vec<usize> = first
        .iter()
        .map(|id| exp.photos.iter().position(|p| &p.id == id).unwrap())
        .collect();
    assert!(pos.windows(2).any(|w| w[0] > w[1]) && pos.windows(2).any(|w| w[0] < w[1]));
    // Paging, errors, deletions.
    let g = call(
        &emu,
        "flickr.photosets.getPhotos",
        &[
            ("photoset_id", &exp.sets[0].id),
            ("per_page", "7"),
            ("page", "2"),
        ],
    )
    .await;
    let ids2: Vec<&str> = g["photoset"]["photo"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids2,
        first[7..14].iter().map(String::as_str).collect::<Vec<_>>()
    );
    for (k, v) in [("photoset_id", "72157000000000000"), ("photoset_id", "")] {
        assert_fail(
            &call(&emu, "flickr.photosets.getPhotos", &[(k, v)]).await,
            1,
            "Photoset not found",
        );
    }
    assert_fail(
        &call(
            &emu,
            "flickr.photosets.getPhotos",
            &[("photoset_id", &exp.sets[0].id), ("user_id", "8623220@N02")],
        )
        .await,
        1,
        "Photoset not found",
    );
    ctl(&emu, &format!("/_delete?ids={}", first[3])).await;
    let sets: Value = ctl(&emu, "/_sets").await;
    let now = strs(&sets["sets"][0]["photos"]);
    assert_eq!(now.len(), first.len() - 1);
    assert!(!now.contains(&first[3]));
    let v = call(
        &emu,
        "flickr.photosets.getList",
        &[("user_id", "8623220@N02")],
    )
    .await;
    assert_eq!(v["photosets"]["total"], 2);
    let v = call(
        &emu,
        "flickr.photosets.getList",
        &[("user_id", "99999999@N00")],
    )
    .await;
    assert_eq!(v["photosets"]["total"], 0);
    let s = emu.stats();
    assert!(s.calls["flickr.photosets.getPhotos"] >= 9);
    assert_eq!(s.calls["flickr.photosets.getList"], 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn comments_carry_flickr_fields_and_markup() {
    let emu = start(120).await;
    ctl(&emu, "/_markup?rate=0.5").await;
    let exp = expected_of(&emu).await;
    let mut marked = 0;
    for p in exp
        .photos
        .iter()
        .filter(|p| !p.comments.is_empty())
        .take(40)
    {
        let v = call(
            &emu,
            "flickr.photos.comments.getList",
            &[("photo_id", &p.id)],
        )
        .await;
        let list = v["comments"]["comment"].as_array().unwrap();
        assert_eq!(list.len(), p.comment_details.len());
        for ((c, d), plain) in list.iter().zip(&p.comment_details).zip(&p.comments) {
            for k in [
                "id",
                "author",
                "authorname",
                "datecreate",
                "permalink",
                "path_alias",
                "realname",
                "iconserver",
                "_content",
            ] {
                assert!(c[k].is_string(), "{k}: {c}");
            }
            assert_eq!(c["author_is_deleted"], 0);
            assert!(c["iconfarm"].is_u64());
            assert_eq!(c["id"], d.id.as_str());
            assert_eq!(c["author"], d.author.as_str());
            assert_eq!(c["permalink"], d.permalink.as_str());
            let tail = d.id.rsplit('-').next().unwrap();
            assert!(
                d.permalink.ends_with(&format!("/{}/#comment{tail}", p.id)),
                "{}",
                d.permalink
            );
            assert_eq!(c["_content"], d.raw.as_str());
            assert_eq!(&d.text, plain);
            if d.raw.contains("<a href=") || d.raw.contains("<b>") || d.raw.contains('\n') {
                marked += 1;
                assert!(!plain.contains("<a ") && !plain.contains("&quot;"));
            }
        }
    }
    assert!(marked > 5, "{marked}");
    ctl(&emu, "/_markup?rate=0").await;
    let plain = expected_of(&emu).await;
    assert!(plain
        .photos
        .iter()
        .flat_map(|p| &p.comment_details)
        .all(|d| !d.raw.contains('<')));
}

#[tokio::test(flavor = "multi_thread")]
async fn change_endpoints_reject_bad_requests() {
    let emu = start(10).await;
    let base = emu.base_url();
    for path in [
        "/_delete?n=1&where=bogus",
        "/_delete",
        "/_delete?n=1&user=nobody",
        "/_insert?n=x",
        "/_edit?n=1&what=colour",
        "/_edit?ids=1",
        "/_replace?ids=50000000000,abc",
        "/_private?rate=2",
        "/_ties",
        "/_markup?rate=-1",
        "/_sets?user=nobody",
    ] {
        let r = client().get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(r.status(), 400, "{path}");
    }
    // Photos of another user are not this user's to change.
    let other = expected_of(&emu).await.photos[0].id.clone();
    let r = client()
        .get(format!("{base}/_delete?user=commonsarchive&ids={other}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(expected_of(&emu).await.total, 10);
    let r = client()
        .get(format!("{base}/pw/images/en-us/nothing.png"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}
