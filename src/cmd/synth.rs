//! `flickrfs synth-index` (hidden): a cache of a big synthetic stream in seconds, for the
//! benchmarks of big mounts (see `cache::db::synth` for what it holds). Mirroring a million
//! photos from the emulator would take most of an hour.

use crate::cache::db::{synth, Index};
use crate::cache::files::Store;
use crate::cmd::args::SynthArgs;

/// Runs `flickrfs synth-index`; returns the exit code.
pub fn main(args: SynthArgs) -> i32 {
    match run(&args) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("flickrfs: error: {e}");
            1
        }
    }
}

fn run(args: &SynthArgs) -> Result<(), String> {
    let depth = args.cache_directory_depth as usize;
    let store = Store::open(&args.cache_path, &args.username, depth).map_err(|e| e.to_string())?;
    let path = store.meta_dir().join("index.sqlite");
    let index = Index::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    if index.meta("user_id").map_err(|e| e.to_string())?.is_some() {
        return Err(format!("{} already holds an index", store.root().display()));
    }
    index
        .set_meta("depth", &depth.to_string())
        .map_err(|e| e.to_string())?;
    let n = index
        .insert_synthetic(args.photos, "99999999@N00", &args.username)
        .map_err(|e| e.to_string())?;
    if args.files {
        for i in 0..n {
            let p = store.image_path(&synth::photo_id(i), "jpg");
            if let Some(dir) = p.parent() {
                std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            }
            std::fs::write(&p, [0u8; synth::IMAGE_SIZE as usize])
                .map_err(|e| format!("{}: {e}", p.display()))?;
        }
    }
    println!("{n} photos indexed in {}", store.root().display());
    Ok(())
}
