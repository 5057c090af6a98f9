//! The baseline of the verify endpoint's figure in `cargo xtask bench`: bare Ed25519
//! `verify_strict` per second on one thread, over the tokens `bench_seed` wrote, with the
//! issuer's public key from the same data directory.
//!
//! `bench_raw_verify DATA_DIR TOKENS_FILE SECONDS ROUNDS` prints one JSON line with the rate of
//! each round. Run it pinned to the CPU the server is pinned to.
// A benchmark measures wall time itself; the server's clock rule is for the server.
#![allow(clippy::disallowed_methods)]
#![allow(clippy::expect_used, reason = "a benchmark with fixed inputs: a failure is a broken setup")]

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use ed25519_dalek::{Signature, VerifyingKey};
use zp_server::cli::Global;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [data_dir, tokens, seconds, rounds] = args.as_slice() else {
        eprintln!("usage: bench_raw_verify DATA_DIR TOKENS_FILE SECONDS ROUNDS");
        std::process::exit(2);
    };
    let seconds: f64 = seconds.parse().expect("SECONDS is a number");
    let rounds: usize = rounds.parse().expect("ROUNDS is a number");
    let global = Global {
        data_dir: PathBuf::from(data_dir),
        database_url: None,
        keys_dir: None,
        base_url: None,
        region: "LU".into(),
        status_ttl: 300,
        clock_offset: 0,
    };
    let issuer = global.open(None).await.expect("open the data directory");
    let now = global.clock().now();
    let keys = issuer.key_set(now).await.expect("the published keys");
    let text = std::fs::read_to_string(tokens).expect("read the tokens");
    // What the signature check needs, prepared outside the timed loop: the signing input, the
    // decoded signature, the key named by the token's kid.
    let prepared: Vec<(String, Signature, VerifyingKey)> = text
        .lines()
        .filter(|line| !line.is_empty())
        .map(|token| {
            let untrusted = zp_shared::UntrustedToken::parse(token).expect("a token");
            let public = keys.get(untrusted.kid()).expect("the token's key is published");
            let key = VerifyingKey::from_bytes(public.as_bytes()).expect("an Ed25519 key");
            let (input, signature) = token.rsplit_once('.').expect("three parts");
            let signature = zp_shared::base64url::decode(signature).expect("base64url signature");
            let signature = Signature::from_slice(&signature).expect("64-byte signature");
            key.verify_strict(input.as_bytes(), &signature).expect("the signature verifies");
            (input.to_owned(), signature, key)
        })
        .collect();
    assert!(!prepared.is_empty(), "no tokens in {tokens}");
    let mut rates = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let started = Instant::now();
        let until = Duration::from_secs_f64(seconds);
        let mut done = 0u64;
        while started.elapsed() < until {
            for (input, signature, key) in &prepared {
                let ok = black_box(key).verify_strict(black_box(input.as_bytes()), black_box(signature));
                black_box(ok.is_ok());
                done += 1;
            }
        }
        rates.push(done as f64 / started.elapsed().as_secs_f64());
    }
    let rates: Vec<String> = rates.iter().map(|r| format!("{r:.1}")).collect();
    println!(
        "{{\"figure\":\"raw_verify\",\"tokens\":{},\"per_second\":[{}]}}",
        prepared.len(),
        rates.join(",")
    );
}
