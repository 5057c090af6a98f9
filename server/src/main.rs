//! `zp`: the issuer's server and command line.

fn main() -> std::process::ExitCode {
    zp_server::cli::main()
}
