//! `zp register`: a CSV register checked, imported and exported through the real binary, with
//! the running server showing what was imported.

use crate::harness::{Server, now};
use zp_server::issuer::format_date;

#[test]
fn register_import_dry_run_commit_and_export() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let today = format_date(now());
    let header = "number,id,name,legal_form,nip,city,voivodeship,domains,products,valid_from,state,reason";
    let good = format!(
        "\u{feff}{header}\r\n\
         ZP/LU/2024/0042,7K3QX9M2,Spółdzielnia Socjalna „Żuraw”,social_cooperative,7740001454,Łódź,Łódzkie,\
         zuraw.pl,Powidła=5901234123457; Gęś,{today},,\r\n\
         ,,Spółdzielnia Socjalna „Żuraw”,social_cooperative,7740001454,Łódź,łódzkie,zuraw.pl,Catering,{today},\
         revoked,misuse\r\n"
    );
    let file = dir.path().join("rejestr.csv");
    std::fs::write(&file, &good).unwrap();
    let path = file.to_str().unwrap();

    let dry = server.cli(&["register", "import", path]);
    assert!(dry.status.success(), "{}", String::from_utf8_lossy(&dry.stderr));
    let said = String::from_utf8(dry.stdout).unwrap();
    assert!(said.starts_with("dry run, nothing written; 2 lines: 2 certificates, 1 new entities"), "{said}");
    assert_eq!(server.get("/api/v1/certificates/7K3QX9M2").status(), 404, "a dry run writes nothing");

    // One bad line: every refusal printed, nothing written, a failing exit.
    let bad = good.replace("Catering,", "Catering=5901234123450,").replace(",misuse", ",dislike")
        + &format!(",,Fundacja,foundation,7740001455,,,f.pl,Szycie,{today},,\r\n");
    let bad_file = dir.path().join("zly.csv");
    std::fs::write(&bad_file, bad).unwrap();
    let refused = server.cli(&["register", "import", bad_file.to_str().unwrap(), "--commit"]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8(refused.stderr).unwrap();
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 4, "{stderr}");
    assert_eq!(
        lines[0],
        "line 3, column products: product 1, GTIN: GTIN check digit is 0, the digits before it give 7"
    );
    assert!(lines[1].starts_with("line 3, column reason: must be one of quality_criteria, "), "{stderr}");
    assert_eq!(lines[2], "line 4, column nip: NIP check digit is 5, the weighted sum gives 4");
    assert!(lines[3].ends_with("3 errors in 3 lines; nothing was imported"), "{stderr}");
    assert_eq!(server.get("/api/v1/certificates/7K3QX9M2").status(), 404);

    let committed = server.cli(&["register", "import", path, "--commit"]);
    assert!(committed.status.success(), "{}", String::from_utf8_lossy(&committed.stderr));
    let said = String::from_utf8(committed.stdout).unwrap();
    assert!(said.starts_with("imported 2 lines: 2 certificates, 1 new entities"), "{said}");
    // The running server shows it at once: the kept ID and number, the Polish letters.
    let view = server.get_json("/api/v1/certificates/7K3QX9M2");
    assert_eq!(view["status"], "valid", "{view}");
    assert_eq!(view["number"], "ZP/LU/2024/0042", "{view}");
    assert!(view.to_string().contains("Spółdzielnia Socjalna „Żuraw”"), "{view}");
    let page = server.get("/v/7k3qx9m2").text().unwrap();
    assert!(page.contains("Łódź"), "{page}");
    let audit = server.cli(&["audit", "verify"]);
    assert!(audit.status.success(), "{}", String::from_utf8_lossy(&audit.stderr));

    let export = server.cli(&["register", "export"]);
    assert!(export.status.success(), "{}", String::from_utf8_lossy(&export.stderr));
    let csv = String::from_utf8(export.stdout).unwrap();
    let mut rows = csv.lines();
    assert_eq!(
        rows.next(),
        Some(
            "number,id,name,legal_form,nip,regon,krs,city,voivodeship,domains,contact,products,valid_from,\
             valid_until,state,reason,note"
        )
    );
    assert!(rows.next().unwrap().starts_with(
        "ZP/LU/2024/0042,7K3QX9M2,Spółdzielnia Socjalna „Żuraw”,social_cooperative,7740001454,,,Łódź,łódzkie,\
         zuraw.pl,,Powidła=05901234123457; Gęś,"
    ));
    assert!(rows.next().unwrap().ends_with(",revoked,misuse,"), "{csv}");
    assert_eq!(rows.next(), None);

    let output = dir.path().join("eksport.csv");
    let written = server.cli(&["register", "export", "--bom", "--output", output.to_str().unwrap()]);
    assert!(written.status.success(), "{}", String::from_utf8_lossy(&written.stderr));
    let bytes = std::fs::read(&output).unwrap();
    assert_eq!(bytes, [b"\xEF\xBB\xBF", csv.as_bytes()].concat());
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&output).unwrap().permissions().mode() & 0o777, 0o600);
    let again = server.cli(&["register", "export", "--output", output.to_str().unwrap()]);
    assert!(!again.status.success(), "an export never writes over a file");
}
