//! The REST endpoint `/services/rest/`: parameter parsing, call counting, faults, and the
//! Flickr methods with Flickr's JSON shapes (strings and numbers mixed as Flickr does):
//! people.findByUsername, urls.lookupUser, people.getPhotos (paging, min/max_upload_date,
//! extras, privacy-filtered short pages), photos.getSizes, photos.getInfo,
//! photos.comments.getList, photosets.getList and photosets.getPhotos.

use super::data::{self, Key, Photo, Rng, USERS};
use super::faults::Fault;
use super::meta;
use super::server::{self, param, Body, State};
use super::sets;
use super::text::{encode_entities as enc, Text};
use super::timefmt;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{json, Map, Value};
use std::collections::HashSet;

type Params = [(String, String)];

pub async fn handle(state: &State, req: Request<Incoming>) -> Response<Body> {
    let mut params = server::parse_pairs(req.uri().query().unwrap_or(""));
    if req.method() == Method::POST {
        // A form body; an unreadable or oversized one just contributes nothing.
        if let Ok(body) = Limited::new(req.into_body(), 1 << 20).collect().await {
            params.extend(server::parse_pairs(&String::from_utf8_lossy(
                &body.to_bytes(),
            )));
        }
    }
    let method = param(&params, "method").unwrap_or("unknown").to_string();
    state.with_stats(|s| {
        *s.calls.entry(method.clone()).or_default() += 1;
        s.total_calls += 1;
    });
    let v = match state.pre(true, false).await {
        Fault::Http5xx => return server::unavailable(),
        Fault::Http429 => return server::too_many(state),
        Fault::Code105 => fail(105, "Service currently unavailable"),
        _ => respond(state, &method, &params),
    };
    if param(&params, "nojsoncallback") == Some("1") {
        server::json(StatusCode::OK, &v)
    } else {
        let body = format!("jsonFlickrApi({v})");
        server::text(StatusCode::OK, "text/javascript; charset=utf-8", body)
    }
}

fn fail(code: u32, message: &str) -> Value {
    json!({ "stat": "fail", "code": code, "message": message })
}

fn ok(key: &str, v: Value) -> Value {
    let mut m = Map::new();
    m.insert(key.to_string(), v);
    m.insert("stat".to_string(), json!("ok"));
    Value::Object(m)
}

fn respond(state: &State, method: &str, params: &Params) -> Value {
    let key = param(params, "api_key").unwrap_or("");
    if key.len() != 32 || !key.bytes().all(|b| b.is_ascii_hexdigit()) {
        return fail(100, "Invalid API Key (Key has invalid format)");
    }
    match param(params, "format") {
        Some("json") => {}
        other => {
            return fail(
                111,
                &format!("Format \"{}\" not found", other.unwrap_or("rest")),
            )
        }
    }
    match method {
        "flickr.people.findByUsername" => find_by_username(params),
        "flickr.urls.lookupUser" => lookup_user(params),
        "flickr.people.getPhotos" => get_photos(state, params),
        "flickr.photos.getSizes" => with_photo(state, params, get_sizes),
        "flickr.photos.getInfo" => with_photo(state, params, get_info),
        "flickr.photos.comments.getList" => with_photo(state, params, get_comments),
        "flickr.photosets.getList" => photosets_get_list(state, params),
        "flickr.photosets.getPhotos" => photosets_get_photos(state, params),
        "unknown" => fail(112, "Method \"\" not found"),
        m => fail(112, &format!("Method \"{m}\" not found")),
    }
}

fn find_by_username(params: &Params) -> Value {
    match param(params, "username").and_then(data::user_by_name) {
        Some(u) => {
            let u = &USERS[u];
            ok(
                "user",
                json!({ "id": u.nsid, "nsid": u.nsid, "username": { "_content": u.username } }),
            )
        }
        None => fail(1, "User not found"),
    }
}

fn lookup_user(params: &Params) -> Value {
    let url = param(params, "url").unwrap_or("");
    // https://www.flickr.com/photos/<username or NSID>/...
    let who = url
        .split("/photos/")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or("");
    match data::user_by_name(who).or_else(|| data::user_by_nsid(who)) {
        Some(u) => {
            let u = &USERS[u];
            ok(
                "user",
                json!({ "id": u.nsid, "username": { "_content": u.username } }),
            )
        }
        None => fail(1, "User not found"),
    }
}

fn number(params: &Params, name: &str, default: usize) -> usize {
    param(params, name)
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or(default)
}

fn extras_of(params: &Params) -> HashSet<&str> {
    param(params, "extras")
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}

/// A date argument: unix seconds or a "mysql datetime"; None when absent or unreadable.
fn date_arg(params: &Params, name: &str) -> Option<i64> {
    let v = param(params, name)?.trim();
    v.parse::<i64>().ok().or_else(|| timefmt::parse_datetime(v))
}

fn get_photos(state: &State, params: &Params) -> Value {
    let Some(user) = param(params, "user_id").and_then(data::user_by_nsid) else {
        return fail(2, "Unknown user");
    };
    let per_page = number(params, "per_page", 100).min(500);
    let page = number(params, "page", 1);
    let extras = extras_of(params);
    let seed = state.seed;
    let (o, listing) = state.snapshot(user);
    // The listing is newest first; both bounds are inclusive, as Flickr documents.
    let date = |k: &Key| data::date_upload(seed, *k);
    let lo = date_arg(params, "max_upload_date")
        .map_or(0, |max| listing.partition_point(|k| date(k) > max));
    let hi = date_arg(params, "min_upload_date").map_or(listing.len(), |min| {
        listing.partition_point(|k| date(k) >= min)
    });
    let selected = &listing[lo..hi.max(lo)];
    let total = selected.len();
    let pages = total.div_ceil(per_page);
    let start = (page - 1).saturating_mul(per_page).min(total);
    let end = start.saturating_add(per_page).min(total);
    // Private photos count in `total` but are left out of the page they sit on.
    let photo: Vec<Value> = selected[start..end]
        .iter()
        .filter(|&&k| !o.is_private(seed, k))
        .map(|&k| listing_item(state, &o.photo(seed, state.image_kb, k), &extras))
        .collect();
    ok(
        "photos",
        json!({ "page": page, "pages": pages, "perpage": per_page, "total": total.to_string(), "photo": photo }),
    )
}

fn listing_item(state: &State, p: &Photo, extras: &HashSet<&str>) -> Value {
    let mut m = Map::new();
    let mut put = |k: &str, v: Value| {
        m.insert(k.to_string(), v);
    };
    put("id", json!(p.id.to_string()));
    put("owner", json!(p.nsid()));
    put("secret", json!(p.secret));
    put("server", json!("65535"));
    put("farm", json!(66));
    put("title", json!(p.title.wire()));
    put("ispublic", json!(1));
    put("isfriend", json!(0));
    put("isfamily", json!(0));
    if extras.contains("description") {
        put("description", json!({ "_content": p.description.wire() }));
    }
    if extras.contains("date_upload") {
        put("dateupload", json!(p.date_upload.to_string()));
    }
    if extras.contains("last_update") {
        put("lastupdate", json!(p.last_update.to_string()));
    }
    if extras.contains("date_taken") {
        let t = meta::taken(p.seed, p.id, p.date_upload);
        put("datetaken", json!(t.text));
        put("datetakengranularity", json!(t.granularity.to_string()));
        put("datetakenunknown", json!(if t.unknown { "1" } else { "0" }));
    }
    if extras.contains("tags") {
        put("tags", json!(meta::tags(p.seed, p.id).join(" ")));
    }
    if extras.contains("geo") {
        match meta::geo(p.seed, p.id) {
            Some(g) => {
                put("latitude", json!(format!("{:.6}", g.latitude)));
                put("longitude", json!(format!("{:.6}", g.longitude)));
                put("accuracy", json!(g.accuracy.to_string()));
                put("context", json!(0));
                put("place_id", json!(g.place_id));
                put("woeid", json!(g.woeid));
                put("geo_is_public", json!(1));
                put("geo_is_contact", json!(0));
                put("geo_is_friend", json!(0));
                put("geo_is_family", json!(0));
            }
            None => {
                put("latitude", json!(0));
                put("longitude", json!(0));
                put("accuracy", json!(0));
                put("context", json!(0));
            }
        }
    }
    if extras.contains("media") {
        put("media", json!(if p.video { "video" } else { "photo" }));
        put("media_status", json!("ready"));
    }
    if p.has_original && extras.contains("original_format") {
        put("originalformat", json!(p.orig_format.ext()));
        put("originalsecret", json!(p.orig_secret));
    }
    if p.has_original && extras.contains("o_dims") {
        put("o_width", json!(p.orig_width.to_string()));
        put("o_height", json!(p.orig_height.to_string()));
    }
    if extras.contains("count_comments") {
        put("count_comments", json!(p.comments.len().to_string()));
    }
    for f in p.image_files() {
        if extras.contains(format!("url_{}", f.key).as_str()) {
            put(
                &format!("url_{}", f.key),
                json!(format!("{}{}", state.base, p.path_of(f))),
            );
            put(&format!("height_{}", f.key), json!(f.height));
            put(&format!("width_{}", f.key), json!(f.width.to_string()));
        }
    }
    Value::Object(m)
}

fn with_photo(state: &State, params: &Params, f: fn(&State, &Photo) -> Value) -> Value {
    match param(params, "photo_id").and_then(|id| state.photo(id.trim())) {
        Some(p) => f(state, &p),
        None => fail(1, "Photo not found"),
    }
}

fn photopage(p: &Photo) -> String {
    format!("https://www.flickr.com/photos/{}/{}/", p.username(), p.id)
}

fn get_sizes(state: &State, p: &Photo) -> Value {
    let size: Vec<Value> = p
        .files
        .iter()
        .map(|f| {
            let page = if f.video {
                format!("{}#{}", photopage(p), f.name)
            } else {
                format!("{}sizes/{}/", photopage(p), f.key)
            };
            json!({
                "label": f.label,
                "width": f.width,
                "height": f.height,
                "source": format!("{}{}", state.base, p.path_of(f)),
                "url": page,
                "media": if f.video { "video" } else { "photo" },
            })
        })
        .collect();
    ok(
        "sizes",
        json!({ "canblog": 0, "canprint": 0, "candownload": i32::from(p.has_original), "size": size }),
    )
}

fn get_info(_state: &State, p: &Photo) -> Value {
    let mut m = Map::new();
    let mut put = |k: &str, v: Value| {
        m.insert(k.to_string(), v);
    };
    put("id", json!(p.id.to_string()));
    put("secret", json!(p.secret));
    put("server", json!("65535"));
    put("farm", json!(66));
    put("dateuploaded", json!(p.date_upload.to_string()));
    put("isfavorite", json!(0));
    put("license", json!("0"));
    put("rotation", json!(0));
    if p.has_original {
        put("originalsecret", json!(p.orig_secret));
        put("originalformat", json!(p.orig_format.ext()));
    }
    put(
        "owner",
        json!({ "nsid": p.nsid(), "username": p.username(), "realname": "", "location": "" }),
    );
    put("title", json!({ "_content": p.title.wire() }));
    put("description", json!({ "_content": p.description.wire() }));
    put(
        "visibility",
        json!({ "ispublic": 1, "isfriend": 0, "isfamily": 0 }),
    );
    let taken = meta::taken(p.seed, p.id, p.date_upload);
    put(
        "dates",
        json!({
            "posted": p.date_upload.to_string(),
            "taken": taken.text,
            "takengranularity": taken.granularity,
            "takenunknown": if taken.unknown { "1" } else { "0" },
            "lastupdate": p.last_update.to_string(),
        }),
    );
    let tag: Vec<Value> = meta::tags(p.seed, p.id)
        .iter()
        .enumerate()
        .map(|(i, t)| {
            json!({
                "id": format!("{}-{}-{}", p.nsid().split('@').next().unwrap_or(""), p.id, 1000 + i),
                "author": p.nsid(),
                "authorname": p.username(),
                "raw": t,
                "_content": t,
                "machine_tag": 0,
            })
        })
        .collect();
    put("tags", json!({ "tag": tag }));
    if let Some(g) = meta::geo(p.seed, p.id) {
        put(
            "location",
            json!({
                "latitude": format!("{:.6}", g.latitude),
                "longitude": format!("{:.6}", g.longitude),
                "accuracy": g.accuracy.to_string(),
                "context": "0",
                "place_id": g.place_id,
                "woeid": g.woeid,
            }),
        );
    }
    put("views", json!("1234"));
    put("media", json!(if p.video { "video" } else { "photo" }));
    put(
        "comments",
        json!({ "_content": p.comments.len().to_string() }),
    );
    put(
        "urls",
        json!({ "url": [{ "type": "photopage", "_content": photopage(p) }] }),
    );
    ok("photo", Value::Object(m))
}

/// Commenters: (nsid, username, realname, path_alias, iconserver, iconfarm).
const AUTHORS: &[(&str, &str, &str, &str, &str, u32)] = &[
    (
        "35591378@N03",
        "Tuấn Nguyễn",
        "Nguyễn Anh Tuấn",
        "tuannguyen",
        "7372",
        8,
    ),
    ("12345678@N00", "someone", "", "", "0", 0),
    (
        "98765432@N05",
        "Marie Dupont",
        "Marie Dupont",
        "mariedupont",
        "3225",
        4,
    ),
    ("24681357@N02", "John Smith", "John Smith", "", "1462", 2),
];

/// A comment as Flickr lists it.
pub struct CommentOut {
    pub id: String,
    pub author: &'static str,
    pub authorname: &'static str,
    pub realname: &'static str,
    pub path_alias: &'static str,
    pub iconserver: &'static str,
    pub iconfarm: u32,
    pub datecreate: i64,
    pub permalink: String,
    pub text: Text,
}

/// The comments of a photo with their Flickr fields (ids, authors, permalinks).
pub fn comments_of(seed: u64, p: &Photo) -> Vec<CommentOut> {
    p.comments
        .iter()
        .zip(&p.comment_dates)
        .enumerate()
        .map(|(k, (c, &date))| {
            let mut rng = Rng::new(&[seed, p.id, k as u64]);
            let (author, name, real, alias, icon, farm) =
                AUTHORS[rng.below(AUTHORS.len() as u64) as usize];
            let tail = format!("72157{:012}", rng.below(1_000_000_000_000));
            CommentOut {
                id: format!(
                    "{}-{}-{tail}",
                    p.nsid().split('@').next().unwrap_or(""),
                    p.id
                ),
                author,
                authorname: name,
                realname: real,
                path_alias: alias,
                iconserver: icon,
                iconfarm: farm,
                datecreate: date,
                permalink: format!("{}#comment{tail}", photopage(p)),
                text: c.clone(),
            }
        })
        .collect()
}

fn get_comments(state: &State, p: &Photo) -> Value {
    let id = p.id.to_string();
    if p.comments.is_empty() {
        return ok("comments", json!({ "photo_id": id }));
    }
    let comment: Vec<Value> = comments_of(state.seed, p)
        .into_iter()
        .map(|c| {
            json!({
                "id": c.id,
                "author": c.author,
                "author_is_deleted": 0,
                "authorname": c.authorname,
                "iconserver": c.iconserver,
                "iconfarm": c.iconfarm,
                "datecreate": c.datecreate.to_string(),
                "permalink": c.permalink,
                "path_alias": c.path_alias,
                "realname": c.realname,
                "_content": c.text.wire(),
            })
        })
        .collect();
    ok("comments", json!({ "photo_id": id, "comment": comment }))
}

fn photosets_get_list(state: &State, params: &Params) -> Value {
    let Some(user) = param(params, "user_id").and_then(data::user_by_nsid) else {
        return fail(1, "User not found");
    };
    let seed = state.seed;
    let (o, visible) = state.public_listing(user);
    let defs = sets::sets(seed, user);
    let all: Vec<Value> = defs
        .iter()
        .filter_map(|s| {
            let m = s.members(seed, &visible);
            let primary = *m.first()?;
            let videos = m.iter().filter(|&&k| data::is_video(seed, k)).count();
            let photos = m.len() - videos;
            let secret = o.photo(seed, 1, primary).secret;
            Some(json!({
                "id": s.id,
                "owner": USERS[user].nsid,
                "username": USERS[user].username,
                "primary": primary.id().to_string(),
                "secret": secret,
                "server": "65535",
                "farm": 66,
                "count_views": "0",
                "count_comments": "0",
                "count_photos": photos,
                "count_videos": videos,
                "photos": photos,
                "videos": videos,
                "title": { "_content": enc(s.title) },
                "description": { "_content": enc(s.description) },
                "can_comment": 0,
                "date_create": s.date_create.to_string(),
                "date_update": s.date_update().to_string(),
                "needs_interstitial": 0,
                "visibility_can_see_set": 1,
            }))
        })
        .collect();
    let total = all.len();
    // Without per_page, every set on one page (as Flickr does); at most 500 a page.
    let per_page = if param(params, "per_page").is_some() {
        number(params, "per_page", 500).min(500)
    } else {
        total.max(1)
    };
    let page = number(params, "page", 1);
    let start = (page - 1).saturating_mul(per_page).min(total);
    let end = start.saturating_add(per_page).min(total);
    ok(
        "photosets",
        json!({
            "page": page,
            "pages": total.div_ceil(per_page).max(1),
            "perpage": per_page,
            "total": total,
            "photoset": all[start..end].to_vec(),
        }),
    )
}

fn photosets_get_photos(state: &State, params: &Params) -> Value {
    let seed = state.seed;
    let Some(set) = param(params, "photoset_id").and_then(|id| sets::find(seed, id.trim())) else {
        return fail(1, "Photoset not found");
    };
    if let Some(u) = param(params, "user_id") {
        if data::user_by_nsid(u) != Some(set.user) {
            return fail(1, "Photoset not found");
        }
    }
    let (o, visible) = state.public_listing(set.user);
    let members = set.members(seed, &visible);
    let Some(&primary) = members.first() else {
        return fail(1, "Photoset not found");
    };
    let per_page = number(params, "per_page", 500).min(500);
    let page = number(params, "page", 1);
    let extras = extras_of(params);
    let total = members.len();
    let start = (page - 1).saturating_mul(per_page).min(total);
    let end = start.saturating_add(per_page).min(total);
    let photo: Vec<Value> = members[start..end]
        .iter()
        .map(|&k| {
            let mut v = listing_item(state, &o.photo(seed, state.image_kb, k), &extras);
            if let Some(m) = v.as_object_mut() {
                m.remove("owner");
                m.insert(
                    "isprimary".into(),
                    json!(if k == primary { "1" } else { "0" }),
                );
            }
            v
        })
        .collect();
    ok(
        "photoset",
        json!({
            "id": set.id,
            "primary": primary.id().to_string(),
            "owner": USERS[set.user].nsid,
            "ownername": USERS[set.user].username,
            "photo": photo,
            "page": page,
            "per_page": per_page,
            "perpage": per_page,
            "pages": total.div_ceil(per_page),
            "title": enc(set.title),
            "total": total.to_string(),
        }),
    )
}
