//! One way to start `zp serve` (or any server that prints `listening on http://ADDR` once bound)
//! and stop it: the integration harness, the benchmarks and the contract step all use it.
//!
//! The server binds port 0 and says where it listens; nothing sleeps a fixed time. The process is
//! stopped by its own PID (SIGKILL, then reaped) when the value is dropped, on every path out,
//! and its standard output is read to the end so that it never blocks on a full pipe.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// What a server prints once it is bound.
const LISTENING: &str = "listening on http://";

/// A running server process, killed and reaped when dropped.
#[derive(Debug)]
pub struct Listening {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    /// From spawning to the `listening on` line.
    pub started_in: Duration,
    spawned_at: Instant,
    /// Every line printed on standard output so far.
    printed: Arc<Mutex<Vec<String>>>,
}

impl Listening {
    /// Spawns `command` (its standard output piped here, its standard input closed) and waits up
    /// to `within` for its `listening on http://ADDR` line. Fails, with the process killed, if it
    /// exits or stays silent.
    pub fn start(mut command: Command, within: Duration) -> io::Result<Self> {
        let spawned_at = Instant::now();
        let mut child = command.stdin(Stdio::null()).stdout(Stdio::piped()).spawn()?;
        let stdout = child.stdout.take();
        let printed = Arc::new(Mutex::new(Vec::new()));
        // From here on, the guard kills the child whatever happens.
        let mut server = Listening {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            started_in: Duration::ZERO,
            spawned_at,
            printed: Arc::clone(&printed),
        };
        let stdout = stdout.ok_or_else(|| io::Error::other("no standard output from the server"))?;
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            let mut sender = Some(sender);
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(addr) = line.strip_prefix(LISTENING)
                    && let Some(sender) = sender.take()
                {
                    let _ = sender.send((addr.trim().to_owned(), Instant::now()));
                }
                printed.lock().unwrap_or_else(PoisonError::into_inner).push(line);
            }
        });
        let (addr, at) = match receiver.recv_timeout(within) {
            Ok(found) => found,
            Err(RecvTimeoutError::Disconnected) => {
                let status = server.child.wait()?;
                return Err(io::Error::other(format!("the server exited ({status}) before listening")));
            }
            Err(RecvTimeoutError::Timeout) => {
                return Err(io::Error::other(format!(
                    "the server did not say where it listens within {within:?}"
                )));
            }
        };
        server.addr =
            addr.parse().map_err(|_| io::Error::other(format!("the server listens on {addr:?}?")))?;
        server.started_in = at.duration_since(spawned_at);
        Ok(server)
    }

    /// `http://ADDR`, without a trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The lines printed on standard output so far.
    pub fn printed(&self) -> Vec<String> {
        self.printed.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Polls `GET path` every millisecond until it answers 200, for at most `within`; returns the
    /// time from spawning.
    pub fn until_ok(&self, path: &str, within: Duration) -> io::Result<Duration> {
        let deadline = Instant::now() + within;
        loop {
            if get_status(self.addr, path).is_ok_and(|status| status == 200) {
                return Ok(self.spawned_at.elapsed());
            }
            if Instant::now() > deadline {
                return Err(io::Error::other(format!("GET {path} did not answer 200 within {within:?}")));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// kill -9: no chance to flush or finish anything. Then reaps the process.
    pub fn kill(&mut self) -> io::Result<ExitStatus> {
        self.child.kill()?;
        self.child.wait()
    }
}

impl Drop for Listening {
    fn drop(&mut self) {
        // SIGKILL to this PID only; then reap it.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The status of `GET path` on a fresh connection.
fn get_status(addr: SocketAddr, path: &str) -> io::Result<u16> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head)?;
    // "HTTP/1.1 200"
    head.get(9..12)
        .and_then(|code| std::str::from_utf8(code).ok())
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| io::Error::other("not an HTTP answer"))
}
