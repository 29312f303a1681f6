//! `mirror_flickr`: the classic command line of the mirror (same engine as `flickrfs mirror`).

use flickrfs::cmd::args::{self, ClassicCli};

fn main() {
    let cli: ClassicCli = args::parse_or_exit("mirror_flickr");
    std::process::exit(flickrfs::cmd::mirror::main(cli.args, "mirror_flickr"));
}
