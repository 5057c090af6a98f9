//! Fills a data directory with signed certificates for the HTTP and server benchmarks of
//! `cargo xtask bench`: `bench_seed DATA_DIR COUNT OUT_DIR`.
//!
//! The data directory is opened the way `zp serve` opens it (`Global::open`: migrations, key ring,
//! issuer URL), so the server started on it later serves these certificates and verifies their
//! tokens with its own keys. Rows go in through the store's transactions, 5,000 to a commit, with
//! tokens signed over [`Issuer::claims`] by the active key: what `Issuer::issue` would sign, without
//! one fsync and one number count per certificate, which would take many minutes at 100,000.
//!
//! Writes `OUT_DIR/ids.txt` (every certificate ID, one a line) and `OUT_DIR/tokens.txt` (up to
//! 1,000 tokens, one a line), and prints one JSON line with what it did.
// A benchmark measures wall time itself; the server's clock rule is for the server.
#![allow(clippy::disallowed_methods)]
#![allow(clippy::expect_used, reason = "a benchmark with fixed inputs: a failure is a broken setup")]
#![allow(clippy::indexing_slicing, reason = "indices are taken modulo the slice length")]

use std::collections::HashSet;
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use rand::SeedableRng;
use rand::rngs::StdRng;
use zp_server::cli::Global;
use zp_server::issuer::Issuer;
use zp_server::store::TokenRecord;

mod common;
use common::Rng;

const BATCH: usize = 5_000;
const TOKENS: usize = 1_000;
const BASE_URL: &str = "https://zp.bench.example";

fn now() -> i64 {
    zp_server::Clock::default().now()
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [data_dir, count, out_dir] = args.as_slice() else {
        eprintln!("usage: bench_seed DATA_DIR COUNT OUT_DIR");
        std::process::exit(2);
    };
    let count: usize = count.parse().expect("COUNT is a number");
    let out_dir = PathBuf::from(out_dir);
    let global = Global {
        data_dir: PathBuf::from(data_dir),
        database_url: None,
        keys_dir: None,
        base_url: Some(BASE_URL.into()),
        region: "LU".into(),
        status_ttl: 300,
        clock_offset: 0,
    };
    let issuer: Issuer = global.open(None).await.expect("open the data directory");
    let now = now();
    let key = issuer.keys.active(now).expect("a signing key");
    // Valid from a month ago for a year: every certificate is valid while the benchmark runs.
    let valid_from = now - now.rem_euclid(86_400) - 30 * 86_400;
    let mut rng = Rng(0x5EED_0000_0000_0077);
    let mut id_rng = StdRng::seed_from_u64(0x5EED_0077);
    let mut seen = HashSet::with_capacity(count);
    let mut ids = Vec::with_capacity(count);
    let mut tokens = Vec::with_capacity(TOKENS);
    let started = Instant::now();
    let mut done = 0;
    while done < count {
        let mut tx = issuer.store.begin().await.expect("begin");
        for i in done..(done + BATCH).min(count) {
            let entity = common::entity(&mut rng, i, format!("E{i:011}"), now);
            let products = common::products(&mut rng, now);
            let id = loop {
                let id = zp_server::ids::new_certificate_id(&mut id_rng);
                if seen.insert(id.clone()) {
                    break id;
                }
            };
            let names = (id.clone(), format!("ZP/LU/2026/{:06}", i + 1));
            let validity = (valid_from, valid_from + 365 * 86_400);
            let certificate = common::certificate(names, &entity, &products, i, validity, now);
            common::insert(tx.as_mut(), &entity, &certificate, &products).await.expect("insert");
            let jti = format!("{id}-{}", zp_server::ids::new_id("", &mut id_rng));
            let claims = issuer.claims(&certificate, &entity, &products, &jti, now).expect("claims");
            let token = zp_shared::token::sign(&claims, &key.key).expect("sign");
            let record = TokenRecord {
                jti,
                certificate_id: id.clone(),
                kid: key.key.kid().to_owned(),
                token,
                iat: now,
                exp: certificate.valid_until,
            };
            tx.insert_token(&record).await.expect("insert token");
            if tokens.len() < TOKENS {
                tokens.push(record.token);
            }
            ids.push(id);
        }
        tx.commit().await.expect("commit");
        done = (done + BATCH).min(count);
    }
    let fill = started.elapsed().as_secs_f64();
    let write = |name: &str, lines: &[String]| {
        let path = out_dir.join(name);
        let mut file = std::io::BufWriter::new(std::fs::File::create(&path).expect("create output file"));
        for line in lines {
            writeln!(file, "{line}").expect("write output file");
        }
        file.flush().expect("write output file");
    };
    write("ids.txt", &ids);
    write("tokens.txt", &tokens);
    println!(
        "{{\"figure\":\"seed\",\"certificates\":{count},\"tokens\":{},\"fill_s\":{fill:.2},\"base_url\":\"{BASE_URL}\"}}",
        tokens.len()
    );
}
