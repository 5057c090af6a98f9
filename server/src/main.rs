//! `zp`: the issuer's server and command line.

/// mimalloc rather than the C library's allocator: every request allocates and frees its
/// buffers, header maps and futures, and glibc's malloc spent a tenth of a cached lookup's CPU
/// time on them (merging free chunks for hyper's 8 KiB read buffers among it); see the check API
/// figures of `cargo xtask bench http`.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    zp_server::cli::main()
}
