//! The text corpus: titles, descriptions and comments in Vietnamese (with and without
//! diacritics), French and English, picked deterministically, plus Flickr's entity encoding,
//! comments carrying markup as Flickr serves it (links, bold, entities, line breaks) and the
//! plain text a client should store for them.

use super::data::Rng;

/// A generated text and the ISO 639-3 code of the language it was written in ("" when empty).
/// `content` is the plain text a client stores; `raw`, when set, is the exact wire form (with
/// markup), otherwise the wire form is `content` entity-encoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Text {
    pub content: String,
    pub lang: &'static str,
    pub raw: Option<String>,
}

impl Text {
    fn new(content: String, lang: &'static str) -> Text {
        let lang = if content.is_empty() { "" } else { lang };
        Text {
            content,
            lang,
            raw: None,
        }
    }

    /// What Flickr sends for this text (`_content`, `title`).
    pub fn wire(&self) -> String {
        self.raw
            .clone()
            .unwrap_or_else(|| encode_entities(&self.content))
    }
}

/// Comments as Flickr returns them with markup: links become `<a href=... rel="noreferrer
/// nofollow">`, Flickr people links `[https://www.flickr.com/photos/x]`, quotes `&quot;`,
/// line breaks stay raw newlines. (wire form, language)
const MARKED_COMMENTS: &[(&str, &str)] = &[
    (
        "Xem thêm ảnh Sài Gòn xưa tại <a href=\"https://www.flickr.com/photos/manhhai/albums\" rel=\"noreferrer nofollow\">www.flickr.com/photos/manhhai/albums</a>",
        "vie",
    ),
    (
        "[https://www.flickr.com/photos/lunaryuna] Merci beaucoup !\nC&#39;est la rue Catinat, vers 1965.",
        "fra",
    ),
    (
        "<b>Great</b> shot &amp; thanks for sharing.\nMy father called it &quot;the Pearl of the Orient&quot;.",
        "eng",
    ),
    (
        "Nhà tôi ở ngay đầu hẻm &lt;số 12&gt;, nhìn lại thấy <i>bồi hồi</i> quá.\n\nCám ơn bạn!",
        "vie",
    ),
    (
        "Source: <a href=\"https://gallica.bnf.fr/\" rel=\"noreferrer nofollow\">gallica.bnf.fr</a> &mdash; BnF",
        "fra",
    ),
];

/// A comment with markup (see MARKED_COMMENTS).
pub fn marked_comment(rng: &mut Rng) -> Text {
    let (raw, lang) = MARKED_COMMENTS[rng.below(MARKED_COMMENTS.len() as u64) as usize];
    Text {
        content: plain_text(raw),
        lang,
        raw: Some(raw.to_string()),
    }
}

/// The plain text of a wire text: tags removed (their inner text kept), `<br>` as a newline,
/// entities decoded (named ones Flickr uses, and numeric ones), newlines kept.
pub fn plain_text(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(i) = rest.find(['<', '&']) {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        if rest.starts_with('<') {
            match rest.find('>') {
                Some(end) => {
                    let tag = rest[1..end].trim().to_ascii_lowercase();
                    if tag == "br" || tag.starts_with("br ") || tag.starts_with("br/") {
                        out.push('\n');
                    }
                    rest = &rest[end + 1..];
                }
                None => {
                    out.push_str(rest);
                    rest = "";
                }
            }
        } else {
            let end = rest.find(';').filter(|&e| e <= 10);
            let decoded = end.and_then(|e| decode_entity(&rest[1..e]).map(|c| (c, e)));
            match decoded {
                Some((c, e)) => {
                    out.push(c);
                    rest = &rest[e + 1..];
                }
                None => {
                    out.push('&');
                    rest = &rest[1..];
                }
            }
        }
    }
    out.push_str(rest);
    out
}

fn decode_entity(name: &str) -> Option<char> {
    Some(match name {
        "amp" => '&',
        "quot" => '"',
        "apos" => '\'',
        "lt" => '<',
        "gt" => '>',
        "nbsp" => '\u{a0}',
        "mdash" => '\u{2014}',
        "ndash" => '\u{2013}',
        _ => {
            let n = name.strip_prefix('#')?;
            let code = match n.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => n.parse().ok()?,
            };
            char::from_u32(code)?
        }
    })
}

const VIE_CITIES: &[&str] = &[
    "SAIGON",
    "HÀ NỘI",
    "Hà Nội",
    "Huế",
    "Sài Gòn",
    "Đà Nẵng",
    "Chợ Lớn",
];
const VIE_PLACES: &[&str] = &[
    "Nhà rồng",
    "Phố Hàng Đào",
    "Chợ Bến Thành",
    "Nhà thờ Đức Bà",
    "Cầu Long Biên",
    "Hồ Gươm",
    "Đường Catinat",
    "Dinh Độc Lập",
    "Chùa Một Cột",
    "Bến sông Sài Gòn",
    "Phố Tràng Tiền",
    "Bưu điện trung tâm",
    "Ga Hàng Cỏ",
    "Cầu Trường Tiền",
    "Bến xe Lục Tỉnh",
];
const ASCII_CITIES: &[&str] = &[
    "Sai Gon",
    "Ha Noi",
    "Hue",
    "Da Nang",
    "Hai Phong",
    "Cho Lon",
];
const ASCII_PLACES: &[&str] = &[
    "Cho Ben Thanh",
    "Nha Tho Duc Ba",
    "Cau Long Bien",
    "Ho Guom",
    "Pho Hang Dao",
    "Dinh Doc Lap",
    "Buu dien Sai Gon",
    "Ben Nha Rong",
    "Duong Le Loi",
];
const FRA_CITIES: &[&str] = &["Saïgon", "Hanoï", "Hué", "Haïphong", "Cholon", "Tourane"];
const FRA_PLACES: &[&str] = &[
    "La cathédrale Saint-Joseph",
    "Le marché central",
    "Le théâtre municipal",
    "La rue Catinat",
    "Le pont Doumer",
    "Le Petit Lac",
    "L'hôtel de ville",
    "Le palais du Gouverneur général",
    "Les quais de l'arroyo chinois",
    "Le port de commerce",
];
const ENG_CITIES: &[&str] = &["Saigon", "Hanoi", "Hue", "Da Nang", "Cholon", "Vung Tau"];
const ENG_PLACES: &[&str] = &[
    "Street vendors",
    "The Continental Palace hotel",
    "Cyclo drivers near the market",
    "The river front",
    "A busy intersection",
    "Students on bicycles",
    "The central post office",
    "Fishing boats at dawn",
    "Rice fields outside the city",
];

const VIE_SENTENCES: &[&str] = &[
    "Ảnh chụp đường phố Sài Gòn vào thập niên 1960, nhìn từ phía chợ Bến Thành về hướng bờ sông.",
    "Bộ sưu tập ảnh tư liệu về Hà Nội xưa, do một nhiếp ảnh gia người Pháp thực hiện trong những năm đầu thế kỷ.",
    "Người dân đi chợ buổi sáng, những gánh hàng rong và xe xích lô chờ khách bên con đường đông đúc.",
    "Nguồn ảnh: thư viện quốc gia, bản quyền thuộc về tác giả. Xin vui lòng ghi rõ nguồn khi sử dụng lại.",
    "Khung cảnh yên bình của một làng quê miền Bắc, với lũy tre xanh và những mái nhà tranh thấp thoáng.",
];
const FRA_SENTENCES: &[&str] = &[
    "Vue générale de la ville prise depuis le clocher de la cathédrale, au début du siècle dernier.",
    "Carte postale ancienne éditée à Hanoï, montrant la vie quotidienne des habitants près du marché.",
    "Photographie prise par un officier de marine lors de son séjour en Indochine, collection privée.",
    "Les pousse-pousse attendent les voyageurs devant la gare, sous une chaleur écrasante de l'après-midi.",
    "Collection « Indochine & Extrême-Orient », tirage d'époque sur papier albuminé, vers 1900.",
];
const ENG_SENTENCES: &[&str] = &[
    "A view of the main boulevard taken from the roof of the old hotel, showing traffic and pedestrians.",
    "Photo from a private collection, scanned from the original negative and restored for this archive.",
    "Everyday life along the river: boats unloading rice and fruit while children watch from the pier.",
    "Taken by an American serviceman during his tour, this picture shows the market on a busy Sunday morning.",
    "Scanned by the archive team & restored; please credit the source \"Manhhai collection\" when sharing.",
];

const VIE_COMMENTS: &[&str] = &[
    "Cám ơn bạn đã chia sẻ những bức ảnh quý giá này",
    "Ảnh đẹp quá, nhìn lại thấy nhớ Sài Gòn xưa ghê!",
    "Ngày xưa nhà tôi ở ngay góc đường này, nhìn lại thấy bồi hồi quá.",
    "Bức ảnh này được chụp vào khoảng năm nào vậy bạn?",
];
const FRA_COMMENTS: &[&str] = &[
    "Merci pour ce partage, quelle belle photo de l'époque",
    "Magnifique ! Mon grand-père vivait à Saïgon dans ces années-là.",
    "Très belle collection, bravo & merci pour votre travail de mémoire.",
    "On reconnaît bien la rue Catinat sur cette photo, avec ses terrasses.",
];
const ENG_COMMENTS: &[&str] = &[
    "Great photo, thanks for sharing this piece of history",
    "Amazing detail, I was there in 1968 & it looked exactly like this.",
    "Does anyone know the exact location of this building? I would love to visit it.",
    "Wonderful \"time machine\" picture, thank you for posting it!",
];

/// Titles containing characters Flickr serves entity-encoded (`&`, quotes, `<`, `>`), and a
/// slash (a file name cannot hold one as it is).
const SPECIAL_TITLES: &[(&str, &str)] = &[
    ("Sài Gòn {Y}/1975 - \"Bến Bạch Đằng\"", "vie"),
    ("Saigon & Cholon {Y}", "eng"),
    ("\"Hòn ngọc Viễn Đông\" - Sài Gòn {Y}", "vie"),
    ("L'église de Tân Định <vers {Y}>", "fra"),
    ("Tom & Jerry's café, Saigon {Y}", "eng"),
];

const EMOJI: &[&str] = &["📷", "🇻🇳", "❤️", "🏛️"];

fn pick<'a>(rng: &mut Rng, list: &[&'a str]) -> &'a str {
    list[rng.below(list.len() as u64) as usize]
}

fn year(rng: &mut Rng) -> String {
    (1890 + rng.below(86)).to_string()
}

fn sentences(lang: &str) -> &'static [&'static str] {
    match lang {
        "vie" => VIE_SENTENCES,
        "fra" => FRA_SENTENCES,
        _ => ENG_SENTENCES,
    }
}

/// A photo title: mostly Vietnamese and French, some English; a few long, with emoji,
/// with characters that get entity-encoded, or empty.
pub fn title(rng: &mut Rng) -> Text {
    let r = rng.below(100);
    let y = year(rng);
    let (mut s, lang) = match r {
        0 => return Text::new(String::new(), ""),
        1..=3 => {
            let (t, lang) = SPECIAL_TITLES[rng.below(SPECIAL_TITLES.len() as u64) as usize];
            (t.replace("{Y}", &y), lang)
        }
        4..=43 => {
            let city = pick(rng, VIE_CITIES);
            let place = pick(rng, VIE_PLACES);
            let s = match rng.below(4) {
                0 => format!("{city} {y} - {place}"),
                1 => format!("{place} năm {y}"),
                2 => format!("{city} xưa - {place}"),
                _ => format!("{place} - {city} {y}"),
            };
            (s, "vie")
        }
        44..=58 => {
            let city = pick(rng, ASCII_CITIES);
            let place = pick(rng, ASCII_PLACES);
            let s = match rng.below(2) {
                0 => format!("{city} xua - {place}"),
                _ => format!("{place} nam {y}"),
            };
            (s, "vie")
        }
        59..=83 => {
            let city = pick(rng, FRA_CITIES);
            let place = pick(rng, FRA_PLACES);
            let s = match rng.below(3) {
                0 => format!("{city} - {place}"),
                1 => format!("{place}, vers {y}"),
                _ => format!("Le marché de {city}, vers {y}"),
            };
            (s, "fra")
        }
        _ => {
            let city = pick(rng, ENG_CITIES);
            let place = pick(rng, ENG_PLACES);
            let s = match rng.below(2) {
                0 => format!("{place} in {city}, {y}"),
                _ => format!("{city} {y} - {place}"),
            };
            (s, "eng")
        }
    };
    let extra = rng.below(100);
    if extra < 3 {
        // A 300-character title: the short one followed by sentences in the same language.
        let pool = sentences(lang);
        let mut i = rng.below(pool.len() as u64) as usize;
        while s.chars().count() < 300 {
            s.push_str(" - ");
            s.push_str(pool[i % pool.len()]);
            i += 1;
        }
        s = s.chars().take(300).collect();
    } else if extra < 7 {
        s.push(' ');
        s.push_str(pick(rng, EMOJI));
    }
    Text::new(s, lang)
}

/// A description: about 30% empty, otherwise one or two sentences (80+ chars), usually in
/// the title's language.
pub fn description(rng: &mut Rng, title_lang: &str) -> Text {
    if rng.below(100) < 30 {
        return Text::new(String::new(), "");
    }
    let lang = if !title_lang.is_empty() && rng.below(100) < 70 {
        match title_lang {
            "vie" => "vie",
            "fra" => "fra",
            _ => "eng",
        }
    } else {
        ["vie", "fra", "eng"][rng.below(3) as usize]
    };
    let pool = sentences(lang);
    let first = rng.below(pool.len() as u64) as usize;
    let mut s = pool[first].to_string();
    if rng.below(2) == 0 {
        s.push(' ');
        s.push_str(pool[(first + 1 + rng.below(pool.len() as u64 - 1) as usize) % pool.len()]);
    }
    Text::new(s, lang)
}

/// Comments: about 40% of photos have none, the others 1 to 5 in vie/fra/eng.
pub fn comments(rng: &mut Rng) -> Vec<Text> {
    if rng.below(100) < 40 {
        return Vec::new();
    }
    let n = 1 + rng.below(5);
    (0..n).map(|_| comment(rng)).collect()
}

/// One plain comment in vie/fra/eng.
pub fn comment(rng: &mut Rng) -> Text {
    let (pool, lang) = match rng.below(3) {
        0 => (VIE_COMMENTS, "vie"),
        1 => (FRA_COMMENTS, "fra"),
        _ => (ENG_COMMENTS, "eng"),
    };
    Text::new(pick(rng, pool).to_string(), lang)
}

/// Flickr's wire form of user text: `&`, quotes, `<` and `>` as HTML entities.
pub fn encode_entities(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entities() {
        assert_eq!(
            encode_entities("a & \"b\" 'c' <d>"),
            "a &amp; &quot;b&quot; &#39;c&#39; &lt;d&gt;"
        );
    }

    #[test]
    fn plain_text_of_markup() {
        assert_eq!(
            plain_text("<b>a</b> &amp; <a href=\"x\">b</a>&quot;c&#39;&#x41;<br />d & e"),
            "a & b\"c'A\nd & e"
        );
        for (raw, _) in MARKED_COMMENTS {
            let p = plain_text(raw);
            assert!(
                !p.contains("<a ") && !p.contains("<b>") && !p.contains("&quot;"),
                "{p}"
            );
        }
    }

    #[test]
    fn descriptions_are_long_enough() {
        for s in VIE_SENTENCES
            .iter()
            .chain(FRA_SENTENCES)
            .chain(ENG_SENTENCES)
        {
            assert!(s.chars().count() >= 80, "{s}");
        }
    }
}
