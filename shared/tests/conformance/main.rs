//! Conformance of the verifier: external vectors, one test per attack, and round-trip
//! properties. The same binary runs natively and on wasm32 (under wasm-bindgen-test), so the
//! browser and the server are held to the same verdicts.

#![cfg(test)]

mod attacks;
mod common;
#[cfg(not(target_arch = "wasm32"))]
mod props;
mod status;
mod vectors;
