//! Locales (ISO 639-3 with an optional ISO 3166-1 alpha-2 country) and language-labelled
//! text. Detection ([`detect`]) is a pure function of the text (and, with
//! [`detect_locale_with_context`], of its neighbours), so re-labelling a cache is
//! deterministic. The rule for what is not a language:
//! - empty text, or text without letters (`1938`, `...`): `eng` (the seed format needs a
//!   language there);
//! - text with letters whose language the detector is not confident of: `und` (ISO 639-3
//!   "undetermined"), never a guessed `eng`.
//!
//! Chinese is `zho` (the macrolanguage), also when parsed from `zh` or `cmn`-less sources.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The detector's version: a new one re-labels existing sidecars and the search index.
pub const DETECTOR_VERSION: u32 = 2;

pub mod detect;
use detect::Guess;

/// A language (ISO 639-3) and optionally a country: `vie`, `fra-CA`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Locale {
    language: isolang::Language,
    country: Option<String>,
}

impl Locale {
    /// Parses `fr`, `fra`, `fr-CA`, `fr_CA`, `fra-CA`; `None` when not a known language.
    pub fn from_string(s: &str) -> Option<Locale> {
        let s = s.trim();
        let (lang, country) = match s.split_once(['-', '_']) {
            Some((l, c)) => (l, Some(c)),
            None => (s, None),
        };
        let lang = lang.to_ascii_lowercase();
        let language = match lang.len() {
            2 => isolang::Language::from_639_1(&lang),
            3 => isolang::Language::from_639_3(&lang),
            _ => None,
        }?;
        let country = match country {
            None => None,
            Some(c) if c.len() == 2 && c.bytes().all(|b| b.is_ascii_alphabetic()) => {
                Some(c.to_ascii_uppercase())
            }
            Some(_) => return None,
        };
        Some(Locale { language, country })
    }

    pub fn english() -> Locale {
        Locale {
            language: isolang::Language::Eng,
            country: None,
        }
    }

    /// `und`: letters, but no language detected with confidence.
    pub fn undetermined() -> Locale {
        Locale {
            language: isolang::Language::Und,
            country: None,
        }
    }

    /// Whether this is `und`.
    pub fn is_undetermined(&self) -> bool {
        self.language == isolang::Language::Und
    }

    /// ISO 639-3 code.
    pub fn language(&self) -> &str {
        self.language.to_639_3()
    }

    pub fn country(&self) -> Option<&str> {
        self.country.as_deref()
    }
}

impl std::fmt::Display for Locale {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.country {
            Some(c) => write!(f, "{}-{c}", self.language()),
            None => f.write_str(self.language()),
        }
    }
}

impl Serialize for Locale {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Locale {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Locale::from_string(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown locale {s:?}")))
    }
}

/// Text with the language it is written in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Label {
    pub content: String,
    pub locale: Locale,
}

impl Label {
    pub fn new(content: impl Into<String>, locale: Locale) -> Label {
        Label {
            content: content.into(),
            locale,
        }
    }

    /// Labels `content` with its detected language.
    pub fn detect(content: &str) -> Label {
        Label {
            content: content.to_string(),
            locale: detect_locale(content),
        }
    }

    /// Labels `content` with its language, helped by texts of the same photo (see
    /// [`detect_locale_with_context`]).
    pub fn detect_with_context(content: &str, neighbours: &[&str]) -> Label {
        Label {
            content: content.to_string(),
            locale: detect_locale_with_context(content, neighbours),
        }
    }
}

/// The language of `text`: `eng` when it has no letters, `und` when unsure (see the module
/// comment).
pub fn detect_locale(text: &str) -> Locale {
    from_guess(detect::detect(text))
}

/// The language of `text` with the help of `neighbours`: texts of the same photo (for a title,
/// its description and comments; for a comment, the title and description). A text
/// detected with confidence on its own keeps its language; a short or ambiguous one takes the
/// language its neighbours are confidently written in. Same rule for `eng` and `und`.
pub fn detect_locale_with_context(text: &str, neighbours: &[&str]) -> Locale {
    from_guess(detect::detect_with_context(text, neighbours))
}

/// The languages of one photo's texts, each helped by the others: the title by the
/// description and comments, the description by the title and comments, a comment by the
/// title and description. The sidecar and the search index both label with this, so that
/// `search --locale` finds exactly what the sidecar says.
#[derive(Clone, Debug, PartialEq)]
pub struct PhotoLocales {
    pub title: Locale,
    pub description: Locale,
    pub comments: Vec<Locale>,
}

impl PhotoLocales {
    pub fn detect(title: &str, description: &str, comments: &[&str]) -> PhotoLocales {
        let mut around: Vec<&str> = vec![description];
        around.extend_from_slice(comments);
        let title_locale = detect_locale_with_context(title, &around);
        around[0] = title;
        let description_locale = detect_locale_with_context(description, &around);
        let pair = [title, description];
        PhotoLocales {
            title: title_locale,
            description: description_locale,
            comments: comments
                .iter()
                .map(|c| detect_locale_with_context(c, &pair))
                .collect(),
        }
    }
}

fn from_guess(g: Guess) -> Locale {
    match g {
        Guess::NoLetters => Locale::english(),
        Guess::Unsure => Locale::undetermined(),
        Guess::Lang(code) => Locale::from_string(code).unwrap_or_else(Locale::undetermined),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locales_parse_and_display() {
        assert_eq!(Locale::from_string("fr-CA").unwrap().to_string(), "fra-CA");
        assert_eq!(Locale::from_string("fr_ca").unwrap().to_string(), "fra-CA");
        assert_eq!(Locale::from_string("vi").unwrap().to_string(), "vie");
        assert_eq!(Locale::from_string("vie").unwrap().to_string(), "vie");
        assert_eq!(Locale::from_string("eng").unwrap(), Locale::english());
        assert_eq!(Locale::from_string("xx"), None);
        assert_eq!(Locale::from_string("fr-CAN"), None);
        let json =
            serde_json::to_string(&Label::new("x", Locale::from_string("fr-CA").unwrap())).unwrap();
        assert_eq!(json, r#"{"content":"x","locale":"fra-CA"}"#);
        let back: Label = serde_json::from_str(&json).unwrap();
        assert_eq!(back.locale.country(), Some("CA"));
    }

    #[test]
    fn real_titles() {
        let lang = |s: &str| Label::detect(s).locale.to_string();
        assert_eq!(lang("SAIGON 1938 - Nhà rồng"), "vie");
        assert_eq!(
            lang("Chợ Bến Thành năm 1960, người dân đi chợ buổi sáng"),
            "vie"
        );
        assert_eq!(
            lang("Le marché de Saïgon vers 1920, vue prise depuis la rue Catinat"),
            "fra"
        );
        assert_eq!(
            lang("Street vendors in Saigon, 1965, selling fruit near the market"),
            "eng"
        );
        assert_eq!(
            lang("Merci pour ce partage, quelle belle photo de l'époque"),
            "fra"
        );
        assert_eq!(
            lang("Great photo, thanks for sharing this piece of history"),
            "eng"
        );
        assert_eq!(lang(""), "eng");
        assert_eq!(lang("   "), "eng");
        assert_eq!(lang("1938"), "eng", "no letters: eng by rule");
        assert_eq!(lang("Sai Gon xua - Cho Ben Thanh"), "vie");
        assert_eq!(lang("Le marché de Hanoï, vers 1907"), "fra");
        assert_eq!(lang("西贡街头小贩"), "zho");
        assert_eq!(Locale::from_string("zh").unwrap().to_string(), "zho");
        assert!(Locale::from_string("und").unwrap().is_undetermined());
        assert_eq!(Locale::from_string("mul").unwrap().to_string(), "mul");
    }
}
