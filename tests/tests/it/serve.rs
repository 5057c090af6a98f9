//! `zp serve` against slow and greedy clients: idle and half-open connections beyond one
//! client's cap leave the others served, and the header, body and idle timeouts close what
//! stalls. `/metrics` is served only on its own address. Every wait is bounded.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use socket2::{Domain, Socket, Type};

use crate::harness::{Launch, Server};

fn address(server: &Server) -> SocketAddr {
    server.url.trim_start_matches("http://").parse().unwrap()
}

/// A TCP connection to the server from `source`, another loopback address: another client.
fn connect_from(source: [u8; 4], server: &Server) -> TcpStream {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    socket.bind(&SocketAddr::from((source, 0)).into()).unwrap();
    socket.connect_timeout(&address(server).into(), Duration::from_secs(5)).unwrap();
    socket.into()
}

/// Waits, at most until `deadline`, for the server to close `stream`; returns when it did.
/// Whatever the server sends before closing (a 408, say) is read and ignored.
fn closed_by_server(stream: &mut TcpStream, deadline: Instant) -> Option<Instant> {
    let mut buf = [0u8; 1024];
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        stream.set_read_timeout(Some(left.max(Duration::from_millis(1)))).unwrap();
        match stream.read(&mut buf) {
            Ok(0) => return Some(Instant::now()),
            Ok(_) => {}
            Err(err) if matches!(err.kind(), ErrorKind::ConnectionReset | ErrorKind::BrokenPipe) => {
                return Some(Instant::now());
            }
            Err(err) if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => return None,
            Err(err) => panic!("reading from the server: {err}"),
        }
    }
}

/// Reads one response with a `Content-Length` body; returns its status line and headers.
fn read_response(stream: &mut TcpStream) -> String {
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut received = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        if let Some(end) = received.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&received[..end]).into_owned();
            let length: usize = head
                .lines()
                .find_map(|line| {
                    line.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_owned())
                })
                .map_or(0, |v| v.parse().unwrap());
            if received.len() >= end + 4 + length {
                return head;
            }
        }
        let n = stream.read(&mut buf).expect("a response within 10 s");
        assert!(n > 0, "the server closed the connection before answering: {received:?}");
        received.extend_from_slice(&buf[..n]);
    }
}

#[test]
fn idle_and_half_open_connections_from_one_client_leave_the_others_served() {
    // A file limit low enough that, with no cap per client, these connections would use up
    // every descriptor the server has; the limits come from the environment this time.
    let launch = Launch {
        env: &[("ZP_MAX_CONNECTIONS_PER_IP", "16"), ("ZP_HEADER_TIMEOUT", "3"), ("ZP_IDLE_TIMEOUT", "3")],
        open_files: Some(128),
    };
    let server = Server::start_launched(&[], &launch);
    let mut greedy: Vec<TcpStream> = (0..200)
        .map(|i| {
            let mut stream = connect_from([127, 0, 0, 2], &server);
            if i % 2 == 0 {
                // Half a request head, never finished.
                stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: zp.test\r\n").ok();
            }
            stream
        })
        .collect();

    // Everyone else is still served, at once.
    let client = reqwest::blocking::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
    for _ in 0..3 {
        let started = Instant::now();
        let response = client.get(server.at("/healthz")).send().expect("/healthz answers another client");
        assert_eq!(response.status(), 200);
        assert!(started.elapsed() < Duration::from_secs(2), "/healthz took {:?}", started.elapsed());
    }

    // The connections beyond the cap were closed at once, the others at the header timeout.
    let deadline = Instant::now() + Duration::from_secs(15);
    let open =
        greedy.iter_mut().map(|stream| closed_by_server(stream, deadline)).filter(Option::is_none).count();
    assert_eq!(open, 0, "connections still open 15 s after a 3 s header timeout");
}

#[test]
fn stalled_requests_and_idle_connections_are_closed_after_their_timeouts() {
    let server = Server::start_with(&["--header-timeout", "1", "--body-timeout", "1", "--idle-timeout", "3"]);
    let within = |started: Instant, closed: Option<Instant>, low: f64, high: f64, what: &str| {
        let closed = closed.unwrap_or_else(|| panic!("{what}: still open after {high} s"));
        let after = (closed - started).as_secs_f64();
        assert!(
            after >= low && after <= high,
            "{what}: closed after {after:.2} s, not within {low}..{high} s"
        );
    };

    // A connection that sends nothing, and one that stops in the middle of its request head.
    let started = Instant::now();
    let mut silent = connect_from([127, 0, 0, 1], &server);
    let mut partial = connect_from([127, 0, 0, 1], &server);
    partial.write_all(b"GET /healthz HTTP/1.1\r\nHost: zp.test\r\nAccept: ").unwrap();
    let deadline = started + Duration::from_secs(6);
    within(started, closed_by_server(&mut silent, deadline), 0.5, 4.0, "a silent connection");
    within(started, closed_by_server(&mut partial, deadline), 0.5, 4.0, "a half-sent request head");

    // A body that stops arriving gets 408 at the body timeout.
    let mut slow_body = connect_from([127, 0, 0, 1], &server);
    let started = Instant::now();
    slow_body
        .write_all(
            b"POST /api/v1/verify HTTP/1.1\r\nHost: zp.test\r\nContent-Type: application/json\r\n\
              Content-Length: 100\r\n\r\n{\"token\":\"",
        )
        .unwrap();
    let head = read_response(&mut slow_body);
    let after = started.elapsed().as_secs_f64();
    assert!(head.starts_with("HTTP/1.1 408"), "a stalled body: {head}");
    assert!((0.5..=4.0).contains(&after), "the 408 came after {after:.2} s");

    // A keep-alive connection may wait for its next request longer than a head may take to
    // arrive: the idle timeout (3 s), not the header timeout (1 s).
    let mut kept = connect_from([127, 0, 0, 1], &server);
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: zp.test\r\n\r\n").unwrap();
    assert!(read_response(&mut kept).starts_with("HTTP/1.1 200"));
    let started = Instant::now();
    std::thread::sleep(Duration::from_millis(1_500));
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: zp.test\r\n\r\n").unwrap();
    assert!(read_response(&mut kept).starts_with("HTTP/1.1 200"), "still open after 1.5 s idle");
    let started_idle = Instant::now();
    within(
        started_idle,
        closed_by_server(&mut kept, started + Duration::from_secs(10)),
        2.0,
        6.0,
        "an idle keep-alive connection",
    );
}

#[test]
fn metrics_are_served_only_on_their_own_address() {
    let server = Server::start();
    assert_eq!(server.get("/metrics").status(), 404, "no /metrics on the public address by default");

    let server = Server::start_with(&["--metrics-bind", "127.0.0.1:0"]);
    assert_eq!(server.get("/healthz").status(), 200);
    assert_eq!(server.get("/metrics").status(), 404, "never on the public address");
    let metrics = server.printed("metrics:");
    let response = server.http.get(&metrics).send().unwrap();
    assert_eq!(response.status(), 200, "{metrics}");
    let text = response.text().unwrap();
    assert!(text.contains("zp_http_requests_total"), "{text}");
    assert!(text.contains("route=\"/healthz\""), "{text}");
    let other = metrics.replace("/metrics", "/healthz");
    assert_eq!(server.http.get(&other).send().unwrap().status(), 404, "only /metrics on {metrics}");
}
