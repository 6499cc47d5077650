//! The `distropanel` binary: parses the command line and hands it to `cli::run`.

use clap::Parser;

use distropanel::cli::{Cli, run};

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    if let Err(error) = run(cli).await {
        eprintln!("error: {error:#}");
        std::process::exit(1);
    }
}
