//! The status list at 1,000,000 entries (2 bits each): time to build, compress and sign a list
//! with about 1 % of entries revoked or suspended, and the size of its `lst`; the baseline is the
//! same compression of an all-valid list. Prints one JSON object per line for `cargo xtask bench`.

#![allow(clippy::expect_used, reason = "a benchmark with fixed inputs: a failure is a broken setup")]

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use std::hint::black_box;
    use std::time::Instant;

    use zp_shared::status_list::{StatusListClaims, sign_status_list};
    use zp_shared::{IssuerKey, Status, StatusList};

    const ENTRIES: u64 = 1_000_000;
    /// One entry in a hundred is not valid.
    const CHANGED: u64 = ENTRIES / 100;
    const RUNS: usize = 5;
    const ISSUER: &str = "https://zp.rops.example";

    /// xorshift64*: a fixed-seed sequence, so every run marks the same entries.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
    }

    /// The median of `RUNS` timings of `f`, in milliseconds, and its last result.
    #[allow(
        clippy::disallowed_methods,
        reason = "a benchmark measures time; the library itself never reads a clock"
    )]
    fn time<T>(mut f: impl FnMut() -> T) -> (f64, T) {
        let mut times = Vec::with_capacity(RUNS);
        let mut last = None;
        for _ in 0..RUNS {
            let started = Instant::now();
            let out = black_box(f());
            times.push(started.elapsed().as_secs_f64() * 1e3);
            last = Some(out);
        }
        times.sort_by(f64::total_cmp);
        (times.get(RUNS / 2).copied().unwrap_or(f64::NAN), last.expect("at least one run"))
    }

    fn claims(list: &StatusList) -> StatusListClaims {
        StatusListClaims {
            iss: ISSUER.into(),
            sub: format!("{ISSUER}/api/v1/status-lists/1"),
            iat: 1_795_305_600,
            exp: 1_795_305_600 + 86_400,
            ttl: 300,
            status_list: list.to_claim(),
        }
    }

    pub fn main() {
        let key = IssuerKey::from_seed(&[1; 32]).expect("seed");

        // What the issuer does when it republishes: fill the list, compress it, sign it.
        let (generate_ms, (lst_chars, zlib_bytes, token_bytes, changed)) = time(|| {
            let mut list = StatusList::new(2, ENTRIES).expect("list");
            let mut rng = Rng(0x5EED_1234_ABCD_0001);
            let mut changed = 0u64;
            for _ in 0..CHANGED {
                let idx = rng.next() % ENTRIES;
                let status = if rng.next().is_multiple_of(4) { Status::Suspended } else { Status::Revoked };
                if list.get(idx).expect("in range") == 0 {
                    changed += 1;
                }
                list.set(idx, status.value()).expect("in range");
            }
            let claims = claims(&list);
            let token = sign_status_list(&claims, &key).expect("sign");
            let lst = &claims.status_list.lst;
            let zlib = zp_shared::base64url::decode(lst).expect("base64url").len();
            (lst.len(), zlib, token.len(), changed)
        });

        // Baseline: compressing the all-valid list of the same length.
        let empty = StatusList::new(2, ENTRIES).expect("list");
        let (baseline_ms, baseline_claim) = time(|| empty.to_claim());
        let baseline_zlib = zp_shared::base64url::decode(&baseline_claim.lst).expect("base64url").len();

        println!(
            "{{\"figure\":\"status_list\",\"entries\":{ENTRIES},\"not_valid\":{changed},\"runs\":{RUNS},\
             \"generate_ms\":{generate_ms:.3},\"lst_chars\":{lst_chars},\"zlib_bytes\":{zlib_bytes},\
             \"token_bytes\":{token_bytes}}}"
        );
        println!(
            "{{\"figure\":\"status_list_baseline\",\"entries\":{ENTRIES},\"runs\":{RUNS},\
             \"to_claim_ms\":{baseline_ms:.3},\"lst_chars\":{},\"zlib_bytes\":{baseline_zlib}}}",
            baseline_claim.lst.len()
        );
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    native::main();
}

#[cfg(target_arch = "wasm32")]
fn main() {}
