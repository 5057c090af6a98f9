//! One throwaway PostgreSQL cluster per run of this test binary, from `scripts/postgres.sh`
//! (which installs PostgreSQL from Debian's packages when it is missing), and a fresh database
//! in it for each test. The script's watcher stops the cluster by its process id and deletes
//! its directory when this process exits, however the run ends.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().join("scripts").join("postgres.sh")
}

/// Runs the script and returns the URL it prints.
fn run_script(args: &[&str]) -> String {
    let output = Command::new("bash")
        .arg(script())
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .expect("run scripts/postgres.sh");
    assert!(output.status.success(), "scripts/postgres.sh {args:?} failed ({})", output.status);
    let url = String::from_utf8(output.stdout).unwrap().trim().to_owned();
    assert!(url.starts_with("postgres://"), "scripts/postgres.sh {args:?} printed {url:?}");
    url
}

/// The cluster's directory, started on first use.
fn cluster() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("zp-it-postgres-{}", std::process::id()));
        let pid = std::process::id().to_string();
        run_script(&["start", dir.to_str().unwrap(), "--until", &pid]);
        dir
    })
}

/// The URL of a new, empty database for one test; `purpose` becomes part of its name.
pub fn database(purpose: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let name = format!("{purpose}_{}", NEXT.fetch_add(1, Ordering::SeqCst));
    run_script(&["createdb", cluster().to_str().unwrap(), &name])
}
