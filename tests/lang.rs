//! Language labels on short texts: accuracy floors over `tests/data/lang_corpus.tsv` (photo
//! titles and one-line comments in 15 languages, written for this test), the `eng` / `und`
//! rule, and context. `cargo test --test lang -- --nocapture` prints the confusion pairs.

use flickrfs::lang::{detect_locale, detect_locale_with_context, Label, Locale};
use std::collections::BTreeMap;

const OVERALL_FLOOR: f64 = 0.95;
const PER_LANGUAGE_FLOOR: f64 = 0.90;
/// Languages with at least this many texts are held to the per-language floor.
const PER_LANGUAGE_MIN_TEXTS: usize = 15;

fn corpus() -> Vec<(String, String)> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/lang_corpus.tsv");
    std::fs::read_to_string(path)
        .expect("corpus")
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (code, text) = l
                .split_once('\t')
                .unwrap_or_else(|| panic!("no TAB in {l:?}"));
            (code.to_string(), text.to_string())
        })
        .collect()
}

#[test]
fn corpus_is_as_described() {
    let rows = corpus();
    assert!(rows.len() >= 400, "{} texts", rows.len());
    let mut per: BTreeMap<&str, usize> = BTreeMap::new();
    for (code, text) in &rows {
        assert!(
            Locale::from_string(code).is_some(),
            "unknown code {code} for {text:?}"
        );
        let words = text.split_whitespace().count();
        let cjk_or_thai = text
            .chars()
            .any(|c| matches!(c as u32, 0x0E00..=0x0E7F | 0x3040..=0x9FFF | 0xAC00..=0xD7AF));
        assert!(
            cjk_or_thai || (2..=12).contains(&words),
            "{words} words: {text:?}"
        );
        *per.entry(code).or_default() += 1;
    }
    assert!(per.len() >= 15, "{} languages", per.len());
    assert!(per.values().all(|&n| n >= 15), "{per:?}");
}

#[test]
fn accuracy_floors_on_the_corpus() {
    let rows = corpus();
    let mut per: BTreeMap<&str, (usize, usize)> = BTreeMap::new(); // right, total
    let mut confusions: BTreeMap<(&str, String), Vec<&str>> = BTreeMap::new();
    for (expected, text) in &rows {
        let got = detect_locale(text).to_string();
        let e = per.entry(expected.as_str()).or_default();
        e.1 += 1;
        if got == *expected {
            e.0 += 1;
        } else {
            confusions
                .entry((expected.as_str(), got))
                .or_default()
                .push(text);
        }
    }
    let right: usize = per.values().map(|p| p.0).sum();
    let overall = right as f64 / rows.len() as f64;
    println!(
        "overall {right}/{} = {:.1}% (floor {:.0}%)",
        rows.len(),
        overall * 100.0,
        OVERALL_FLOOR * 100.0
    );
    for (lang, (r, n)) in &per {
        println!("  {lang}: {r}/{n} = {:.1}%", *r as f64 * 100.0 / *n as f64);
    }
    let mut pairs: Vec<_> = confusions.iter().collect();
    pairs.sort_by_key(|(k, v)| (std::cmp::Reverse(v.len()), *k));
    println!("confusion pairs (expected -> got, count, examples):");
    for ((e, g), texts) in &pairs {
        let examples: Vec<_> = texts.iter().take(3).map(|t| format!("{t:?}")).collect();
        println!("  {e} -> {g}  {}  {}", texts.len(), examples.join(", "));
    }
    let mut failures = Vec::new();
    if overall < OVERALL_FLOOR {
        failures.push(format!("overall {:.1}%", overall * 100.0));
    }
    for (lang, (r, n)) in &per {
        let acc = *r as f64 / *n as f64;
        if *n >= PER_LANGUAGE_MIN_TEXTS && acc < PER_LANGUAGE_FLOOR {
            failures.push(format!("{lang} {:.1}% ({r}/{n})", acc * 100.0));
        }
    }
    assert!(failures.is_empty(), "under the floor: {failures:?}");
}

#[test]
fn eng_only_without_letters_und_when_unsure() {
    for t in ["", "   ", "1938", "1938 - 1945", "...", "#12 (3)"] {
        assert_eq!(detect_locale(t), Locale::english(), "{t:?}");
    }
    // Letters, but nothing to go on: undetermined, not a guessed English.
    for t in ["Hanoi 1954", "Saigon", "IMG 0042"] {
        assert_eq!(detect_locale(t).to_string(), "und", "{t:?}");
    }
    let json = serde_json::to_string(&Label::detect("Saigon")).unwrap();
    assert_eq!(json, r#"{"content":"Saigon","locale":"und"}"#);
}

#[test]
fn deterministic() {
    for (_, text) in corpus().iter().take(50) {
        assert_eq!(detect_locale(text), detect_locale(text));
    }
}

#[test]
fn context_decides_an_unsure_title_not_a_sure_one() {
    let fr = ["Vue prise depuis la rue Catinat, carte postale de l'époque coloniale"];
    let vi = ["Ảnh chụp từ trên lầu, nhìn xuống đường phố đông người qua lại"];
    assert_eq!(
        detect_locale_with_context("Hanoi 1954", &fr).to_string(),
        "fra"
    );
    assert_eq!(
        detect_locale_with_context("Hanoi 1954", &vi).to_string(),
        "vie"
    );
    // Sure on its own: keeps its language.
    let t = "Street vendors in Saigon, 1965";
    assert_eq!(detect_locale_with_context(t, &fr).to_string(), "eng");
    // No letters: eng by rule, whatever the neighbours.
    assert_eq!(detect_locale_with_context("1954", &fr).to_string(), "eng");
    // Unsure neighbours do not help.
    assert_eq!(
        detect_locale_with_context("Hanoi 1954", &["Saigon", ""]).to_string(),
        "und"
    );
    let l = Label::detect_with_context("Hanoi 1954", &fr);
    assert_eq!(l.locale.to_string(), "fra");
}

#[test]
fn the_readme_sidecar_example_holds() {
    for (text, code) in [
        ("Le marché de Hanoï, vers 1907", "fra"),
        ("Cho Dong Xuan nam 1907, nhin tu pho Hang Chieu", "vie"),
        ("Great photo, thanks for sharing", "eng"),
        ("Cảm ơn bạn đã chia sẻ", "vie"),
        ("Saigon", "und"),
        ("1907", "eng"),
        ("IMG_0042", "und"),
        ("Cho Ben Thanh nam 1960", "vie"),
        ("SAIGON 1938 - Nhà rồng", "vie"),
    ] {
        assert_eq!(detect_locale(text).to_string(), code, "{text:?}");
    }
}

#[test]
fn a_vietnamese_name_in_a_french_title() {
    for t in [
        "L'église de Tân Định, vers 1957",
        "Tonkin 1930 - Marché de Hà Đông",
    ] {
        assert_eq!(detect_locale(t).to_string(), "fra", "{t:?}");
    }
}
