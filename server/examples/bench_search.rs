//! Registry search at 100,000 certificates on SQLite: 1,000 one-word searches, p50 and p99,
//! against 1,000 primary-key lookups of a certificate as the baseline. Writes a temporary
//! database, prints one JSON object per line for `cargo xtask bench`, and removes the database.
// A benchmark measures wall time itself; the server's clock rule is for the server.
#![allow(clippy::disallowed_methods)]
#![allow(clippy::expect_used, reason = "a benchmark with fixed inputs: a failure is a broken setup")]
#![allow(clippy::indexing_slicing, reason = "indices are taken modulo the slice length")]

use std::time::{Duration, Instant};

use zp_server::store::sqlite::SqliteStore;
use zp_server::store::{SearchQuery, Store};

mod common;
use common::Rng;

const CERTIFICATES: usize = 100_000;
const QUERIES: usize = 1_000;
const BATCH: usize = 5_000;

/// What people type into the registry's search box: a town, a product, a word of a name.
const QUERY_WORDS: &[&str] = &[
    "lublin",
    "chelm",
    "krakow",
    "gdansk",
    "powidla",
    "catering",
    "pieczywo",
    "sprzatanie",
    "ceramika",
    "miod",
    "rowerow",
    "seniorami",
    "fundacja",
    "spoldzielnia",
    "sloik",
    "lipa",
    "tecza",
    "mozaika",
    "zdroj",
    "kuznia",
    "przetwory",
    "meble",
    "szycie",
    "pralnicze",
];

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1].as_secs_f64() * 1e3
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = SqliteStore::open(&dir.path().join("bench.sqlite")).await.expect("open the store");
    let mut rng = Rng(0x5EED_0000_0000_0042);
    let now = 1_795_305_600;

    let filling = Instant::now();
    let mut batch_start = 0;
    while batch_start < CERTIFICATES {
        let mut tx = store.begin().await.expect("begin");
        for i in batch_start..(batch_start + BATCH).min(CERTIFICATES) {
            let entity = common::entity(&mut rng, i, format!("E{i:07}"), now);
            let products = common::products(&mut rng, now);
            let valid_until = now + 365 * 86_400 + (rng.next() % 365) as i64 * 86_400;
            let names = (format!("C{i:07}"), format!("ZP/LU/2026/{i:06}"));
            let certificate = common::certificate(names, &entity, &products, i, (now, valid_until), now);
            common::insert(tx.as_mut(), &entity, &certificate, &products).await.expect("insert");
        }
        tx.commit().await.expect("commit");
        batch_start += BATCH;
    }
    eprintln!("filled {CERTIFICATES} certificates in {:.1} s", filling.elapsed().as_secs_f64());

    let mut search = Vec::with_capacity(QUERIES);
    let mut found = 0usize;
    for _ in 0..QUERIES {
        let query =
            SearchQuery { terms: vec![(*rng.pick(QUERY_WORDS)).into()], limit: 20, ..Default::default() };
        let started = Instant::now();
        found += store.search(&query).await.expect("search").len();
        search.push(started.elapsed());
    }
    let mut lookup = Vec::with_capacity(QUERIES);
    for _ in 0..QUERIES {
        let id = format!("C{:07}", rng.next() % CERTIFICATES as u64);
        let started = Instant::now();
        store.certificate(&id).await.expect("lookup").expect("the certificate exists");
        lookup.push(started.elapsed());
    }
    search.sort();
    lookup.sort();
    println!(
        "{{\"figure\":\"search\",\"certificates\":{CERTIFICATES},\"queries\":{QUERIES},\"limit\":20,\
         \"mean_results\":{:.1},\"p50_ms\":{:.3},\"p99_ms\":{:.3}}}",
        found as f64 / QUERIES as f64,
        percentile(&search, 50.0),
        percentile(&search, 99.0)
    );
    println!(
        "{{\"figure\":\"search_baseline\",\"lookups\":{QUERIES},\"p50_ms\":{:.3},\"p99_ms\":{:.3}}}",
        percentile(&lookup, 50.0),
        percentile(&lookup, 99.0)
    );
    drop(store);
}
