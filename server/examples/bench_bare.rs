//! The baseline server of `cargo xtask bench`: a bare axum handler that answers every request with
//! a fixed 200-byte JSON body, built with the same release profile and allocator and run on the same
//! tokio runtime as `zp serve` (multi-threaded, one worker per CPU it may use, `axum::serve` with the
//! peer address).
//! Like `zp serve`, it prints `listening on http://ADDR` when ready.
//!
//! `bench_bare [ADDR] [RESPONSE]`, default 127.0.0.1:0 (any free port). With `RESPONSE`, a file
//! of header lines (`name: value`), a blank line and a body, as `cargo xtask bench` captures them
//! from a real check API lookup, it answers every request with those headers and that body
//! instead: the same bytes on the wire as the lookup, without the lookup.

use std::net::SocketAddr;
use std::process::ExitCode;

use axum::Router;

/// The allocator `zp` uses, so that the baseline differs from the server only in its handler.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// Exactly 200 bytes of JSON, about the size of a small API answer.
const BODY: &str = concat!(
    r#"{"status":"ok","id":"7K3QX9M2","number":"ZP/LU/2026/0007","entity":"Spółdzielnia Socjalna","#,
    r#""valid_from":"2026-01-01","valid_until":"2027-01-01","padding":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}"#
);

async fn fixed() -> Response {
    let mut response = BODY.into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// Reads a captured response: header lines, a blank line, the body. Headers that hyper sets for
/// each answer (length, date, connection) are left to it.
fn captured(path: &str) -> Result<(HeaderMap, axum::body::Bytes), String> {
    let text = std::fs::read_to_string(path).map_err(|err| format!("{path}: {err}"))?;
    let (head, body) =
        text.split_once("\n\n").ok_or_else(|| format!("{path}: no blank line before the body"))?;
    let mut headers = HeaderMap::new();
    for line in head.lines() {
        let (name, value) = line.split_once(':').ok_or_else(|| format!("{path}: not a header: {line}"))?;
        let name = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|err| format!("{line}: {err}"))?;
        if [header::CONTENT_LENGTH, header::DATE, header::CONNECTION, header::TRANSFER_ENCODING]
            .contains(&name)
        {
            continue;
        }
        let value = HeaderValue::from_str(value.trim()).map_err(|err| format!("{line}: {err}"))?;
        headers.append(name, value);
    }
    Ok((headers, axum::body::Bytes::from(body.to_owned())))
}

fn main() -> ExitCode {
    let addr: SocketAddr = match std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:0".into()).parse() {
        Ok(addr) => addr,
        Err(err) => {
            eprintln!("bench_bare: bad address: {err}");
            return ExitCode::from(2);
        }
    };
    let like = match std::env::args().nth(2).map(|path| captured(&path)).transpose() {
        Ok(like) => like,
        Err(err) => {
            eprintln!("bench_bare: {err}");
            return ExitCode::from(2);
        }
    };
    // The runtime `zp` builds in `cli::main`.
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("bench_bare: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let served = runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        println!("listening on http://{}", listener.local_addr()?);
        let app = match like {
            Some((headers, body)) => {
                let same = move || {
                    let (headers, body) = (headers.clone(), body.clone());
                    async move { (headers, body).into_response() }
                };
                Router::new().route("/healthz", get(fixed)).fallback(same)
            }
            None => Router::new().route("/healthz", get(fixed)).fallback(fixed),
        };
        axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await
    });
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("bench_bare: {err}");
            ExitCode::FAILURE
        }
    }
}
