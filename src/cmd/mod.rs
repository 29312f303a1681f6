//! The commands: one file each (`mirror`, `mount` with `unmount`, `status`, `search`, `demo`,
//! the hidden `synth` for benchmarks),
//! plus what they share: the clap arguments (`args`), mountpoint checks and stale-mount
//! clean-up (`mountpoint`), the start-up every networked command
//! does (`bootstrap`: runtime, keys, client, cache checks, shutdown signal), key handling
//! (`keys`) and log set-up (`logging`). Commands return exit codes; nothing here is called by
//! a lower layer.

pub mod args;
pub mod bootstrap;
#[cfg(feature = "demo")]
pub mod demo;
pub mod keys;
pub mod logging;
pub mod mirror;
pub mod mount;
pub mod mountpoint;
pub mod search;
pub mod status;
pub mod synth;
