//! Mail through a real SMTP server: expiry reminders with a moved clock, an SMTP outage that
//! loses nothing and sends nothing twice, and the sending rate.
//!
//! The SMTP server is `tests/smtp/sink.py` (Python's aiosmtpd, in a virtual environment of its
//! own, `target/smtp-venv`, made on first use), which keeps every message it receives as a file.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::harness::{Server, now};
use crate::lifecycle::time_date;

const DAY: i64 = 86_400;
/// The aiosmtpd release the sink runs.
const AIOSMTPD_VERSION: &str = "1.4.6";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_owned()
}

/// The sink's Python, with aiosmtpd installed in `target/smtp-venv` (created when missing, once
/// per test run; Debian's `python3-venv` is installed when the venv module is missing).
fn sink_python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    static MAKING: Mutex<()> = Mutex::new(());
    let _making = MAKING.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    PYTHON.get_or_init(|| {
        let venv = workspace().join("target").join("smtp-venv");
        let python = venv.join("bin").join("python");
        let ready = |python: &Path| {
            Command::new(python)
                .args(["-c", &format!("import aiosmtpd; assert aiosmtpd.__version__ == '{AIOSMTPD_VERSION}'")])
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|status| status.success())
        };
        if ready(&python) {
            return python;
        }
        let venv_works = Command::new("python3")
            .args(["-c", "import ensurepip, venv"])
            .status()
            .is_ok_and(|status| status.success());
        if !venv_works {
            let apt = Command::new("sh")
                .args(["-c", "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv || \
                              (sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv)"])
                .status()
                .expect("run apt-get for python3-venv");
            assert!(apt.success(), "installing python3-venv failed: install Python 3 with its venv module");
        }
        let made = Command::new("python3").args(["-m", "venv", "--clear"]).arg(&venv).status().unwrap();
        assert!(made.success(), "creating {} failed", venv.display());
        let installed = Command::new(venv.join("bin").join("pip"))
            .args(["install", "--quiet", "--disable-pip-version-check", &format!("aiosmtpd=={AIOSMTPD_VERSION}")])
            .status()
            .unwrap();
        assert!(installed.success(), "installing aiosmtpd {AIOSMTPD_VERSION} from PyPI failed");
        assert!(ready(&python), "aiosmtpd does not import after its installation");
        python
    })
}

/// A running SMTP sink, killed (by its process ID) when dropped.
pub(crate) struct Sink {
    child: Child,
    pub(crate) port: u16,
    dir: PathBuf,
}

/// A message the sink received.
pub(crate) struct Received {
    /// Nanoseconds since the epoch, by the sink's clock.
    arrived: u128,
    bytes: Vec<u8>,
}

impl Received {
    pub(crate) fn parsed(&self) -> mailparse::ParsedMail<'_> {
        mailparse::parse_mail(&self.bytes).unwrap()
    }

    pub(crate) fn header(&self, name: &str) -> String {
        let parsed = self.parsed();
        let header = parsed.headers.iter().find(|h| h.get_key_ref().eq_ignore_ascii_case(name));
        header.map(|h| h.get_value()).unwrap_or_default()
    }

    pub(crate) fn message_id(&self) -> String {
        self.header("Message-ID")
    }

    /// The plain-text and HTML parts.
    pub(crate) fn parts(&self) -> (String, String) {
        let parsed = self.parsed();
        assert_eq!(parsed.ctype.mimetype, "multipart/alternative");
        let part = |mime: &str| {
            parsed
                .subparts
                .iter()
                .find(|p| p.ctype.mimetype == mime)
                .unwrap()
                .get_body()
                .unwrap()
                .replace("\r\n", "\n")
        };
        (part("text/plain"), part("text/html"))
    }
}

impl Sink {
    /// Starts the sink on `port` (0: any free port), keeping messages in `dir`.
    pub(crate) fn start(dir: &Path, port: u16) -> Sink {
        let script = workspace().join("tests").join("smtp").join("sink.py");
        let mut child = Command::new(sink_python())
            .arg(script)
            .arg(dir)
            .arg(port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the SMTP sink");
        let mut line = String::new();
        let stdout = child.stdout.take().unwrap();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).unwrap();
        let port = line.trim().strip_prefix("port ").and_then(|p| p.parse().ok()).unwrap_or_else(|| {
            let _ = child.kill();
            panic!("the SMTP sink did not say its port: {line:?}")
        });
        Sink { child, port, dir: dir.to_owned() }
    }

    pub(crate) fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message received so far, in order of arrival.
    pub(crate) fn messages(&self) -> Vec<Received> {
        let mut found: Vec<(u128, PathBuf)> = std::fs::read_dir(&self.dir)
            .unwrap()
            .filter_map(|entry| {
                let path = entry.ok()?.path();
                let name = path.file_name()?.to_str()?.to_owned();
                let arrived = name.strip_suffix(".eml")?.split('-').next()?.parse().ok()?;
                Some((arrived, path))
            })
            .collect();
        found.sort();
        found
            .into_iter()
            .map(|(arrived, path)| Received { arrived, bytes: std::fs::read(path).unwrap() })
            .collect()
    }

    /// Waits until at least `count` messages arrived, for at most `within`.
    pub(crate) fn wait_for(&self, count: usize, within: Duration) -> Vec<Received> {
        let deadline = Instant::now() + within;
        loop {
            let messages = self.messages();
            if messages.len() >= count {
                return messages;
            }
            assert!(
                Instant::now() < deadline,
                "{} of {count} messages arrived within {within:?}",
                messages.len()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub(crate) fn stop(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A letter's row in the outbox, read from the server's SQLite database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Row {
    pub(crate) id: i64,
    pub(crate) kind: String,
    pub(crate) state: String,
    pub(crate) attempts: i64,
    pub(crate) message_id: String,
}

pub(crate) fn outbox(server: &Server) -> Vec<Row> {
    let url = format!("sqlite:{}?mode=ro", server.data.join("zp.sqlite3").display());
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        use sqlx::{Connection, Row as _};
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
        let rows = sqlx::query("SELECT id, kind, state, attempts, message_id FROM outbox ORDER BY id")
            .fetch_all(&mut conn)
            .await
            .unwrap();
        rows.iter()
            .map(|r| Row {
                id: r.get(0),
                kind: r.get(1),
                state: r.get(2),
                attempts: r.get(3),
                message_id: r.get(4),
            })
            .collect()
    })
}

/// Polls the outbox until `done` holds, for at most `within`.
pub(crate) fn wait_outbox(
    server: &Server,
    within: Duration,
    what: &str,
    done: impl Fn(&[Row]) -> bool,
) -> Vec<Row> {
    let deadline = Instant::now() + within;
    loop {
        let rows = outbox(server);
        if done(&rows) {
            return rows;
        }
        assert!(Instant::now() < deadline, "the outbox never came to {what}: {rows:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// An entity with an e-mail contact, through the admin API.
fn entity(server: &Server, name: &str, contact: &str) -> String {
    let body = json!({
        "name": name,
        "legal_form": "social_cooperative",
        "domains": ["sklep.example.pl"],
        "city": "Lublin",
        "contact": contact,
    });
    server.admin("/entities", &body)["id"].as_str().unwrap().to_owned()
}

fn issue(server: &Server, entity: &str) -> serde_json::Value {
    server
        .admin("/certificates", &json!({ "entity_id": entity, "products": [{ "name": "Powidła śliwkowe" }] }))
}

/// The clock offset at which `days` days and a minute are left of a validity ending at `until`
/// (a minute into the threshold, whatever the time the restart takes).
fn offset_for(until: i64, days: i64) -> String {
    (until - days * DAY + 60 - now()).to_string()
}

fn serve_args<'a>(smtp: &'a str, offset: &'a str) -> Vec<&'a str> {
    vec!["--smtp-url", smtp, "--clock-offset", offset, "--mail-retry-after", "1"]
}

fn reminder_kinds(rows: &[Row]) -> Vec<String> {
    rows.iter().filter(|r| r.kind.starts_with("reminder.")).map(|r| r.kind.clone()).collect()
}

#[test]
fn reminders_come_once_per_threshold_as_the_clock_moves() {
    let _busy = crate::busy();
    let mail = tempfile::tempdir().unwrap();
    let sink = Sink::start(mail.path(), 0);
    let smtp = sink.url();
    let server = Server::start_with(&["--smtp-url", &smtp]);
    let name = "Spółdzielnia Socjalna „Łąka” z Żółkiewki";
    let las = entity(&server, name, "Jan Łąka, biuro@laka.example.pl, tel. 81 000 00 00");
    let cert = issue(&server, &las);
    let (id, number) = (cert["id"].as_str().unwrap().to_owned(), cert["number"].as_str().unwrap().to_owned());
    let until = cert["valid_until_unix"].as_i64().unwrap();
    let from = cert["valid_from_unix"].as_i64().unwrap_or(until - 365 * DAY);
    assert!(outbox(&server).is_empty(), "a year ahead, no reminder yet");

    // 60 days before the end: exactly the 60-day reminder.
    let offset = offset_for(until, 60);
    let server = server.kill_hard_and_restart_with(&serve_args(&smtp, &offset));
    let received = sink.wait_for(1, Duration::from_secs(30));
    assert_eq!(received.len(), 1);
    let letter = &received[0];
    let rows = wait_outbox(&server, Duration::from_secs(10), "one sent letter", |rows| {
        rows.len() == 1 && rows[0].state == "sent"
    });
    assert_eq!(rows[0].kind, "reminder.60");
    assert_eq!(letter.message_id(), rows[0].message_id, "the Message-ID fixed at enqueue is the one sent");
    let host = server.base.trim_start_matches("http://").split(':').next().unwrap().to_owned();
    assert!(letter.message_id().ends_with(&format!("@{host}>")), "{}", letter.message_id());
    assert_eq!(
        letter.header("Subject"),
        format!("Certyfikat {number} wygasa za 60 dni / Certificate expires in 60 days")
    );
    let raw = String::from_utf8_lossy(&letter.bytes);
    let head = &raw[..raw.find("\r\n\r\n").unwrap()];
    assert!(head.is_ascii(), "headers are encoded: {head}");
    assert!(head.contains("=?utf-8?"), "{head}");
    let from_header = mailparse::addrparse_header(
        letter.parsed().headers.iter().find(|h| h.get_key_ref() == "From").unwrap(),
    )
    .unwrap();
    assert_eq!(from_header.to_string(), format!("\"Zakup Prospołeczny\" <no-reply@{host}>"));
    let to = letter.header("To");
    assert!(to.contains(name) && to.contains("<biuro@laka.example.pl>"), "{to}");
    let date = mailparse::dateparse(&letter.header("Date")).unwrap();
    let moved_now = now() + offset.parse::<i64>().unwrap();
    assert!((moved_now - date).abs() < 120, "dated by the server's (moved) clock: {date} vs {moved_now}");
    let (text, html) = letter.parts();
    let renew = format!("{}/apply?renew={id}", server.base);
    for part in [&text, &html] {
        assert!(part.contains(&number), "{part}");
        assert!(part.contains("Zakup Prospołeczny"), "diacritics round-trip: {part}");
        assert!(part.contains(&renew), "{part}");
    }
    let last_day = until - DAY;
    let polish = |unix: i64| {
        let iso = time_date(unix);
        format!("{}.{}.{}", &iso[8..10], &iso[5..7], &iso[0..4])
    };
    assert!(text.contains(&format!("od {} do {}", polish(from), polish(last_day))), "{text}");
    assert!(text.contains(" to ") && text.contains("(inclusive)"), "English too: {text}");
    assert!(html.contains(r#"<html lang="pl">"#) && html.contains("Łąka"), "{html}");

    // The same moment again: nothing new.
    let server = server.kill_hard_and_restart_with(&serve_args(&smtp, &offset));
    assert_eq!(outbox(&server).len(), 1, "a restart repeats no reminder");

    // 30, 7 and 0 days: one each.
    let mut server = server;
    for (days, kind) in [(30, "reminder.30"), (7, "reminder.7"), (0, "reminder.0")] {
        let offset = offset_for(until, days);
        server = server.kill_hard_and_restart_with(&serve_args(&smtp, &offset));
        let rows = outbox(&server);
        assert_eq!(reminder_kinds(&rows).last().map(String::as_str), Some(kind), "{rows:?}");
        let expected = rows.len();
        sink.wait_for(expected, Duration::from_secs(30));
        wait_outbox(&server, Duration::from_secs(10), "all sent", |rows| {
            rows.iter().all(|r| r.state == "sent")
        });
    }
    let kinds = reminder_kinds(&outbox(&server));
    assert_eq!(kinds, ["reminder.60", "reminder.30", "reminder.7", "reminder.0"]);
    let received = sink.messages();
    assert_eq!(received.len(), 4, "each reminder once");
    assert!(received[3].header("Subject").contains("wygasa dziś"));

    // A certificate first seen 5 days before its end gets only the 7-day reminder.
    drop(server);
    let mail_late = tempfile::tempdir().unwrap();
    let late_sink = Sink::start(mail_late.path(), 0);
    let late_smtp = late_sink.url();
    let late = Server::start();
    let e = entity(&late, "Fundacja „Późno”", "fundacja@pozno.example.pl");
    let cert = issue(&late, &e);
    let until = cert["valid_until_unix"].as_i64().unwrap();
    let offset = offset_for(until, 5);
    let late = late.kill_hard_and_restart_with(&serve_args(&late_smtp, &offset));
    assert_eq!(reminder_kinds(&outbox(&late)), ["reminder.7"]);
    let received = late_sink.wait_for(1, Duration::from_secs(30));
    assert!(received[0].header("Subject").contains("za 7 dni"));
    // And it stays the only one when the 7-day threshold is still the most urgent.
    let late = late.kill_hard_and_restart_with(&serve_args(&late_smtp, &offset_for(until, 3)));
    assert_eq!(reminder_kinds(&outbox(&late)), ["reminder.7"]);
    drop(sink);
}

#[test]
fn an_smtp_outage_loses_nothing_and_sends_nothing_twice() {
    let _busy = crate::busy();
    let mail = tempfile::tempdir().unwrap();
    let sink = Sink::start(mail.path(), 0);
    let port = sink.port;
    let smtp = sink.url();
    sink.stop();

    let server = Server::start_with(&["--smtp-url", &smtp]);
    let mut until = 0;
    for i in 0..3 {
        let e = entity(&server, &format!("Spółdzielnia Socjalna nr {i}"), &format!("biuro{i}@example.pl"));
        until = issue(&server, &e)["valid_until_unix"].as_i64().unwrap();
    }
    let offset = offset_for(until, 30);
    let server = server.kill_hard_and_restart_with(&serve_args(&smtp, &offset));
    let rows = wait_outbox(&server, Duration::from_secs(20), "three letters tried", |rows| {
        rows.len() == 3 && rows.iter().all(|r| r.state == "pending" && r.attempts >= 1)
    });
    assert!(rows.iter().all(|r| r.kind == "reminder.30"));

    // A restart during the outage: the letters wait on, none is written again.
    let server = server.kill_hard_and_restart_with(&serve_args(&smtp, &offset));
    let waiting = wait_outbox(&server, Duration::from_secs(20), "tried again after the restart", |rows| {
        rows.len() == 3 && rows.iter().all(|r| r.state == "pending" && r.attempts >= 2)
    });
    let expected: BTreeSet<String> = waiting.iter().map(|r| r.message_id.clone()).collect();

    // The SMTP server is back on the same port: every letter arrives, once.
    let sink = Sink::start(mail.path(), port);
    let received = sink.wait_for(3, Duration::from_secs(60));
    wait_outbox(&server, Duration::from_secs(20), "all sent", |rows| rows.iter().all(|r| r.state == "sent"));
    // A few more polls of the worker: still nothing twice.
    let server = server.kill_hard_and_restart_with(&serve_args(&smtp, &offset));
    assert_eq!(outbox(&server).len(), 3);
    let received_again = sink.messages();
    assert_eq!(received_again.len(), received.len());
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for message in &received_again {
        *counts.entry(message.message_id()).or_default() += 1;
    }
    assert!(counts.values().all(|n| *n == 1), "a letter arrived twice: {counts:?}");
    assert_eq!(counts.keys().cloned().collect::<BTreeSet<_>>(), expected);
}

#[test]
fn many_letters_due_at_once_leave_at_the_configured_rate() {
    let _busy = crate::busy();
    const LETTERS: usize = 500;
    // 3000 a minute: one every 20 ms, about 10 s for them all.
    const RATE: u64 = 3_000;
    let mail = tempfile::tempdir().unwrap();
    let sink = Sink::start(mail.path(), 0);
    let smtp = sink.url();
    let server = Server::start();
    // Every certificate ends on the same day, 60 days from now.
    let start = now() - 300 * DAY;
    let end = now() + 60 * DAY - DAY / 2;
    let mut csv = String::from("name,legal_form,domains,contact,products,valid_from,valid_until\n");
    for i in 0..LETTERS {
        csv.push_str(&format!(
            "Spółdzielnia Socjalna nr {i},social_cooperative,s{i}.example.pl,biuro{i}@example.pl,Catering,{},{}\n",
            time_date(start),
            time_date(end)
        ));
    }
    let file = server.data.parent().unwrap().join("rejestr.csv");
    std::fs::write(&file, csv).unwrap();
    let imported = server.cli(&["register", "import", file.to_str().unwrap(), "--commit"]);
    assert!(imported.status.success(), "{}", String::from_utf8_lossy(&imported.stderr));

    let rate = RATE.to_string();
    let started = Instant::now();
    let server = server.kill_hard_and_restart_with(&["--smtp-url", &smtp, "--mail-rate", &rate]);
    assert_eq!(reminder_kinds(&outbox(&server)).len(), LETTERS, "one reminder per certificate");
    let received = sink.wait_for(LETTERS, Duration::from_secs(120));
    let took = started.elapsed();
    wait_outbox(&server, Duration::from_secs(20), "all sent", |rows| rows.iter().all(|r| r.state == "sent"));
    assert_eq!(received.len(), LETTERS);
    let ids: BTreeSet<String> = received.iter().map(Received::message_id).collect();
    assert_eq!(ids.len(), LETTERS, "each letter once");

    let first = received[0].arrived;
    let span = Duration::from_nanos((received[LETTERS - 1].arrived - first) as u64);
    let spacing = Duration::from_millis(60_000 / RATE);
    let least = spacing * (LETTERS as u32 - 1) * 8 / 10;
    assert!(span >= least, "{LETTERS} letters in {span:?}: faster than {RATE} a minute (at least {least:?})");
    let in_first_second = received.iter().filter(|m| m.arrived - first < 1_000_000_000).count();
    let allowed = (1_000 / spacing.as_millis() as usize) * 3 / 2 + 1;
    assert!(in_first_second <= allowed, "{in_first_second} letters in the first second: a burst");
    // Spread evenly: no second holds much more than the rate allows.
    let mut per_second: BTreeMap<u128, usize> = BTreeMap::new();
    for message in &received {
        *per_second.entry((message.arrived - first) / 1_000_000_000).or_default() += 1;
    }
    assert!(per_second.values().all(|n| *n <= allowed), "{per_second:?}");
    println!("{LETTERS} letters sent in {span:?} (whole run {took:?}), at most {allowed} a second");
}
