//! Language detection for short texts (photo titles, one-line comments), a pure function of
//! the text and, optionally, of neighbouring texts (the same photo's title, description and
//! comments), so that re-labelling a cache is deterministic.
//!
//! In order:
//! 1. No letters at all: [`Guess::NoLetters`] (labelled `eng` by the caller).
//! 2. A non-Latin script holding most letters decides: Hangul `kor`, kana `jpn`, Han `zho`,
//!    Thai `tha`; Cyrillic is `rus` unless a letter of another Cyrillic alphabet shows up.
//! 3. Vietnamese, which general detectors miss on a few words:
//!    - with diacritics: words holding a letter only Vietnamese uses (ơ ư đ ă and the stacked
//!      tone marks) plus Vietnamese-looking words outweigh the words that cannot be Vietnamese
//!      (`SAIGON 1938 - Nhà rồng` is `vie`; `Tonkin 1930 - Marché de Hà Đông` is not);
//!    - without diacritics: every word (but one in five) is a well-formed Vietnamese syllable
//!      and enough of them are frequent Vietnamese words (`Cho Ben Thanh nam 1960`).
//!
//!    Names used in every language of such a stream (Saigon, Hanoi, Cholon, Hue...) count for
//!    neither side; a text of only such names (`Hanoi 1954`) is [`Guess::Unsure`].
//! 4. Other Latin-script text: lingua (high-accuracy mode) among the languages a historical
//!    archive of Vietnam is written in (see [`LATIN`]); when its best language has a
//!    confidence under [`MIN_CONFIDENCE`] the answer is [`Guess::Unsure`]. A long text (100
//!    letters or more) that whatlang is reliable on skips lingua, which is slower.
//! 5. With context ([`detect_with_context`]): an unsure text takes the language of its
//!    neighbours when those are detected with confidence and the text's own scores do not
//!    rule it out.

use lingua::{Language, LanguageDetector, LanguageDetectorBuilder};
use std::sync::LazyLock;

/// What the detector concluded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Guess {
    /// ISO 639-3 code (Chinese is `zho`).
    Lang(&'static str),
    /// Letters, but no language with enough confidence.
    Unsure,
    /// Empty, or no letters (digits, punctuation only).
    NoLetters,
}

/// Latin-script languages lingua is built with: those of a historical archive of Vietnam
/// (measured on `tests/data/lang_corpus.tsv`). Each costs about 4 MiB of binary; the other
/// scripts are decided by their letters (see the module comment).
pub const LATIN: &[Language] = &[
    Language::English,
    Language::French,
    Language::Vietnamese,
    Language::German,
    Language::Spanish,
    Language::Italian,
    Language::Dutch,
    Language::Portuguese,
    Language::Indonesian,
    Language::Polish,
];

/// Built on first use, so that a mount's start-up does not wait for it; lingua then loads
/// each language's n-gram models on the first text that needs them.
static LATIN_DETECTOR: LazyLock<LanguageDetector> = LazyLock::new(|| {
    let mut b = LanguageDetectorBuilder::from_languages(LATIN);
    if LOW_ACCURACY {
        b.with_low_accuracy_mode();
    }
    b.build()
});
const LOW_ACCURACY: bool = false;

/// Long texts (descriptions, long comments) do not need lingua, which costs about 0.1 ms per
/// short text and more per long one: from this many letters on, a reliable whatlang answer
/// among the same languages decides.
const LONG_TEXT_LETTERS: usize = 100;
static LONG_TEXT_DETECTOR: LazyLock<whatlang::Detector> = LazyLock::new(|| {
    use whatlang::Lang::*;
    whatlang::Detector::with_allowlist(vec![Eng, Fra, Deu, Spa, Ita, Nld, Por, Ind, Pol])
});
/// Lingua reads at most this many bytes of a text (cut at a character boundary).
const LINGUA_MAX_BYTES: usize = 400;

/// Minimum lingua confidence (of the best language, among the 10 of [`LATIN`]) for an
/// answer; chosen on the corpus (0.2 to 0.25 cost nothing there, 0.3 costs 1.4 points).
pub const MIN_CONFIDENCE: f64 = 0.2;
/// Below this, a Latin-script answer is weak: context may override it.
pub const STRONG_CONFIDENCE: f64 = 0.8;

/// The language of `text` on its own.
pub fn detect(text: &str) -> Guess {
    detect_scored(text).0
}

/// The language of `text`, helped by `neighbours` (e.g. for a title: the description and the
/// comments of the same photo; for a comment: the title and description), joined into one
/// text. Only a Latin-script text that lingua is not sure of (best confidence under
/// [`STRONG_CONFIDENCE`]) or a text of names only (`Hanoi 1954`) can change its answer: to
/// the neighbours' language, when that is detected with confidence and, for the former, the
/// text's own confidence in it is at least half its best one. No letters stays
/// [`Guess::NoLetters`]; a script, or Vietnamese letters, decide alone.
pub fn detect_with_context(text: &str, neighbours: &[&str]) -> Guess {
    let (own, how) = detect_scored(text);
    let scores = match how {
        How::Decided => return own,
        How::NamesOnly => None,
        How::Latin(scores) => match scores.first() {
            Some(&(_, best)) if best >= STRONG_CONFIDENCE => return own,
            _ => Some(scores),
        },
    };
    let context = match detect_scored(&neighbours.join(" \n ")) {
        (Guess::Lang(l), How::Decided) => l,
        (Guess::Lang(l), How::Latin(s)) if s.first().is_some_and(|&(_, c)| c >= 0.5) => l,
        _ => return own,
    };
    match scores {
        None => Guess::Lang(context),
        Some(scores) => {
            let best = scores.first().map_or(0.0, |s| s.1);
            let theirs = scores.iter().find(|s| s.0 == context).map_or(0.0, |s| s.1);
            if theirs > 0.0 && theirs * 2.0 >= best {
                Guess::Lang(context)
            } else {
                own
            }
        }
    }
}

/// How a guess was reached.
enum How {
    /// By letters or script: no context changes it.
    Decided,
    /// The text has nothing but names (and digits, one-letter words).
    NamesOnly,
    /// By lingua: its confidence values among [`LATIN`], best first.
    Latin(Vec<(&'static str, f64)>),
}

/// The guess and how it was reached.
fn detect_scored(text: &str) -> (Guess, How) {
    let text = text.trim();
    let mut latin = 0usize;
    let (mut hangul, mut kana, mut han, mut thai, mut cyrillic, mut other) = (0, 0, 0, 0, 0, 0);
    for c in text.chars().filter(|c| c.is_alphabetic()) {
        match c as u32 {
            0x41..=0x24F | 0x1E00..=0x1EFF => latin += 1,
            0x1100..=0x11FF | 0x3130..=0x318F | 0xAC00..=0xD7AF => hangul += 1,
            0x3040..=0x30FF | 0x31F0..=0x31FF | 0xFF66..=0xFF9F => kana += 1,
            0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FFFF => han += 1,
            0x0E00..=0x0E7F => thai += 1,
            0x0400..=0x052F => cyrillic += 1,
            _ => other += 1,
        }
    }
    let letters = latin + hangul + kana + han + thai + cyrillic + other;
    if letters == 0 {
        return (Guess::NoLetters, How::Decided);
    }
    // A script holding at least 40% of the letters (CJK letters carry a word each) decides
    // over Latin proper names: "SAIGON 1965 - 西贡街头" is Chinese.
    let cjk = hangul + kana + han;
    let latin_weight = latin / 4;
    if cjk + thai + cyrillic + other > latin_weight {
        if hangul > 0 && hangul >= (kana + han) / 2 {
            return (Guess::Lang("kor"), How::Decided);
        }
        if kana > 0 {
            return (Guess::Lang("jpn"), How::Decided);
        }
        if han > 0 {
            return (Guess::Lang("zho"), How::Decided);
        }
        if thai > 0 {
            return (Guess::Lang("tha"), How::Decided);
        }
        return (cyrillic_or_other(text, cyrillic), How::Decided);
    }
    let words = words(text);
    let viet = vietnamese_evidence(&words);
    match viet {
        Viet::Yes => return (Guess::Lang("vie"), How::Decided),
        Viet::OnlyNames => return (Guess::Unsure, How::NamesOnly),
        Viet::No | Viet::Neither => {}
    }
    if latin >= LONG_TEXT_LETTERS {
        if let Some(i) = LONG_TEXT_DETECTOR.detect(text).filter(|i| i.is_reliable()) {
            let l = i.lang().code();
            return (Guess::Lang(l), How::Latin(vec![(l, 1.0)]));
        }
    }
    // Names stay in lingua's input: their spelling is a hint (Saïgon, Saigón). But once
    // Vietnamese is ruled out, its words are names ("L'église de Tân Định"): without them,
    // or lingua's letter rules leave it nothing but Vietnamese.
    let input: String = if viet == Viet::No {
        let kept: Vec<&str> = words
            .iter()
            .copied()
            .filter(|w| !w.chars().any(vietnamese_only))
            .collect();
        kept.join(" ")
    } else {
        text.to_string()
    };
    let mut end = input.len().min(LINGUA_MAX_BYTES);
    while !input.is_char_boundary(end) {
        end -= 1;
    }
    let mut scores: Vec<(&'static str, f64)> = LATIN_DETECTOR
        .compute_language_confidence_values(&input[..end])
        .into_iter()
        .filter(|&(l, _)| !(l == Language::Vietnamese && viet == Viet::No))
        .map(|(l, c)| (code(l), c))
        .collect();
    // Without Vietnamese, the others' confidences are renormalised to sum to 1 again.
    let sum: f64 = scores.iter().map(|s| s.1).sum();
    if sum > 0.0 {
        scores.iter_mut().for_each(|s| s.1 /= sum);
    }
    let guess = match scores.first() {
        Some(&(l, c)) if c >= MIN_CONFIDENCE => Guess::Lang(l),
        _ => Guess::Unsure,
    };
    (guess, How::Latin(scores))
}

fn code(l: Language) -> &'static str {
    match l {
        Language::English => "eng",
        Language::French => "fra",
        Language::Vietnamese => "vie",
        Language::German => "deu",
        Language::Spanish => "spa",
        Language::Italian => "ita",
        Language::Dutch => "nld",
        Language::Portuguese => "por",
        Language::Indonesian => "ind",
        Language::Polish => "pol",
        #[allow(unreachable_patterns)] // more languages, if Cargo features add them
        _ => "und",
    }
}

/// Cyrillic by its letters (Russian unless a letter of another Cyrillic alphabet shows up);
/// another script: unsure.
fn cyrillic_or_other(text: &str, cyrillic: usize) -> Guess {
    if cyrillic == 0 {
        return Guess::Unsure;
    }
    let has = |set: &[char]| {
        text.chars()
            .any(|c| set.contains(&c.to_lowercase().next().unwrap_or(c)))
    };
    if has(&['і', 'ї', 'є', 'ґ']) {
        Guess::Lang("ukr")
    } else if has(&['ў']) {
        Guess::Lang("bel")
    } else if has(&['ђ', 'ј', 'љ', 'њ', 'ћ', 'џ']) {
        Guess::Lang("srp")
    } else if has(&['ѓ', 'ќ', 'ѕ']) {
        Guess::Lang("mkd")
    } else {
        Guess::Lang("rus")
    }
}

/// Words: maximal runs of letters (apostrophes split: "l'époque" is "l", "époque").
fn words(text: &str) -> Vec<&str> {
    text.split(|c: char| !c.is_alphabetic())
        .filter(|w| !w.is_empty())
        .collect()
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Viet {
    /// Vietnamese.
    Yes,
    /// Vietnamese letters, but outweighed by words that cannot be Vietnamese.
    No,
    /// No evidence either way.
    Neither,
    /// Nothing but names used in every language (and one-letter words): no language.
    OnlyNames,
}

/// Letters only Vietnamese uses among the Latin scripts.
fn vietnamese_only(c: char) -> bool {
    matches!(c, 'ơ' | 'Ơ' | 'ư' | 'Ư' | 'đ' | 'Đ' | 'ă' | 'Ă')
        || ('\u{1EA0}'..='\u{1EF9}').contains(&c)
}

/// The base letter of a letter of the Vietnamese alphabet (`ộ` -> `o`, `đ` -> `d`), lower case;
/// `None` for a letter Vietnamese does not use (ç, ï, ß, ñ, ł, f, j, w, z...).
fn viet_base(c: char) -> Option<char> {
    let c = c.to_lowercase().next().unwrap_or(c);
    let b = match c {
        'a' | 'à' | 'á' | 'ả' | 'ã' | 'ạ' | 'ă' | 'ằ' | 'ắ' | 'ẳ' | 'ẵ' | 'ặ' | 'â' | 'ầ' | 'ấ'
        | 'ẩ' | 'ẫ' | 'ậ' => 'a',
        'e' | 'è' | 'é' | 'ẻ' | 'ẽ' | 'ẹ' | 'ê' | 'ề' | 'ế' | 'ể' | 'ễ' | 'ệ' => {
            'e'
        }
        'i' | 'ì' | 'í' | 'ỉ' | 'ĩ' | 'ị' => 'i',
        'o' | 'ò' | 'ó' | 'ỏ' | 'õ' | 'ọ' | 'ô' | 'ồ' | 'ố' | 'ổ' | 'ỗ' | 'ộ' | 'ơ' | 'ờ' | 'ớ'
        | 'ở' | 'ỡ' | 'ợ' => 'o',
        'u' | 'ù' | 'ú' | 'ủ' | 'ũ' | 'ụ' | 'ư' | 'ừ' | 'ứ' | 'ử' | 'ữ' | 'ự' => {
            'u'
        }
        'y' | 'ỳ' | 'ý' | 'ỷ' | 'ỹ' | 'ỵ' => 'y',
        'đ' => 'd',
        'b' | 'c' | 'd' | 'g' | 'h' | 'k' | 'l' | 'm' | 'n' | 'p' | 'q' | 'r' | 's' | 't' | 'v'
        | 'x' => c,
        _ => return None,
    };
    Some(b)
}

const ONSETS: &[&str] = &[
    "ngh", "ng", "nh", "ch", "tr", "th", "kh", "ph", "gh", "gi", "qu", "b", "c", "d", "g", "h",
    "k", "l", "m", "n", "p", "r", "s", "t", "v", "x", "",
];
/// Vowel nuclei (with their final semivowels), without marks.
const NUCLEI: &[&str] = &[
    "a", "e", "i", "o", "u", "y", "ai", "ao", "au", "ay", "eo", "eu", "ia", "ie", "iu", "oa", "oe",
    "oi", "oo", "ua", "ue", "ui", "uo", "uu", "uy", "ya", "ye", "ieu", "yeu", "oai", "oay", "oeo",
    "uay", "uoi", "uou", "uya", "uye", "uyu", "uu",
];
const CODAS: &[&str] = &["", "c", "ch", "m", "n", "ng", "nh", "p", "t"];

/// Whether `w` (without marks, lower case ASCII) is a well-formed Vietnamese syllable.
fn syllable(w: &str) -> bool {
    ONSETS.iter().any(|o| {
        w.strip_prefix(o).is_some_and(|rest| {
            let v = rest.bytes().take_while(|b| b"aeiouy".contains(b)).count();
            v > 0 && NUCLEI.contains(&&rest[..v]) && CODAS.contains(&&rest[v..])
        })
    })
}

/// Frequent Vietnamese words and syllables of titles and comments, without marks. Kept to
/// words that are rare as words of the other languages of such a stream.
const VIET_WORDS: &[&str] = &[
    "nguoi", "nam", "cho", "duong", "pho", "ben", "thanh", "xua", "cua", "va", "nhung", "trong",
    "nha", "tho", "cau", "song", "ngay", "tet", "dep", "qua", "anh", "ong", "chua", "lang", "mot",
    "hai", "bon", "tren", "duoi", "truoc", "sau", "nhieu", "khong", "nay", "day", "dau", "cung",
    "den", "di", "ve", "tu", "ra", "vao", "lam", "hoc", "truong", "linh", "quan", "doi", "phuong",
    "mien", "tay", "bac", "dong", "xe", "keo", "thuyen", "hinh", "chup", "buoi", "sang", "chieu",
    "toi", "dem", "cu", "moi", "chiec", "cuoi", "phu", "nu", "tre", "em", "gai", "ao", "dai",
    "non", "vua", "hoang", "hau", "hoi", "dinh", "doc", "lap", "ga", "buu", "dien", "hang", "ban",
    "rong", "cam", "on", "da", "chia", "se", "nho", "oi", "vay", "nao", "biet", "ai", "gan", "noi",
    "chan", "dung", "trieu", "nguyen", "tran", "viet", "banh", "mi", "hoa", "ho", "ba", "co",
    "con", "cac", "cho", "voi", "duoc", "nhat", "thi", "khi", "ngoai", "tinh", "huyen", "xa",
    "thon", "cong", "chu", "ky", "niem", "xin", "cam", "rat", "that", "qua", "lon", "nho", "cao",
    "sai", "gon", "loi", "ruong", "lua", "bo", "bien", "nuoc", "ngu", "thuong", "mua", "xuan",
    "thu", "he", "dong", "ngo", "mon", "lau", "dai", "chai", "tau", "hat", "thap", "bau", "troi",
    "dat", "xuong", "ghe", "thay", "minh", "nhin", "kia", "ngoi", "dan", "toc", "nong", "tuan",
    "phap", "nhat", "my", "hoa", "ky", "tai", "ngoc", "ganh", "chai", "ruoc", "luc", "khu", "pho",
    "phong", "gia", "quy", "trang", "gom", "bang", "thuyen", "buom", "xich", "lo", "via", "tiem",
    "vien", "tieu", "thuong", "chinh", "phu", "doan", "ngan", "hang", "sinh",
];

/// Names written in every language of a Vietnam archive (fused or split), and camera file
/// name prefixes (`IMG_0042`): neutral evidence; a text of only these has no language.
const NAMES: &[&str] = &[
    "img",
    "dsc",
    "dscn",
    "dscf",
    "pict",
    "saigon",
    "hanoi",
    "cholon",
    "dalat",
    "danang",
    "haiphong",
    "vietnam",
    "hue",
    "mekong",
    "tonkin",
    "annam",
    "cochinchine",
    "cochinchina",
    "indochine",
    "indochina",
    "mytho",
    "catinat",
    "bonard",
    "charner",
    "petrus",
];

/// Common function words of the other Latin-script languages that are also well-formed
/// Vietnamese syllables; they count against Vietnamese in a text with Vietnamese letters.
const FOREIGN_SHORT: &[&str] = &[
    "de", "la", "le", "les", "des", "du", "et", "en", "un", "une", "au", "aux", "sur", "pour",
    "the", "of", "in", "and", "at", "to", "on", "a", "is", "my", "by", "from", "near", "rue",
    "place", "pont", "port", "vue", "gare", "marche", "street", "market", "bridge",
];

fn is_name(w: &str) -> bool {
    let fold = |c: char| match c {
        'ï' | 'î' | 'Ï' | 'Î' => 'i',
        'ë' | 'Ë' => 'e',
        c => viet_base(c).unwrap_or(c),
    };
    let folded: String = w.chars().map(fold).collect();
    NAMES.contains(&folded.to_lowercase().as_str())
}

fn base_word(w: &str) -> Option<String> {
    w.chars().map(viet_base).collect()
}

fn vietnamese_evidence(words: &[&str]) -> Viet {
    let mut strong = 0usize; // words with a letter only Vietnamese uses
    let mut for_viet = 0usize; // other Vietnamese-looking words
    let mut against = 0usize; // words that cannot be (or are unlikely) Vietnamese
    let mut plain_valid = 0usize; // unmarked words that are syllables
    let mut frequent = 0usize; // unmarked words in VIET_WORDS
    let mut foreign_short = 0usize; // well-formed syllables that are words elsewhere (de, la, the)
    let mut counted = 0usize;
    for w in words {
        let lower = w.to_lowercase();
        let base = base_word(w);
        let folded = base.clone().unwrap_or_else(|| lower.clone());
        if NAMES.contains(&folded.as_str())
            || is_name(w)
            || lower.chars().count() == 1 && !w.chars().any(vietnamese_only)
        {
            continue;
        }
        counted += 1;
        if w.chars().any(vietnamese_only) {
            strong += 1;
            continue;
        }
        let Some(b) = base else {
            against += 1;
            continue;
        };
        if !syllable(&b) {
            against += 1;
            continue;
        }
        if FOREIGN_SHORT.contains(&b.as_str()) {
            // Against Vietnamese next to Vietnamese letters; without them, a name such as
            // "Le Loi" (Lê Lợi) is written the same: neutral there.
            foreign_short += 1;
            continue;
        }
        if b != lower || VIET_WORDS.contains(&b.as_str()) {
            for_viet += 1;
        }
        if b == lower {
            plain_valid += 1;
            if VIET_WORDS.contains(&b.as_str()) {
                frequent += 1;
            }
        }
    }
    if counted == 0 {
        return Viet::OnlyNames;
    }
    if strong > 0 {
        return if strong + for_viet > against + foreign_short {
            Viet::Yes
        } else {
            Viet::No
        };
    }
    let counted = counted - foreign_short;
    // Without marks: (almost) all words syllables, and mostly frequent Vietnamese words.
    if counted > 0
        && plain_valid == counted - against
        && against * 5 <= counted
        && (frequent >= 2 || frequent == counted)
        && frequent * 2 >= counted
    {
        return Viet::Yes;
    }
    Viet::Neither
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syllables() {
        for w in [
            "nguoi", "nghieng", "thanh", "xua", "khuya", "gieng", "quynh", "uong",
        ] {
            assert!(syllable(w), "{w}");
        }
        for w in [
            "street", "saigon", "marche", "boats", "foto", "mana", "strada",
        ] {
            assert!(!syllable(w), "{w}");
        }
    }
}
