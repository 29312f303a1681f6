//! The data Flickr returns, parsed leniently from JSON values: numbers that arrive as strings
//! or numbers, `_content` wrappers, missing keys (defaults), a missing `comment` list (no
//! comments), a missing `photo` list (an empty page). Text has its HTML entities decoded.

use super::error::FlickrError;
use super::html::{decode_entities, plain_text};
use crate::photo::{best_size, image_ext, Comment, Photo, Size};
use serde_json::Value;

/// The resolved owner of a photostream.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FlickrUser {
    pub user_id: String,
    pub username: String,
}

impl FlickrUser {
    /// From a findByUsername / lookupUser response (the whole body or its `user` object).
    pub fn from_json(v: &Value) -> Result<FlickrUser, FlickrError> {
        let u = if v.get("user").is_some() {
            &v["user"]
        } else {
            v
        };
        let user_id = text(&u["nsid"])
            .filter(|s| !s.is_empty())
            .or_else(|| text(&u["id"]))
            .filter(|s| !s.is_empty())
            .ok_or_else(|| FlickrError::InvalidResponse("no user id in the answer".into()))?;
        let username = text(&u["username"]).unwrap_or_default();
        Ok(FlickrUser { user_id, username })
    }
}

/// Listing suffixes, best first, with getSizes' labels.
pub const URL_SUFFIXES: &[(&str, &str)] = &[
    ("o", "Original"),
    ("6k", "X-Large 6K"),
    ("5k", "X-Large 5K"),
    ("4k", "X-Large 4K"),
    ("3k", "X-Large 3K"),
    ("k", "Large 2048"),
    ("h", "Large 1600"),
    ("l", "Large"),
    ("c", "Medium 800"),
    ("z", "Medium 640"),
];

/// A photo as `flickr.people.getPhotos` lists it with our extras: the listing's facts, its
/// best size (from the `url_*` extras) and nothing cached yet.
pub fn listed_photo(p: &Value) -> Option<Photo> {
    let id = text(&p["id"]).filter(|s| !s.is_empty())?;
    let media = text(&p["media"])
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "photo".into());
    let sizes: Vec<Size> = URL_SUFFIXES
        .iter()
        .filter_map(|(suffix, label)| {
            let url = text(&p[format!("url_{suffix}")]).filter(|u| !u.is_empty())?;
            Some(Size {
                label: label.to_string(),
                width: num(&p[format!("width_{suffix}")]).unwrap_or(0).max(0) as u32,
                height: num(&p[format!("height_{suffix}")]).unwrap_or(0).max(0) as u32,
                url,
                media: "photo".into(),
            })
        })
        .collect();
    let best = best_size(&sizes).cloned();
    let original_format = text(&p["originalformat"]).filter(|s| !s.is_empty());
    let ext = image_ext(&media, best.as_ref(), original_format.as_deref());
    Some(Photo {
        secret: text(&p["secret"]).unwrap_or_default(),
        server: text(&p["server"]).unwrap_or_default(),
        title: decode_entities(&text(&p["title"]).unwrap_or_default()),
        description: decode_entities(&text(&p["description"]).unwrap_or_default()),
        date_upload: num(&p["dateupload"]).unwrap_or(0),
        last_update: num(&p["lastupdate"]).unwrap_or(0),
        media,
        original_format,
        count_comments: num(&p["count_comments"]).unwrap_or(0).max(0) as u32,
        best,
        ext,
        date_taken: text(&p["datetaken"]).filter(|s| !s.is_empty()),
        taken_granularity: num(&p["datetakengranularity"]).unwrap_or(0),
        taken_unknown: num(&p["datetakenunknown"]).unwrap_or(0) != 0,
        tags: text(&p["tags"]).unwrap_or_default(),
        ..Photo::listed(id)
    })
}

/// One page of a listing.
#[derive(Clone, Debug)]
pub struct PhotoPage {
    pub photos: Vec<Photo>,
    pub page: u32,
    pub page_count: u32,
    pub per_page: u32,
    pub photo_count: u64,
}

impl PhotoPage {
    pub fn from_json(v: &Value) -> Result<PhotoPage, FlickrError> {
        let p = v
            .get("photos")
            .ok_or_else(|| FlickrError::InvalidResponse("no photos in the listing".into()))?;
        let photos = p["photo"]
            .as_array()
            .map(|a| a.iter().filter_map(listed_photo).collect())
            .unwrap_or_default();
        Ok(PhotoPage {
            photos,
            page: num(&p["page"]).unwrap_or(1).max(0) as u32,
            page_count: num(&p["pages"]).unwrap_or(0).max(0) as u32,
            per_page: num(&p["perpage"])
                .or_else(|| num(&p["per_page"]))
                .unwrap_or(0)
                .max(0) as u32,
            photo_count: num(&p["total"]).unwrap_or(0).max(0) as u64,
        })
    }

    /// The classic triple: (photos, page count, photo count).
    pub fn into_parts(self) -> (Vec<Photo>, u32, u64) {
        (self.photos, self.page_count, self.photo_count)
    }
}

/// One photoset (album) of `flickr.photosets.getList`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Photoset {
    pub id: String,
    pub title: String,
    pub description: String,
    /// Photos and videos.
    pub count: u64,
    pub date_update: i64,
}

/// One page of `flickr.photosets.getList`: the sets and the page count.
pub fn photosets_from_json(v: &Value) -> Result<(Vec<Photoset>, u32), FlickrError> {
    let s = v
        .get("photosets")
        .ok_or_else(|| FlickrError::InvalidResponse("no photosets in the answer".into()))?;
    let sets = s["photoset"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|p| {
                    let count = |a: &str, b: &str| num(&p[a]).or_else(|| num(&p[b])).unwrap_or(0);
                    Some(Photoset {
                        id: text(&p["id"]).filter(|s| !s.is_empty())?,
                        title: decode_entities(&text(&p["title"]).unwrap_or_default()),
                        description: decode_entities(&text(&p["description"]).unwrap_or_default()),
                        count: (count("count_photos", "photos") + count("count_videos", "videos"))
                            .max(0) as u64,
                        date_update: num(&p["date_update"]).unwrap_or(0),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    Ok((sets, num(&s["pages"]).unwrap_or(1).max(1) as u32))
}

/// One page of `flickr.photosets.getPhotos`: the photo ids in the set's order, and the page
/// count.
pub fn photoset_photos_from_json(v: &Value) -> Result<(Vec<String>, u32), FlickrError> {
    let s = v
        .get("photoset")
        .ok_or_else(|| FlickrError::InvalidResponse("no photoset in the answer".into()))?;
    let ids = s["photo"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|p| text(&p["id"]).filter(|s| !s.is_empty()))
                .collect()
        })
        .unwrap_or_default();
    Ok((ids, num(&s["pages"]).unwrap_or(1).max(1) as u32))
}

/// `flickr.photos.getSizes`.
pub fn sizes_from_json(v: &Value) -> Result<Vec<Size>, FlickrError> {
    let s = v
        .get("sizes")
        .ok_or_else(|| FlickrError::InvalidResponse("no sizes in the answer".into()))?;
    Ok(s["size"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|z| {
                    Some(Size {
                        label: text(&z["label"]).unwrap_or_default(),
                        width: num(&z["width"]).unwrap_or(0).max(0) as u32,
                        height: num(&z["height"]).unwrap_or(0).max(0) as u32,
                        url: text(&z["source"]).filter(|u| !u.is_empty())?,
                        media: text(&z["media"])
                            .filter(|m| !m.is_empty())
                            .unwrap_or_else(|| "photo".into()),
                    })
                })
                .collect()
        })
        .unwrap_or_default())
}

/// `flickr.photos.getInfo`.
#[derive(Clone, Debug, PartialEq)]
pub struct PhotoInfo {
    pub id: String,
    pub title: String,
    pub description: String,
    pub comment_count: u32,
    pub date_upload: i64,
    pub last_update: i64,
    pub media: String,
    pub original_format: Option<String>,
    pub page_url: Option<String>,
}

impl PhotoInfo {
    pub fn from_json(v: &Value) -> Result<PhotoInfo, FlickrError> {
        let p = v
            .get("photo")
            .ok_or_else(|| FlickrError::InvalidResponse("no photo in the answer".into()))?;
        let page_url = p["urls"]["url"].as_array().and_then(|urls| {
            urls.iter()
                .find(|u| u["type"] == "photopage")
                .and_then(|u| text(&u["_content"]))
        });
        Ok(PhotoInfo {
            id: text(&p["id"]).unwrap_or_default(),
            title: decode_entities(&text(&p["title"]).unwrap_or_default()),
            description: decode_entities(&text(&p["description"]).unwrap_or_default()),
            comment_count: num(&p["comments"]).unwrap_or(0).max(0) as u32,
            date_upload: num(&p["dateuploaded"])
                .or_else(|| num(&p["dates"]["posted"]))
                .unwrap_or(0),
            last_update: num(&p["dates"]["lastupdate"]).unwrap_or(0),
            media: text(&p["media"])
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "photo".into()),
            original_format: text(&p["originalformat"]).filter(|s| !s.is_empty()),
            page_url,
        })
    }
}

/// `flickr.photos.comments.getList`; no `comment` key means no comments.
pub fn comments_from_json(v: &Value) -> Result<Vec<Comment>, FlickrError> {
    let c = v
        .get("comments")
        .ok_or_else(|| FlickrError::InvalidResponse("no comments in the answer".into()))?;
    Ok(c["comment"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|x| {
                    let html = text(&x["_content"]).unwrap_or_default();
                    Comment {
                        id: text(&x["id"]).unwrap_or_default(),
                        author: text(&x["author"]).unwrap_or_default(),
                        author_name: decode_entities(&text(&x["authorname"]).unwrap_or_default()),
                        date_create: num(&x["datecreate"]).unwrap_or(0),
                        content: plain_text(&html),
                        permalink: text(&x["permalink"]).unwrap_or_default(),
                        html,
                    }
                })
                .collect()
        })
        .unwrap_or_default())
}

/// A number that may arrive as a JSON number or a string (or `{"_content": ...}`).
pub(crate) fn num(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s
            .trim()
            .parse::<i64>()
            .ok()
            .or_else(|| s.trim().parse::<f64>().ok().map(|f| f as i64)),
        Value::Object(o) => o.get("_content").and_then(num),
        _ => None,
    }
}

/// Text that may arrive bare or as `{"_content": ...}` (numbers become text).
pub(crate) fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Object(o) => o.get("_content").and_then(text),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn listing_with_strings_for_numbers_and_missing_keys() {
        let v = json!({"photos": {"page": 1, "pages": "3", "perpage": 500, "total": "1200", "photo": [
            {"id": "5001", "secret": "ab", "server": "65535", "title": "Tom &amp; Jerry",
             "description": {"_content": "Sài Gòn &quot;xưa&quot;"}, "dateupload": "1262304000",
             "lastupdate": 1262304100, "media": "photo", "originalformat": "png",
             "o_width": "4000", "o_height": 3000, "count_comments": "2",
             "url_o": "http://x/5001_o.png", "width_o": "4000", "height_o": 3000,
             "url_k": "http://x/5001_k.jpg", "width_k": 2048, "height_k": "1536"},
            {"id": "5000"},
            {"title": "no id: skipped"}
        ]}, "stat": "ok"});
        let p = PhotoPage::from_json(&v).unwrap();
        assert_eq!(
            (p.page, p.page_count, p.per_page, p.photo_count),
            (1, 3, 500, 1200)
        );
        assert_eq!(p.photos.len(), 2);
        let a = &p.photos[0];
        assert_eq!(a.title, "Tom & Jerry");
        assert_eq!(a.description, "Sài Gòn \"xưa\"");
        assert_eq!(
            (a.date_upload, a.last_update, a.count_comments),
            (1262304000, 1262304100, 2)
        );
        assert_eq!(a.best.as_ref().unwrap().label, "Original");
        assert_eq!(a.best.as_ref().unwrap().width, 4000);
        assert_eq!(a.ext, "png");
        let b = &p.photos[1];
        assert_eq!(
            (b.media.as_str(), b.count_comments, b.best.as_ref()),
            ("photo", 0, None)
        );
        let empty =
            PhotoPage::from_json(&json!({"photos": {"page": 9, "pages": 3, "total": 1200}}))
                .unwrap();
        assert!(empty.photos.is_empty());
    }

    #[test]
    fn sizes_prefer_video_and_the_largest() {
        let v = json!({"sizes": {"size": [
            {"label": "Large", "width": "1024", "height": 768, "source": "http://x/l.jpg", "media": "photo"},
            {"label": "Original", "width": 4000, "height": "3000", "source": "http://x/o.jpg", "media": "photo"},
            {"label": "Site MP4", "width": 640, "height": 360, "source": "http://x/s.mp4", "media": "video"},
            {"label": "Video Original", "width": 1280, "height": 720, "source": "http://x/v.mp4", "media": "video"}
        ]}, "stat": "ok"});
        let s = sizes_from_json(&v).unwrap();
        assert_eq!(best_size(&s).unwrap().label, "Video Original");
        assert_eq!(best_size(&s[..2]).unwrap().label, "Original");
        assert_eq!(best_size(&[]), None);
    }

    #[test]
    fn comments_key_may_be_missing() {
        let none =
            comments_from_json(&json!({"comments": {"photo_id": "1"}, "stat": "ok"})).unwrap();
        assert!(none.is_empty());
        let some = comments_from_json(&json!({"comments": {"photo_id": "1", "comment": [
            {"id": "c1", "author": "1@N00", "authorname": "a", "datecreate": "1300000000", "_content": "Cám ơn bạn &amp; chúc vui"}
        ]}})).unwrap();
        assert_eq!(some[0].content, "Cám ơn bạn & chúc vui");
        assert_eq!(some[0].date_create, 1300000000);
    }

    #[test]
    fn users_and_info() {
        let u = FlickrUser::from_json(&json!({"user": {"id": "13476480@N07", "nsid": "13476480@N07", "username": {"_content": "manhhai"}}, "stat": "ok"})).unwrap();
        assert_eq!(
            u,
            FlickrUser {
                user_id: "13476480@N07".into(),
                username: "manhhai".into()
            }
        );
        assert!(FlickrUser::from_json(&json!({"stat": "ok"})).is_err());
        let i = PhotoInfo::from_json(&json!({"photo": {"id": "5", "dateuploaded": "100", "title": {"_content": "a &amp; b"},
            "description": {"_content": ""}, "dates": {"lastupdate": "200"}, "comments": {"_content": "3"},
            "urls": {"url": [{"type": "photopage", "_content": "https://www.flickr.com/photos/u/5/"}]}}})).unwrap();
        assert_eq!(
            (
                i.title.as_str(),
                i.comment_count,
                i.date_upload,
                i.last_update
            ),
            ("a & b", 3, 100, 200)
        );
        assert_eq!(
            i.page_url.as_deref(),
            Some("https://www.flickr.com/photos/u/5/")
        );
    }
}
