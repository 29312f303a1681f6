//! The `flickrfs` binary (for now only `flickrfs emulator`; the other subcommands come with cli.rs).

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "flickrfs",
    version,
    about = "Mirror or mount a Flickr user's public photostream as files"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the built-in Flickr emulator on 127.0.0.1.
    Emulator(flickrfs::emulator::EmulatorArgs),
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Emulator(args) => flickrfs::emulator::run_cli(args),
    };
    if let Err(e) = result {
        eprintln!("flickrfs: {e}");
        std::process::exit(1);
    }
}
