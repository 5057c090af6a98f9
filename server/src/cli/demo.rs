//! Demo data for a first run: fictional entities with a certificate in each state a shopper
//! can meet — valid, expiring in a few days, expired, suspended, revoked — and a valid one for
//! another website only, whose badge on the demo shop shows a mark copied to the wrong site.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use anyhow::Result;

use crate::applications::form::{ApplicationForm, ContactPart, EntityPart};
use crate::applications::{Applicant, Applications, Kind, Upload, Via};
use crate::issuer::{Decision, Issuer, NewCertificate, NewEntity, NewProduct, RevocationReason};

const ACTOR: &str = "demo";

/// What the demo created, for the start-up message.
#[derive(Debug, Clone)]
pub struct Demo {
    pub certificates: Vec<(String, String)>,
    pub admin_key: Option<String>,
}

fn product(name: &str, gtin: Option<&str>) -> NewProduct {
    NewProduct { name: name.into(), gtin: gtin.map(str::to_owned) }
}

fn date(unix: i64) -> String {
    crate::issuer::format_date(unix)
}

/// Seeds the registry when it is empty; returns `None` when it already holds entities.
pub async fn seed(issuer: &Issuer, data_dir: &Path, now: i64) -> Result<Option<Demo>> {
    if !issuer.store.entities(1, 0).await?.is_empty() {
        return Ok(None);
    }
    let day = 86_400;
    // (entity, products, first day of validity, then what happens to it)
    let plan: [(NewEntity, Vec<NewProduct>, i64, &str); 6] = [
        (
            // Its contact is an e-mail: the holder's pages (`/case`) open for it.
            NewEntity {
                contact: Some("kontakt@smakiroztocza.pl".into()),
                ..entity(
                    "Spółdzielnia Socjalna „Smaki Roztocza”",
                    "social_cooperative",
                    "5260181596",
                    "Zamość",
                    &["smakiroztocza.pl"],
                )
            },
            vec![
                product("Powidła węgierkowe", Some("5901234000017")),
                product("Konfitura z czarnej porzeczki", Some("5901234000024")),
                product("Catering na spotkania i konferencje", None),
            ],
            now - 30 * day,
            "valid",
        ),
        (
            entity(
                "Centrum Integracji Społecznej w Chełmie",
                "cis",
                "1860913901",
                "Chełm",
                &["cis-chelm.pl"],
            ),
            vec![product("Usługi porządkowe i pielęgnacja zieleni", None)],
            now - 360 * day,
            "expiring soon",
        ),
        (
            entity(
                "Fundacja „Pracownia Ceramiki”",
                "foundation",
                "6281948218",
                "Lublin",
                &["pracownia-ceramiki.pl"],
            ),
            vec![product("Kubki i miski z ceramiki użytkowej", Some("5901234000031"))],
            now - 400 * day,
            "expired",
        ),
        (
            entity(
                "Zakład Aktywności Zawodowej „Ogrody Lubelskie”",
                "zaz",
                "9935181904",
                "Puławy",
                &["ogrody-lubelskie.pl"],
            ),
            vec![product("Sadzonki warzyw i ziół", None)],
            now - 60 * day,
            "suspended",
        ),
        (
            entity(
                "Stowarzyszenie „Pszczela Dolina”",
                "association",
                "9378657972",
                "Kazimierz Dolny",
                &["pszczeladolina.pl"],
            ),
            vec![product("Miód wielokwiatowy", Some("5901234000048"))],
            now - 90 * day,
            "revoked",
        ),
        (
            // Its badge may only be shown on its own shop, not on this machine.
            NewEntity {
                domains: vec!["innysklep.pl".into()],
                ..entity(
                    "Spółdzielnia Socjalna „Lniany Splot”",
                    "social_cooperative",
                    "5372184654",
                    "Biała Podlaska",
                    &[],
                )
            },
            vec![product("Ręczniki lniane tkane ręcznie", Some("5901234000055"))],
            now - 20 * day,
            "other domain",
        ),
    ];
    let mut certificates = Vec::new();
    for (new_entity, products, start, fate) in plan {
        let entity = issuer.create_entity(ACTOR, new_entity, now).await?;
        let input = NewCertificate { entity_id: entity.id, products, valid_from: Some(date(start)) };
        let detail = issuer.issue(ACTOR, input, now).await?;
        let id = detail.certificate.id;
        match fate {
            "suspended" => {
                let note = "Kontrola jakości w toku / quality review in progress".to_owned();
                issuer.suspend(ACTOR, &id, Some(note), now).await?;
            }
            "revoked" => {
                let note = "Znak użyto na produktach spoza certyfikatu".to_owned();
                issuer.revoke(ACTOR, &id, RevocationReason::Misuse, Some(note), now).await?;
            }
            _ => {}
        }
        certificates.push((id, fate.to_owned()));
    }
    let (_, secret) = issuer.create_api_key(ACTOR, "demo", now).await?;
    let path = data_dir.join("demo-admin-key.txt");
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .and_then(|mut file| file.write_all(format!("{secret}\n").as_bytes()));
    if let Err(err) = written {
        tracing::warn!(path = %path.display(), error = %err, "could not save the demo admin key");
    }
    Ok(Some(Demo { certificates, admin_key: Some(secret) }))
}

/// Applications in every state of a case, so the panel's inbox and the applicants' pages have
/// something to show: submitted (with a PDF), returned for completion, answered, prepared for a
/// second approval, approved (its certificate issued), refused, and a renewal of `renewable`.
pub async fn seed_applications(
    applications: &Applications,
    renewable: &str,
    now: i64,
) -> Result<Vec<String>> {
    const STAFF: &str = "demo";
    let day = 86_400;
    let decision = || Decision { resolution: "7/2026".into(), date: date(now - day) };
    let application = |name: &str, legal_form: &str, nip: Option<&str>, email: &str, products: &[&str]| {
        ApplicationForm {
        kind: Kind::New,
        entity: EntityPart {
            name: name.into(),
            legal_form: legal_form.into(),
            domains: vec![format!("{}.pl", email.split('@').nth(1).unwrap_or("example.pl").trim_end_matches(".pl"))],
            nip: nip.map(str::to_owned),
            city: Some("Lublin".into()),
            voivodeship: Some("lubelskie".into()),
            ..EntityPart::default()
        },
        products: products.iter().map(|name| product(name, None)).collect(),
        quality: "Receptury sprawdza technolog żywności; partie są znakowane, a reklamacje zapisywane i omawiane co miesiąc."
            .into(),
        contact: ContactPart { name: "Zofia Żak".into(), email: email.into(), phone: Some("+48 81 000 00 00".into()) },
        consent: true,
        ..ApplicationForm::default()
    }
    };
    let pdf = || Upload {
        name: "statut-spółdzielni.pdf".into(),
        bytes: b"%PDF-1.4\n1 0 obj <</Type /Catalog>> endobj\ntrailer <</Root 1 0 R>>\n%%EOF\n".to_vec(),
        dropped: 0,
    };
    let submit = |form: ApplicationForm, files: Vec<Upload>| applications.submit(form, files, Via::Api, now);
    let mut ids = Vec::new();
    let submitted = submit(
        application(
            "Fundacja „Dobre Ręce”",
            "foundation",
            Some("9462612475"),
            "biuro@dobrerece.pl",
            &["Szycie na miarę"],
        ),
        vec![pdf()],
    )
    .await?;
    ids.push(submitted.id);
    let returned = submit(
        application(
            "Spółdzielnia Socjalna „Pszczoła”",
            "social_cooperative",
            None,
            "ul@pszczola.pl",
            &["Miód wielokwiatowy"],
        ),
        vec![],
    )
    .await?;
    applications
        .ask(STAFF, &returned.id, "Prosimy dołączyć wyniki badań miodu z ostatniego roku.", now)
        .await?;
    ids.push(returned.id);
    let answered = submit(
        application(
            "Warsztat Terapii Zajęciowej w Świdniku",
            "wtz",
            None,
            "wtz@swidnik-wtz.pl",
            &["Ceramika użytkowa"],
        ),
        vec![],
    )
    .await?;
    applications.ask(STAFF, &answered.id, "Czy wyroby mają atest do kontaktu z żywnością?", now).await?;
    let applicant =
        Applicant { email: "wtz@swidnik-wtz.pl".into(), csrf: String::new(), hash: String::new() };
    applications.answer(&applicant, &answered.id, "Tak, atest w załączniku.", vec![pdf()], now).await?;
    ids.push(answered.id);
    let prepared = submit(
        application(
            "Zakład Aktywności Zawodowej w Puławach",
            "zaz",
            None,
            "zaz@zaz-pulawy.pl",
            &["Pranie i maglowanie"],
        ),
        vec![],
    )
    .await?;
    let preparing = Applications {
        second_approval: true,
        ..Applications::new(applications.issuer.clone(), applications.outbox.clone())
    };
    preparing.approve(STAFF, &prepared.id, Some(decision()), now).await?;
    ids.push(prepared.id);
    let approved = submit(
        application(
            "Spółdzielnia Socjalna „Chleb i Sól”",
            "social_cooperative",
            None,
            "piekarnia@chlebisol.pl",
            &["Chleb na zakwasie"],
        ),
        vec![],
    )
    .await?;
    applications.approve(STAFF, &approved.id, Some(decision()), now).await?;
    ids.push(approved.id);
    let refused = submit(
        application(
            "Handel Hurtowy Sp. z o.o.",
            "other",
            None,
            "handel@hurt-przyklad.pl",
            &["Dystrybucja artykułów spożywczych"],
        ),
        vec![],
    )
    .await?;
    applications
        .refuse(
            STAFF,
            &refused.id,
            "Wnioskodawca nie jest podmiotem ekonomii społecznej i nie wytwarza zgłoszonych produktów.",
            now,
        )
        .await?;
    ids.push(refused.id);
    let renewal = ApplicationForm {
        kind: Kind::Renewal,
        certificate_id: Some(renewable.to_owned()),
        ..application(
            "Spółdzielnia Socjalna „Smaki Roztocza”",
            "social_cooperative",
            Some("5260181596"),
            "kontakt@smakiroztocza.pl",
            &["Powidła węgierkowe"],
        )
    };
    ids.push(submit(renewal, vec![]).await?.id);
    Ok(ids)
}

fn entity(name: &str, legal_form: &str, nip: &str, city: &str, domains: &[&str]) -> NewEntity {
    let mut domains: Vec<String> = domains.iter().map(|d| (*d).to_owned()).collect();
    // So the badges also show as valid on the demo shop page served from this machine.
    domains.push("localhost".into());
    domains.push("127.0.0.1".into());
    NewEntity {
        name: name.into(),
        legal_form: legal_form.into(),
        domains,
        nip: Some(nip.into()),
        city: Some(city.into()),
        voivodeship: Some("lubelskie".into()),
        ..NewEntity::default()
    }
}
