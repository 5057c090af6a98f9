//! The staff panel as its people meet it: Chromium with a virtual WebAuthn authenticator against
//! the real server, from the enrolment link `zp user create` prints to a revocation, a CSV import
//! and export, and an account disabled while its session is open (tests/js/panel.mjs). axe-core
//! checks every page it visits; screenshots land in `test-output/`.

use serde_json::{Value, json};

use crate::browser::workspace;
use crate::harness::{Server, now};
use crate::lifecycle::time_date;

fn step<'a>(result: &'a Value, name: &str) -> &'a Value {
    result["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("the panel test never reached {name:?}: {result:#}"))
}

#[test]
fn staff_run_the_mark_in_the_panel_with_passkeys() {
    let server = Server::start();
    let created = server.cli(&["user", "create", "--email", "anna.admin@rops.test", "--role", "admin"]);
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let printed = String::from_utf8_lossy(&created.stdout);
    let link =
        printed.lines().find(|l| l.contains("/panel/enrol/")).expect("an enrolment link").trim().to_owned();
    let port = server.url.rsplit(':').next().unwrap();
    let panel = format!("http://localhost:{port}");
    assert!(link.starts_with(&format!("{panel}/panel/enrol/")), "{link}");

    // Without a session, a panel page sends the browser to the login page (a public contract).
    let client =
        reqwest::blocking::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let reply = client.get(format!("{panel}/panel/certificates")).send().unwrap();
    assert_eq!(reply.status(), 303);
    assert_eq!(reply.headers()["location"], "/panel/login?next=%2Fpanel%2Fcertificates");

    let dir = tempfile::tempdir().unwrap();
    let header = "name,legal_form,nip,city,domains,products,valid_from\n";
    let bad = format!(
        "{header}Fundacja Ćma,foundation,5260250995,Lublin,cma.example.pl,Szycie,2026-03-01\n\
         Stowarzyszenie Zła Cyfra,association,5260250996,Chełm,zla.example.pl,Druk,2026-03-01\n"
    );
    let good = format!(
        "{header}Fundacja Ćma,foundation,5260250995,Lublin,cma.example.pl,Szycie,2026-03-01\n\
         Stowarzyszenie Dobra Cyfra,association,,Chełm,dobra.example.pl,Druk=5901234123457,2026-04-01\n"
    );
    let (csv_bad, csv_good) = (dir.path().join("bad.csv"), dir.path().join("good.csv"));
    std::fs::write(&csv_bad, bad).unwrap();
    std::fs::write(&csv_good, good).unwrap();
    let shots = workspace().join("test-output");
    std::fs::create_dir_all(&shots).unwrap();
    let valid_from = time_date(now() - 300 * 86_400);
    let plan = json!({
        "panel": panel, "enrol": link, "email": "anna.admin@rops.test", "shots": shots,
        "csvBad": csv_bad, "csvGood": csv_good, "validFrom": valid_from,
    });
    let output = crate::run_node_json("panel.mjs", &plan);
    let result = &output.json;
    assert!(
        result["error"].is_null(),
        "panel.mjs stopped at {}: {}\n{}\n{}",
        result["failedAt"],
        result["error"],
        result["failedText"],
        output.stderr
    );
    assert!(output.success, "panel.mjs failed:\n{}", output.stderr);
    assert_eq!(result["pageErrors"], json!([]), "scripts failed on panel pages");

    assert_eq!(step(result, "enrolled")["codes"], 10);
    assert!(step(result, "signed in with the passkey")["url"].as_str().unwrap().ends_with("/panel"));
    assert!(
        step(result, "bad NIP refused")["message"].as_str().unwrap().to_lowercase().contains("nip"),
        "{result:#}"
    );
    assert!(step(result, "entity updated")["facts"].as_str().unwrap().contains("Lublin"), "{result:#}");
    let first = step(result, "issued")["certificate"].as_str().unwrap().to_owned();
    let certificate = step(result, "issued by keyboard")["certificate"].as_str().unwrap().to_owned();
    assert_eq!(step(result, "english")["heading"], "Entities");
    assert!(step(result, "suspended")["state"].as_str().unwrap().contains("zawieszony"));
    assert!(step(result, "reinstated")["state"].as_str().unwrap().contains("ważny"));
    assert!(step(result, "recovery code reused")["url"].as_str().unwrap().contains("/panel/login"));
    assert_eq!(
        step(result, "revoked")["needed_reauth"],
        true,
        "a recovery-code session confirms with the passkey first"
    );
    assert!(step(result, "revoked")["state"].as_str().unwrap().contains("unieważniony"));
    let errors = step(result, "import refused")["errors"].as_array().unwrap();
    assert!(
        errors.iter().any(|e| e.as_str().unwrap().contains("3") && e.as_str().unwrap().contains("nip")),
        "{errors:?}"
    );
    assert!(step(result, "import committed")["notice"].as_str().unwrap().contains('2'));
    let exported = step(result, "exported");
    assert_eq!(exported["bom"], true);
    let text = exported["text"].as_str().unwrap();
    for name in ["Fundacja Ćma", "Stowarzyszenie Dobra Cyfra", "Spółdzielnia Socjalna „Złoty Kłos”"]
    {
        assert!(text.contains(name), "{name} missing from the export:\n{text}");
    }
    assert!(!text.contains("Zła Cyfra"), "the refused file wrote nothing");
    assert_eq!(step(result, "staff cannot manage accounts")["status"], 403);
    assert!(step(result, "disabled session refused")["url"].as_str().unwrap().contains("/panel/login"));

    // The API key made in the panel works on the admin API; the rotation published a new key.
    let keys = step(result, "keys");
    let secret = keys["secret"].as_str().unwrap();
    assert!(secret.starts_with("zpk_"), "{keys}");
    let reply = server.http.get(server.at("/api/v1/admin/audit")).bearer_auth(secret).send().unwrap();
    assert_eq!(reply.status(), 200);
    assert_eq!(
        server.get_json("/.well-known/jwks.json")["keys"].as_array().unwrap().len(),
        2,
        "the next key is published"
    );

    // What the panel did is what the public sees, and the audit log names the people.
    let detail = server.get_json(&format!("/api/v1/certificates/{certificate}"));
    assert_eq!(detail["status"], "revoked", "{detail:#}");
    let renewed = server.get_json(&format!("/api/v1/certificates/{first}"));
    assert_eq!(renewed["status"], "valid", "renewed, suspended and reinstated: {renewed:#}");
    let audit = server.cli(&["audit", "verify"]);
    assert!(audit.status.success(), "{}", String::from_utf8_lossy(&audit.stderr));
    let log = String::from_utf8_lossy(&server.cli(&["audit", "list", "--limit", "1000"]).stdout).into_owned();
    assert!(
        log.contains("account:") && log.contains("anna.admin@rops.test"),
        "actions audited under the person"
    );
    assert!(log.contains("entity.update"), "{log}");
    assert!(
        log.contains("12/2026") && log.contains("Kontrola 2026-11-20"),
        "the decision and the note: {log}"
    );

    let axe = result["axe"].as_array().unwrap();
    assert!(axe.len() >= 12, "axe-core ran on {} pages", axe.len());
    let failures: Vec<String> = axe
        .iter()
        .filter(|r| !r["violations"].as_array().unwrap().is_empty())
        .map(|r| format!("{} ({}): {}", r["name"], r["url"], r["violations"]))
        .collect();
    assert!(failures.is_empty(), "axe-core violations:\n{}", failures.join("\n"));
}
