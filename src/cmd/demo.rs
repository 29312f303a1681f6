//! `flickrfs demo MNT` and `flickrfs emulator`: the offline quick start (the built-in emulator
//! on loopback, its `manhhai` stream mounted with a throwaway key and cache) and the emulator
//! on its own. Built only with the default `demo` feature.

use crate::cmd::args::{CommonArgs, DemoArgs, MountArgs};
use crate::config;
use flickr_emulator::{Emulator, EmulatorConfig};
use std::time::Duration;

pub fn main(args: DemoArgs) -> i32 {
    let (tx, rx) = std::sync::mpsc::channel();
    let photos = args.photos;
    std::thread::spawn(move || {
        let rt = match tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => {
                let _ = tx.send(Err(e.to_string()));
                return;
            }
        };
        rt.block_on(async move {
            match Emulator::start(EmulatorConfig {
                photos,
                ..EmulatorConfig::default()
            })
            .await
            {
                Ok(emu) => {
                    let _ = tx.send(Ok(emu.api_url()));
                    std::future::pending::<()>().await;
                }
                Err(e) => {
                    let _ = tx.send(Err(e.to_string()));
                }
            }
        });
    });
    let api_url = match rx.recv() {
        Ok(Ok(url)) => url,
        Ok(Err(e)) => {
            eprintln!("flickrfs: error: cannot start the emulator: {e}");
            return 1;
        }
        Err(_) => {
            eprintln!("flickrfs: error: cannot start the emulator");
            return 1;
        }
    };
    let tmp;
    let cache_path = match args.cache_path {
        Some(p) => p,
        None => {
            tmp = match tempfile::Builder::new().prefix("flickrfs-demo-").tempdir() {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("flickrfs: error: cannot create a cache directory: {e}");
                    return 1;
                }
            };
            tmp.path().to_path_buf()
        }
    };
    eprintln!(
        "flickrfs demo: emulator at {api_url}; mounting {photos} emulated photos of manhhai on {} (Ctrl-C to unmount)",
        args.mountpoint.display()
    );
    std::env::set_var(
        crate::cmd::keys::ENV_KEY,
        "0123456789abcdef0123456789abcdef",
    );
    std::env::set_var(crate::cmd::keys::ENV_SECRET, "demo");
    let mount = MountArgs {
        user: "manhhai".into(),
        mountpoint: args.mountpoint,
        common: CommonArgs {
            cache_path,
            consumer_key: None,
            consumer_secret: None,
            save_api_keys: false,
            debug: None,
            fifo: false,
            lifo: false,
            image_only: false,
            info_only: false,
            info_level: config::DEFAULT_INFO_LEVEL,
            verify_image: false,
            api_url: Some(api_url),
            cache_directory_depth: config::DEFAULT_DEPTH,
            concurrency: config::DEFAULT_CONCURRENCY,
            rescan: false,
            rescan_after: config::RESCAN_AFTER,
            rate_limit: config::DEFAULT_RATE_LIMIT,
        },
        no_prefetch: false,
        probe_concurrency: config::DEFAULT_PROBE_CONCURRENCY,
        refresh: Duration::from_secs(30),
        no_xattr: false,
        wait_index: false,
        fuse_wait: config::FUSE_WAIT,
        allow_other: false,
        daemon: false,
        fuse_threads: config::FUSE_THREADS as u64,
        workers: None,
    };
    crate::cmd::mount::main(mount)
}

/// `flickrfs emulator`: runs the emulator until SIGINT/SIGTERM.
pub fn emulator(args: flickr_emulator::EmulatorArgs) -> i32 {
    match flickr_emulator::run_cli(args) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("flickrfs: error: {e}");
            1
        }
    }
}
