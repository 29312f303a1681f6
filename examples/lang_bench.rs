//! Language labels on a labelled corpus, for `scripts/bench.sh`: accuracy of flickrfs's
//! detector next to raw whatlang on the same texts, and detection time per 1,000 texts.
//!
//!     cargo run --release --example lang_bench -- tests/data/lang_corpus.tsv
//!
//! Prints one line: `n=486 ours=97.3 whatlang=74.3 ours_ms_per_1000=... whatlang_ms_per_1000=...
//! first_call_ms=...` (first_call_ms: the first detection, which builds the detector and loads
//! models; the timed passes come after it, best of 5).

use std::time::Instant;

fn main() {
    let path = std::env::args()
        .nth(1)
        .expect("usage: lang_bench CORPUS.tsv");
    let text = std::fs::read_to_string(&path).expect("corpus");
    let rows: Vec<(&str, &str)> = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('\t'))
        .collect();
    let ours = |t: &str| flickrfs::lang::detect_locale(t).to_string();
    let theirs = |t: &str| match whatlang::detect(t).map(|i| i.lang().code()) {
        Some("cmn") => "zho".to_string(),
        Some(c) => c.to_string(),
        None => "eng".to_string(),
    };
    let t0 = Instant::now();
    ours("Le marché de Hanoï, vers 1907"); // a Latin-script text: builds lingua, loads models
    let first_call_ms = t0.elapsed().as_secs_f64() * 1e3;
    let acc = |f: &dyn Fn(&str) -> String| {
        let right = rows.iter().filter(|(e, t)| f(t) == *e).count();
        100.0 * right as f64 / rows.len() as f64
    };
    let (a_ours, a_theirs) = (acc(&ours), acc(&theirs));
    let time = |f: &dyn Fn(&str) -> String| {
        (0..5)
            .map(|_| {
                let t = Instant::now();
                for (_, text) in &rows {
                    std::hint::black_box(f(text));
                }
                t.elapsed().as_secs_f64() * 1e3 * 1000.0 / rows.len() as f64
            })
            .fold(f64::INFINITY, f64::min)
    };
    let (t_ours, t_theirs) = (time(&ours), time(&theirs));
    println!(
        "n={} ours={a_ours:.1} whatlang={a_theirs:.1} ours_ms_per_1000={t_ours:.1} whatlang_ms_per_1000={t_theirs:.1} first_call_ms={first_call_ms:.1}",
        rows.len()
    );
}
