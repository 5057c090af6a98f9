//! The registry the benchmark examples fill (`bench_search`, `bench_seed`): entities, products and
//! certificates drawn from fixed word lists by a fixed-seed generator, so every run builds the
//! same data, inserted through the store's transactions as the issuer would.

use zp_server::issuer::search_text;
use zp_server::store::{CertState, CertificateRecord, EntityRecord, ProductRecord, StoreResult, Tx};

pub const FIRST: &[&str] = &[
    "Spółdzielnia Socjalna",
    "Fundacja",
    "Stowarzyszenie",
    "Centrum Integracji Społecznej",
    "Zakład Aktywności Zawodowej",
    "Warsztat Terapii Zajęciowej",
];
pub const NAMES: &[&str] = &[
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
pub const CITIES: &[(&str, &str)] = &[
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
pub const PRODUCTS: &[&str] = &[
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

/// xorshift64*: a fixed-seed sequence.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next() % items.len() as u64) as usize]
    }
}

/// The `i`-th entity, under `id`: a social-economy name, a town, a NIP, a KRS and a domain.
pub fn entity(rng: &mut Rng, i: usize, id: String, now: i64) -> EntityRecord {
    let (city, voivodeship) = *rng.pick(CITIES);
    EntityRecord {
        id,
        name: format!("{} „{} {}”", rng.pick(FIRST), rng.pick(NAMES), i),
        legal_form: "social_cooperative".into(),
        // Unique, as the store requires: drawn at random, 100,000 of them would collide.
        nip: Some(format!("{:010}", 7_000_000_000 + i)),
        regon: None,
        krs: Some(format!("{i:010}")),
        city: Some(city.into()),
        voivodeship: Some(voivodeship.into()),
        domains: vec![format!("podmiot{i}.pl")],
        contact: None,
        created_at: now,
    }
}

/// One to three products.
pub fn products(rng: &mut Rng, now: i64) -> Vec<ProductRecord> {
    (0..1 + rng.next() % 3)
        .map(|_| ProductRecord { name: (*rng.pick(PRODUCTS)).into(), gtin: None, added_at: now })
        .collect()
}

/// An active certificate of `entity` for `products`, valid from `valid_from` to `valid_until`,
/// with entry `i` of the status list.
pub fn certificate(
    (id, number): (String, String),
    entity: &EntityRecord,
    products: &[ProductRecord],
    i: usize,
    (valid_from, valid_until): (i64, i64),
    now: i64,
) -> CertificateRecord {
    CertificateRecord {
        search_text: search_text(&id, &number, entity, products),
        id,
        number,
        entity_id: entity.id.clone(),
        status_idx: i as i64,
        state: CertState::Active,
        valid_from,
        valid_until,
        reason: None,
        public_note: None,
        created_at: now,
        updated_at: now,
    }
}

/// Inserts the entity, the certificate and its products in `tx`.
pub async fn insert(
    tx: &mut dyn Tx,
    entity: &EntityRecord,
    certificate: &CertificateRecord,
    products: &[ProductRecord],
) -> StoreResult<()> {
    tx.insert_entity(entity).await?;
    tx.insert_certificate(certificate).await?;
    for (position, product) in products.iter().enumerate() {
        tx.insert_product(&certificate.id, position as i64, product).await?;
    }
    Ok(())
}
