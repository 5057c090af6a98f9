//! Registry search at 100,000 certificates on SQLite: 1,000 one-word searches, p50 and p99,
//! against 1,000 primary-key lookups of a certificate as the baseline. Writes a temporary
//! database, prints one JSON object per line for `cargo xtask bench`, and removes the database.

#![allow(clippy::expect_used, reason = "a benchmark with fixed inputs: a failure is a broken setup")]
#![allow(clippy::indexing_slicing, reason = "indices are taken modulo the slice length")]

use std::time::{Duration, Instant};

use zp_server::issuer::search_text;
use zp_server::store::sqlite::SqliteStore;
use zp_server::store::{CertState, CertificateRecord, EntityRecord, ProductRecord, SearchQuery, Store};

const CERTIFICATES: usize = 100_000;
const QUERIES: usize = 1_000;
const BATCH: usize = 5_000;

const FIRST: &[&str] = &[
    "Spółdzielnia Socjalna",
    "Fundacja",
    "Stowarzyszenie",
    "Centrum Integracji Społecznej",
    "Zakład Aktywności Zawodowej",
    "Warsztat Terapii Zajęciowej",
];
const NAMES: &[&str] = &[
    "Zielony Słoik",
    "Dobre Ręce",
    "Pod Lipą",
    "Nowy Start",
    "Razem",
    "Pracownia Smaku",
    "Słoneczna",
    "Wspólna Sprawa",
    "Kuźnia",
    "Ogród",
    "Przystań",
    "Tęcza",
    "Zdrój",
    "Mozaika",
    "Warsztat",
];
const CITIES: &[(&str, &str)] = &[
    ("Lublin", "lubelskie"),
    ("Chełm", "lubelskie"),
    ("Zamość", "lubelskie"),
    ("Kraków", "małopolskie"),
    ("Gdańsk", "pomorskie"),
    ("Łódź", "łódzkie"),
    ("Poznań", "wielkopolskie"),
    ("Wrocław", "dolnośląskie"),
    ("Białystok", "podlaskie"),
    ("Rzeszów", "podkarpackie"),
];
const PRODUCTS: &[&str] = &[
    "Powidła śliwkowe",
    "Usługi cateringowe",
    "Pieczywo",
    "Sprzątanie biur",
    "Szycie odzieży",
    "Meble ogrodowe",
    "Ceramika",
    "Pielęgnacja zieleni",
    "Usługi pralnicze",
    "Miód wielokwiatowy",
    "Przetwory owocowe",
    "Druk i introligatorstwo",
    "Naprawa rowerów",
    "Opieka nad seniorami",
];
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

/// xorshift64*: a fixed-seed sequence, so every run builds the same registry.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next() % items.len() as u64) as usize]
    }
}

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
            let (city, voivodeship) = *rng.pick(CITIES);
            let entity = EntityRecord {
                id: format!("E{i:07}"),
                name: format!("{} „{} {}”", rng.pick(FIRST), rng.pick(NAMES), i),
                legal_form: "social_cooperative".into(),
                nip: Some(format!("{:010}", rng.next() % 10_000_000_000)),
                regon: None,
                krs: Some(format!("{:010}", i)),
                city: Some(city.into()),
                voivodeship: Some(voivodeship.into()),
                domains: vec![format!("podmiot{i}.pl")],
                contact: None,
                created_at: now,
            };
            tx.insert_entity(&entity).await.expect("insert entity");
            let products: Vec<ProductRecord> = (0..1 + rng.next() % 3)
                .map(|_| ProductRecord { name: (*rng.pick(PRODUCTS)).into(), gtin: None, added_at: now })
                .collect();
            let id = format!("C{i:07}");
            let number = format!("ZP/LU/2026/{i:06}");
            let search_text = search_text(&id, &number, &entity, &products);
            let certificate = CertificateRecord {
                id: id.clone(),
                number,
                entity_id: entity.id.clone(),
                status_idx: i as i64,
                state: CertState::Active,
                valid_from: now,
                valid_until: now + 365 * 86_400 + (rng.next() % 365) as i64 * 86_400,
                reason: None,
                public_note: None,
                search_text,
                created_at: now,
                updated_at: now,
            };
            tx.insert_certificate(&certificate).await.expect("insert certificate");
            for (position, product) in products.iter().enumerate() {
                tx.insert_product(&id, position as i64, product).await.expect("insert product");
            }
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
