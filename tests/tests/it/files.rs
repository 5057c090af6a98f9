//! Files the server writes are its user's alone, whatever the mode of the data directory and
//! the umask it was started with.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::harness::Server;

fn files_under(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_under(&path, found);
        } else {
            found.push(path);
        }
    }
}

#[test]
fn files_in_an_existing_open_data_directory_are_private() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();

    let mut server = Server::spawn(&data, None, &[]);
    let created = server.cli_json(&["api-key", "create", "--name", "files"]);
    server.admin_key = created["key"].as_str().unwrap().to_owned();
    let entity = server.entity("Spółdzielnia Socjalna „Pliki”");
    server.certificate(entity["id"].as_str().unwrap());

    let mut files = Vec::new();
    files_under(&data, &mut files);
    let names: Vec<String> =
        files.iter().map(|f| f.strip_prefix(&data).unwrap().display().to_string()).collect();
    for expected in ["zp.sqlite3", "zp.sqlite3-wal", "zp.sqlite3-shm"] {
        assert!(names.iter().any(|n| n == expected), "{expected} missing among {names:?}");
    }
    assert!(names.iter().any(|n| n.starts_with("keys/") && n.ends_with(".jwk")), "{names:?}");
    for file in &files {
        let mode = std::fs::metadata(file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode & 0o077, 0, "{} has mode {mode:o}", file.display());
    }
}
