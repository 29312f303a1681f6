//! The REST endpoint `/services/rest/`: parameter parsing, call counting, faults, and the
//! Flickr methods with Flickr's JSON shapes (strings and numbers mixed as Flickr does).

use super::data::{self, Photo, Rng, USERS};
use super::faults::Fault;
use super::server::{self, param, Body, State};
use super::text::encode_entities as enc;
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

fn get_photos(state: &State, params: &Params) -> Value {
    let Some(user) = param(params, "user_id").and_then(data::user_by_nsid) else {
        return fail(2, "Unknown user");
    };
    let per_page = number(params, "per_page", 100).min(500);
    let page = number(params, "page", 1);
    let extras: HashSet<&str> = param(params, "extras")
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    let total = state.counts()[user];
    let pages = total.div_ceil(per_page);
    let start = (page - 1).saturating_mul(per_page).min(total);
    let end = start.saturating_add(per_page).min(total);
    let photo: Vec<Value> = (start..end)
        .map(|pos| {
            listing_item(
                state,
                &state.photo_at(user, (total - 1 - pos) as u64),
                &extras,
            )
        })
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
    put("title", json!(enc(&p.title.content)));
    put("ispublic", json!(1));
    put("isfriend", json!(0));
    put("isfamily", json!(0));
    if extras.contains("description") {
        put(
            "description",
            json!({ "_content": enc(&p.description.content) }),
        );
    }
    if extras.contains("date_upload") {
        put("dateupload", json!(p.date_upload.to_string()));
    }
    if extras.contains("last_update") {
        put("lastupdate", json!(p.last_update.to_string()));
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
    put("title", json!({ "_content": enc(&p.title.content) }));
    put(
        "description",
        json!({ "_content": enc(&p.description.content) }),
    );
    put(
        "visibility",
        json!({ "ispublic": 1, "isfriend": 0, "isfamily": 0 }),
    );
    put(
        "dates",
        json!({
            "posted": p.date_upload.to_string(),
            "taken": data::datetime(p.date_upload),
            "takengranularity": 0,
            "takenunknown": "1",
            "lastupdate": p.last_update.to_string(),
        }),
    );
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

const AUTHORS: &[(&str, &str)] = &[
    ("35591378@N03", "Tuấn Nguyễn"),
    ("12345678@N00", "someone"),
    ("98765432@N05", "Marie Dupont"),
    ("24681357@N02", "John Smith"),
];

fn get_comments(state: &State, p: &Photo) -> Value {
    let id = p.id.to_string();
    if p.comments.is_empty() {
        return ok("comments", json!({ "photo_id": id }));
    }
    let comment: Vec<Value> = p
        .comments
        .iter()
        .enumerate()
        .map(|(k, c)| {
            let mut rng = Rng::new(&[state.seed, p.id, k as u64]);
            let (author, name) = AUTHORS[rng.below(AUTHORS.len() as u64) as usize];
            let cid = format!(
                "{}-{}-72157{:012}",
                p.nsid().split('@').next().unwrap_or(""),
                id,
                rng.below(1_000_000_000_000)
            );
            json!({
                "id": cid,
                "author": author,
                "author_is_deleted": 0,
                "authorname": name,
                "datecreate": (p.date_upload + 86_400 * (k as i64 + 1)).to_string(),
                "permalink": format!("{}#comment{}", photopage(p), cid),
                "_content": enc(&c.content),
            })
        })
        .collect();
    ok("comments", json!({ "photo_id": id, "comment": comment }))
}
