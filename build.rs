//! Build script: on Linux, links the binaries with `lingua-models.ld`, which moves lingua's
//! language models (about 44 MB, read only when a language is detected) to the end of the
//! file, behind an 8 MB hole, away from the code and data that a start-up reads from disk.

fn main() {
    println!("cargo:rerun-if-changed=lingua-models.ld");
    println!("cargo:rerun-if-changed=build.rs");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if os == "linux" && env == "gnu" && std::env::var_os("FLICKRFS_NO_LINK_SCRIPT").is_none() {
        let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
        let script = std::path::Path::new(&dir).join("lingua-models.ld");
        println!("cargo:rustc-link-arg-bins=-Wl,-T,{}", script.display());
    }
}
