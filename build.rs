//! Build script: on Linux, links the binaries with `startup-layout.ld`, which moves what a
//! start-up never reads (lingua's language models, about 50 MB; the code and data of HTTP,
//! TLS, regex and language detection; the unwind tables) to the end of the file, behind an
//! 8 MB hole, away from the code and data that a cold start reads from disk.

fn main() {
    println!("cargo:rerun-if-changed=startup-layout.ld");
    println!("cargo:rerun-if-changed=build.rs");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if os == "linux" && env == "gnu" && std::env::var_os("FLICKRFS_NO_LINK_SCRIPT").is_none() {
        let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
        let script = std::path::Path::new(&dir).join("startup-layout.ld");
        println!("cargo:rustc-link-arg-bins=-Wl,-T,{}", script.display());
    }
}
