//! `mirror_flickr`: the classic command line of the mirror (same engine as `flickrfs mirror`).

use flickrfs::cli::{self, ClassicCli};

fn main() {
    let cli: ClassicCli = cli::parse_or_exit("mirror_flickr");
    std::process::exit(flickrfs::mirror::main(cli.args, "mirror_flickr"));
}
