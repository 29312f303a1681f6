//! Locales (ISO 639-3 with an optional ISO 3166-1 alpha-2 country) and language-labelled
//! text. Detection is whatlang's, with one documented addition: letters that only Vietnamese
//! uses (ơ ư đ ă and the stacked tone marks of U+1EA0..U+1EF9) mark a text as Vietnamese,
//! because whatlang often misses Vietnamese in short titles. Empty or unreliable text is `eng`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

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

/// Letters only Vietnamese uses among the Latin scripts.
fn vietnamese_letters(s: &str) -> usize {
    s.chars()
        .filter(|&c| {
            matches!(c, 'ơ' | 'Ơ' | 'ư' | 'Ư' | 'đ' | 'Đ' | 'ă' | 'Ă')
                || ('\u{1EA0}'..='\u{1EF9}').contains(&c)
        })
        .count()
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
}

/// The language of `text`: `eng` when empty or unsure.
pub fn detect_locale(text: &str) -> Locale {
    let t = text.trim();
    if t.is_empty() {
        return Locale::english();
    }
    if vietnamese_letters(t) >= 1 {
        return Locale {
            language: isolang::Language::Vie,
            country: None,
        };
    }
    let letters = t.chars().filter(|c| c.is_alphabetic()).count();
    match whatlang::detect(t) {
        Some(info) if letters >= 3 && (info.is_reliable() || info.confidence() >= 0.5) => {
            Locale::from_string(info.lang().code()).unwrap_or_else(Locale::english)
        }
        _ => Locale::english(),
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
        assert_eq!(lang("1938"), "eng", "no letters: unsure");
        // Vietnamese without diacritics is beyond whatlang on short text; it stays a valid code.
        assert_eq!(lang("Sai Gon xua - Cho Ben Thanh").len(), 3);
    }
}
