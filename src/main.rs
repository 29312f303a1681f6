//! `flickrfs`: the command-line entry point; parses arguments and hands over to a command.

use flickrfs::cli::{self, Cli, Command};

fn main() {
    let cli: Cli = cli::parse_or_exit("flickrfs");
    let code = match cli.command {
        Command::Mirror(args) => flickrfs::mirror::main(args, "flickrfs"),
        Command::Mount(args) => flickrfs::mount::main(args),
        Command::Unmount(args) => flickrfs::mount::unmount(args),
        Command::Status(args) => flickrfs::status::main(args),
        Command::Search(args) => flickrfs::search_cmd::main(args),
        Command::Demo(args) => flickrfs::demo::main(args),
        Command::Emulator(args) => match flickrfs::emulator::run_cli(args) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("flickrfs: error: {e}");
                1
            }
        },
    };
    std::process::exit(code);
}
