//! The `distropanel` binary: parses the command line and hands it to `cli::run`.

use clap::Parser;

use distropanel::cli::{Cli, run};

fn main() {
    return_large_buffers_to_the_system();
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|error| {
            eprintln!("error: starting the runtime: {error}");
            std::process::exit(1);
        });
    if let Err(error) = runtime.block_on(run(cli)) {
        eprintln!("error: {error:#}");
        std::process::exit(1);
    }
}

/// Buffers of 256 KiB and more (a part of an upload read back, a chunk received, a PostgreSQL
/// result holding one) are mapped for themselves and unmapped when freed. By default glibc
/// raises that threshold to the size of the first such buffer freed, and from then on keeps
/// freed buffers in per-thread arenas: a 1 GiB image install through the API then left the
/// server 40 MiB larger for good.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn return_large_buffers_to_the_system() {
    // SAFETY: mallopt only sets a parameter of the allocator, before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn return_large_buffers_to_the_system() {}
