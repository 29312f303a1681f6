//! `flickrfs`: the command-line entry point; parses arguments and hands over to a command.

use flickrfs::cmd::{self, args::Command};

fn main() {
    let cli: cmd::args::Cli = cmd::args::parse_or_exit("flickrfs");
    let code = match cli.command {
        Command::Mirror(args) => cmd::mirror::main(args, "flickrfs"),
        Command::Mount(args) => cmd::mount::main(args),
        Command::Unmount(args) => cmd::mount::unmount(args),
        Command::Status(args) => cmd::status::main(args),
        Command::Search(args) => cmd::search::main(args),
        #[cfg(feature = "demo")]
        Command::Demo(args) => cmd::demo::main(args),
        #[cfg(feature = "demo")]
        Command::Emulator(args) => cmd::demo::emulator(args),
        Command::SynthIndex(args) => cmd::synth::main(args),
    };
    std::process::exit(code);
}
