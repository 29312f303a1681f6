//! The control endpoints tests, the demo and benchmarks drive the emulator with (all GET with
//! query parameters, JSON answers, 400 on bad parameters, 404 on unknown users where a user is
//! the subject): `/_stats`, `/_reset_stats`, `/_faults`, `/_expected`, `/_grow`, and the
//! stream changes `/_delete`, `/_insert`, `/_edit`, `/_replace`, `/_private`, `/_ties`,
//! `/_markup`, plus `/_sets` (the user's photosets and members).

use super::data::{self, Key, USERS};
use super::overlay::{EditWhat, Where};
use super::server::{json, lock, param, parse_pairs, text, Body, State};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use serde_json::{json, Value};
use std::sync::Arc;

type Params = [(String, String)];

/// Why a control request failed: a bad parameter (400).
enum Bad {
    Request(String),
}

fn bad(msg: String) -> Bad {
    Bad::Request(msg)
}

/// The `user` parameter (default manhhai) as a user index.
fn user(params: &Params) -> Result<(usize, &str), Bad> {
    let name = param(params, "user").unwrap_or(USERS[0].username);
    data::user_by_name(name)
        .map(|u| (u, name))
        .ok_or_else(|| bad(format!("unknown user {name:?}")))
}

fn count(params: &Params, required: bool) -> Result<usize, Bad> {
    match param(params, "n").map(str::parse::<usize>) {
        Some(Ok(n)) => Ok(n),
        None if !required => Ok(0),
        _ => Err(bad("n: expected a number of photos".into())),
    }
}

fn rate(params: &Params) -> Result<f64, Bad> {
    param(params, "rate")
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|r| (0.0..=1.0).contains(r))
        .ok_or_else(|| bad("rate: expected a number between 0 and 1".into()))
}

/// `ids=a,b` as keys of `user`'s photos; None when absent.
fn ids(params: &Params, user: usize) -> Result<Option<Vec<Key>>, Bad> {
    let Some(list) = param(params, "ids") else {
        return Ok(None);
    };
    let mut keys = Vec::new();
    for id in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        match data::key_of(id) {
            Some(k) if k.user == user => keys.push(k),
            _ => return Err(bad(format!("ids: {id:?} is not a photo of this user"))),
        }
    }
    Ok(Some(keys))
}

fn id_list(keys: &[Key]) -> Vec<String> {
    keys.iter().map(|k| k.id().to_string()).collect()
}

pub async fn handle(state: Arc<State>, req: &Request<Incoming>) -> Response<Body> {
    let params = parse_pairs(req.uri().query().unwrap_or(""));
    let path = req.uri().path();
    let r = match path {
        "/_stats" => Ok(json(StatusCode::OK, &state.stats())),
        "/_reset_stats" => {
            state.reset_stats();
            Ok(json(StatusCode::OK, &state.stats()))
        }
        "/_faults" => {
            let mut f = lock(&state.faults);
            let mut next = f.clone();
            match next.apply_params(&params) {
                Ok(()) => {
                    *f = next.clone();
                    Ok(json(StatusCode::OK, &next))
                }
                Err(e) => Err(bad(e)),
            }
        }
        "/_expected" => Ok(expected(state.clone(), &params).await),
        "/_grow" => grow(&state, &params),
        "/_delete" | "/_insert" | "/_edit" | "/_replace" => change(&state, path, &params),
        "/_private" | "/_ties" | "/_markup" => rates(&state, path, &params),
        "/_sets" => sets(&state, &params),
        _ => Ok(text(
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "not found\n",
        )),
    };
    r.unwrap_or_else(|e| match e {
        Bad::Request(msg) => json(StatusCode::BAD_REQUEST, &json!({ "error": msg })),
    })
}

async fn expected(state: Arc<State>, params: &Params) -> Response<Body> {
    let user = param(params, "user")
        .unwrap_or(USERS[0].username)
        .to_string();
    // Hashing every best image of a big stream takes a while: keep it off the workers.
    let u = user.clone();
    match tokio::task::spawn_blocking(move || state.expected(&u)).await {
        Ok(Some(e)) => json(StatusCode::OK, &e),
        Ok(None) => json(
            StatusCode::NOT_FOUND,
            &json!({ "error": format!("unknown user {user:?}") }),
        ),
        Err(e) => json(
            StatusCode::INTERNAL_SERVER_ERROR,
            &json!({ "error": e.to_string() }),
        ),
    }
}

fn grow(state: &State, params: &Params) -> Result<Response<Body>, Bad> {
    let name = param(params, "user").unwrap_or(USERS[0].username);
    let n = count(params, true)?;
    match state.grow(name, n) {
        Some(total) => Ok(json(
            StatusCode::OK,
            &json!({ "username": name, "total": total }),
        )),
        None => Err(bad(format!("unknown user {name:?}"))),
    }
}

/// `/_delete`, `/_insert`, `/_edit`, `/_replace`.
fn change(state: &State, path: &str, params: &Params) -> Result<Response<Body>, Bad> {
    let (user, name) = user(params)?;
    let keys = ids(params, user)?;
    let n = count(params, keys.is_none())?;
    let seed = state.seed;
    let at = match param(params, "where") {
        None => Where::Random,
        Some(w) => Where::parse(w)
            .ok_or_else(|| bad("where: expected head, middle, tail or random".into()))?,
    };
    let what = match param(params, "what") {
        None => None,
        Some(list) => {
            let mut w = EditWhat::default();
            for part in list.split(',') {
                match part.trim() {
                    "title" => w.title = true,
                    "description" => w.description = true,
                    "comment" => w.comment = true,
                    other => {
                        return Err(bad(format!(
                            "what: {other:?} is not title, description or comment"
                        )))
                    }
                }
            }
            Some(w)
        }
    };
    let (key_name, changed, total) = state.with_world(|w| {
        let (mut rng, now) = w.next_op(seed);
        let o = &mut w.users[user];
        let (k, changed) = match path {
            "/_delete" => ("deleted", o.delete(seed, keys, n, at, &mut rng)),
            "/_insert" => ("inserted", o.insert(n, &mut rng)),
            "/_edit" => ("edited", o.edit(seed, keys, n, what, now, &mut rng)),
            _ => ("replaced", o.replace(seed, keys, n, now, &mut rng)),
        };
        (k, changed, o.listing().len())
    });
    let mut v = json!({ "username": name, "total": total });
    v[key_name] = Value::from(id_list(&changed));
    Ok(json(StatusCode::OK, &v))
}

/// `/_private`, `/_ties`, `/_markup`: set a user's rate; answers the photos it applies to
/// (for ties: candidates; videos never tie).
fn rates(state: &State, path: &str, params: &Params) -> Result<Response<Body>, Bad> {
    let (user, name) = user(params)?;
    let r = rate(params)?;
    let seed = state.seed;
    let (o, listing) = state.with_world(|w| {
        let o = &mut w.users[user];
        match path {
            "/_private" => o.private_rate = r,
            "/_ties" => o.tie_rate = r,
            _ => o.markup_rate = r,
        }
        let l = o.listing();
        (o.clone(), l)
    });
    let mut v = json!({ "username": name, "rate": r, "total": listing.len() });
    if path == "/_private" {
        let ids: Vec<String> = listing
            .iter()
            .filter(|&&k| o.is_private(seed, k))
            .map(|k| k.id().to_string())
            .collect();
        v["private"] = Value::from(ids);
    }
    Ok(json(StatusCode::OK, &v))
}

fn sets(state: &State, params: &Params) -> Result<Response<Body>, Bad> {
    let (user, name) = user(params)?;
    let sets = state.sets_of(name).unwrap_or_default();
    Ok(json(
        StatusCode::OK,
        &json!({ "username": name, "user_id": USERS[user].nsid, "sets": sets }),
    ))
}
