//! The mark's yearly cycle online: an application (a new mark, a renewal, another branch), the
//! applicant's access by single-use e-mail links, the board's questions and the applicant's
//! answers, and the decision. Written once for the `/apply` form, the public API and the staff
//! panel.
//!
//! Every step commits in one transaction with its audit entry and its letters (through the
//! outbox); an approval issues, renews or extends the certificate in that same transaction, so
//! a case is never approved without its certificate, nor a certificate issued for a case still
//! open.
//!
//! Rooms: `form` (what an application holds and its checks), `files` (attachments), `letters`.

use std::sync::Arc;

use rand::rngs::OsRng;
use serde::{Deserialize, Serialize};

use crate::accounts::{hash, random_secret, same_secret};
use crate::issuer::{Decision, Issuer, IssuerError, NewCertificate};
use crate::mail;
use crate::store::*;

pub mod files;
pub mod form;
mod letters;

pub use files::Upload;
pub use form::{ApplicationForm, FieldError, Kind};

/// How many letters with a sign-in link (acknowledgements and links asked for) one address may
/// get in a day; an application beyond that is refused naming `contact.email`.
pub const APPLICATIONS_PER_DAY: i64 = 10;
/// How long a sign-in link works, once.
pub const LINK_HOURS: i64 = 72;
/// An applicant's session ends after this long unused, and after [`SESSION_MAX`] in all.
pub const SESSION_IDLE: i64 = 60 * 60;
pub const SESSION_MAX: i64 = 12 * 60 * 60;

/// Where a case stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Waiting for the board.
    Submitted,
    /// Returned to the applicant for completion: the board asked something.
    Returned,
    /// The applicant answered; waiting for the board again.
    Answered,
    /// One person approved; a second must confirm (`serve --second-approval`).
    Prepared,
    Approved,
    Refused,
}

impl Status {
    pub const ALL: [Status; 6] = [
        Status::Submitted,
        Status::Answered,
        Status::Returned,
        Status::Prepared,
        Status::Approved,
        Status::Refused,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Submitted => "submitted",
            Status::Returned => "returned",
            Status::Answered => "answered",
            Status::Prepared => "prepared",
            Status::Approved => "approved",
            Status::Refused => "refused",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Status::ALL.into_iter().find(|status| status.as_str() == text)
    }

    pub fn label(self, pl: bool) -> &'static str {
        match (self, pl) {
            (Status::Submitted, true) => "złożony, czeka na kapitułę",
            (Status::Submitted, false) => "submitted, waiting for the board",
            (Status::Returned, true) => "zwrócony do uzupełnienia",
            (Status::Returned, false) => "returned for completion",
            (Status::Answered, true) => "uzupełniony, czeka na kapitułę",
            (Status::Answered, false) => "completed, waiting for the board",
            (Status::Prepared, true) => "przygotowany do zatwierdzenia",
            (Status::Prepared, false) => "prepared, awaiting a second approval",
            (Status::Approved, true) => "rozpatrzony pozytywnie",
            (Status::Approved, false) => "approved",
            (Status::Refused, true) => "odmowa",
            (Status::Refused, false) => "refused",
        }
    }

    /// Decided: nothing more happens in the case.
    pub fn closed(self) -> bool {
        matches!(self, Status::Approved | Status::Refused)
    }
}

/// The criteria the board checks, as the panel's checklist shows them.
pub const CRITERIA: &[(&str, &str, &str)] = &[
    (
        "social_economy",
        "Wnioskodawca jest podmiotem ekonomii społecznej",
        "The applicant is a social-economy entity",
    ),
    ("region", "Działa na terenie województwa", "It operates in this voivodeship"),
    (
        "own_work",
        "Produkty i usługi wytwarza lub świadczy sam",
        "It makes the products or provides the services itself",
    ),
    (
        "quality",
        "Jakość produktów i usług jest opisana i udokumentowana",
        "The quality of the products and services is described and documented",
    ),
    (
        "social_value",
        "Działalność służy reintegracji społecznej i zawodowej",
        "Its work serves social and vocational reintegration",
    ),
    (
        "websites",
        "Podane strony internetowe należą do wnioskodawcy",
        "The websites given belong to the applicant",
    ),
    ("documents", "Załączniki są kompletne", "The attachments are complete"),
];

#[derive(Debug, thiserror::Error)]
pub enum ApplicationError {
    /// Refusals of the input, each naming its field.
    #[error("{}", .0.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
    #[error("application {0} does not exist")]
    NotFound(String),
    /// A step the case's state does not allow, or one the issuer refused (a renewal too early).
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Issuer(IssuerError),
}

impl From<IssuerError> for ApplicationError {
    fn from(err: IssuerError) -> Self {
        match err {
            IssuerError::Invalid { field, message } => {
                ApplicationError::Invalid(vec![FieldError::new(field, message)])
            }
            IssuerError::Conflict(message) => ApplicationError::Conflict(message),
            IssuerError::Store(err) => ApplicationError::Store(err),
            other => ApplicationError::Issuer(other),
        }
    }
}

impl From<FieldError> for ApplicationError {
    fn from(err: FieldError) -> Self {
        ApplicationError::Invalid(vec![err])
    }
}

pub type ApplicationResult<T> = Result<T, ApplicationError>;

/// How an application arrived.
#[derive(Debug, Clone)]
pub enum Via {
    /// The `/apply` form, with its one-time key: a second submission of the same form is the first.
    Form {
        submission: String,
    },
    Api,
}

/// A submitted application: its ID, and whether this submission repeated an earlier one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submitted {
    pub id: String,
    pub repeated: bool,
}

/// A signed-in applicant: the e-mail their link was sent to.
#[derive(Debug, Clone)]
pub struct Applicant {
    pub email: String,
    pub csrf: String,
    pub hash: String,
}

/// What a decision recorded, as the case shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    pub outcome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasons: Option<String>,
}

/// The result of an approval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Approval {
    /// Prepared: a second person must confirm.
    Prepared,
    /// Approved: the certificate issued, renewed or extended.
    Done { certificate_id: String },
}

pub struct Applications {
    pub issuer: Arc<Issuer>,
    /// Whether an approval needs a second person (`serve --second-approval`).
    pub second_approval: bool,
    /// Woken after each commit that wrote letters, so they go at once.
    pub outbox: mail::Outbox,
}

impl std::fmt::Debug for Applications {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Applications").field("second_approval", &self.second_approval).finish_non_exhaustive()
    }
}

/// The staff account an actor acts for, whether through the panel (`account:ID:e-mail`) or a
/// person's API key (`api-key:K:name account:ID:e-mail`); none for a key made from the command
/// line, which acts for nobody in particular.
fn person_of(actor: &str) -> Option<&str> {
    let at = actor.find("account:")?;
    actor.get(at + "account:".len()..)?.split(':').next().filter(|id| !id.is_empty())
}

/// A value as the case's JSON columns keep it.
fn json(value: &impl Serialize) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// A value read back from one of the case's JSON columns.
fn stored<T: serde::de::DeserializeOwned>(text: &str) -> StoreResult<T> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn applicant_actor(email: &str) -> String {
    format!("applicant:{email}")
}

fn audit(actor: &str, action: &str, subject: &str, details: serde_json::Value, now: i64) -> AuditEntry {
    AuditEntry { at: now, actor: actor.into(), action: action.into(), subject: subject.into(), details }
}

impl Applications {
    pub fn new(issuer: Arc<Issuer>, outbox: mail::Outbox) -> Self {
        Applications { issuer, second_approval: false, outbox }
    }

    fn store(&self) -> &Arc<dyn Store> {
        &self.issuer.store
    }

    fn base(&self) -> &str {
        &self.issuer.settings.base_url
    }

    pub fn case_url(&self, id: &str) -> String {
        format!("{}/case/{id}", self.base())
    }

    /// A new single-use sign-in link for `email`, written in `tx`.
    async fn new_link(&self, tx: &mut Box<dyn Tx>, email: &str, now: i64) -> StoreResult<String> {
        let secret = random_secret();
        tx.insert_applicant_link(&hash(&secret), email, now, now + LINK_HOURS * 3600).await?;
        Ok(format!("{}/case/login/{secret}", self.base()))
    }

    /// Checks and records an application, with its files, its acknowledgement and a sign-in link
    /// for the contact person. A form submitted again returns the first submission's ID.
    pub async fn submit(
        &self,
        form: ApplicationForm,
        uploads: Vec<Upload>,
        via: Via,
        now: i64,
    ) -> ApplicationResult<Submitted> {
        let submission = match &via {
            Via::Form { submission } => Some(hash(submission)),
            Via::Api => None,
        };
        // A plain read: a form sent again is answered without taking the write lock.
        if let Some(key) = &submission
            && let Some(id) = self.store().application_by_submission(key).await?
        {
            return Ok(Submitted { id, repeated: true });
        }
        let mut errors = Vec::new();
        let checked = form::check(form, now).map_err(|e| errors.extend(e)).ok();
        let accepted = files::accept_all(uploads, &mut errors);
        let Some(checked) = checked.filter(|_| errors.is_empty()) else {
            return Err(ApplicationError::Invalid(errors));
        };
        let mut tx = self.store().begin().await?;
        if tx.count_applicant_links(&checked.email, now - 86_400).await? >= APPLICATIONS_PER_DAY {
            return Err(FieldError::new(
                "contact.email",
                "this address has received too many letters today; try again tomorrow or write to the issuer",
            )
            .into());
        }
        let (certificate_id, entity_id) = match checked.form.kind {
            Kind::New => (None, None),
            Kind::Renewal | Kind::Branch => {
                let id = checked.form.certificate_id.clone().unwrap_or_default();
                let certificate = tx
                    .certificate(&id)
                    .await?
                    .filter(|c| c.state != CertState::Revoked)
                    .ok_or_else(|| {
                        FieldError::new("certificate_id", "no certificate that is not revoked has this ID")
                    })?;
                (Some(certificate.id), Some(certificate.entity_id))
            }
        };
        let id = crate::ids::new_id("A", &mut OsRng);
        let actor = applicant_actor(&checked.email);
        let application = ApplicationRecord {
            id: id.clone(),
            kind: checked.form.kind.as_str().to_owned(),
            status: Status::Submitted.as_str().to_owned(),
            lang: checked.lang.to_owned(),
            email: checked.email.clone(),
            certificate_id,
            entity_id,
            form: json(&checked.form)?,
            checklist: "[]".into(),
            submitted_by: match via {
                Via::Form { .. } => "form".into(),
                Via::Api => "api".into(),
            },
            submission: submission.clone(),
            prepared_by: None,
            prepared: None,
            decision: None,
            decided_by: None,
            decided_at: None,
            created_at: now,
            updated_at: now,
        };
        match tx.insert_application(&application).await {
            // The same form submitted twice at once: the other request recorded it.
            Err(StoreError::Conflict(_)) if submission.is_some() => {
                drop(tx);
                let key = submission.unwrap_or_default();
                let id = self
                    .store()
                    .application_by_submission(&key)
                    .await?
                    .ok_or_else(|| ApplicationError::NotFound(key))?;
                return Ok(Submitted { id, repeated: true });
            }
            other => other?,
        }
        tx.insert_application_event(&id, now, &actor, "submitted", "").await?;
        let names = self.store_files(&mut tx, &id, &actor, accepted, now).await?;
        let link = self.new_link(&mut tx, &checked.email, now).await?;
        mail::enqueue(&mut tx, &letters::received(&application, &checked.entity.name, &link), now).await?;
        let details = serde_json::json!({
            "kind": application.kind,
            "entity": checked.entity.name,
            "nip": checked.entity.nip,
            "certificate_id": application.certificate_id,
            "files": names,
            "via": application.submitted_by,
        });
        tx.append_audit(&audit(&actor, "application.submit", &id, details, now)).await?;
        tx.commit().await?;
        self.outbox.wake();
        Ok(Submitted { id, repeated: false })
    }

    async fn store_files(
        &self,
        tx: &mut Box<dyn Tx>,
        id: &str,
        actor: &str,
        accepted: Vec<files::Accepted>,
        now: i64,
    ) -> ApplicationResult<Vec<String>> {
        if accepted.is_empty() {
            return Ok(Vec::new());
        }
        let count = tx.count_application_files(id).await?;
        if count + accepted.len() as i64 > files::PER_CASE {
            return Err(FieldError::new(
                "attachments",
                format!("a case holds at most {} files; it has {count}", files::PER_CASE),
            )
            .into());
        }
        let mut names = Vec::new();
        for file in accepted {
            let record = ApplicationFileRecord {
                id: crate::ids::new_id("F", &mut OsRng),
                application_id: id.to_owned(),
                name: file.name.clone(),
                media_type: file.media_type.to_owned(),
                size: file.bytes.len() as i64,
                sha256: file.sha256,
                added_at: now,
                added_by: actor.to_owned(),
            };
            tx.insert_application_file(&record, &file.bytes).await?;
            names.push(file.name);
        }
        Ok(names)
    }

    /// Sends a sign-in link to `email` when it has a case or is an entity's contact; says nothing
    /// either way, so the page does not tell who has applied.
    pub async fn request_link(&self, email: &str, lang: &str, now: i64) -> ApplicationResult<()> {
        let email = crate::accounts::check_email(email)
            .map_err(|_| FieldError::new("email", "not an e-mail address (expected name@example.pl)"))?;
        let known = !self.store().applications_of(&email).await?.is_empty()
            || !self.store().entities_of(&email).await?.is_empty();
        if !known {
            tracing::info!("sign-in link asked for an address with no case");
            return Ok(());
        }
        let mut tx = self.store().begin().await?;
        // However often it is asked, an address gets at most three links in ten minutes and ten a
        // day, acknowledgements included: the page cannot be used to flood a mailbox, nor the
        // outbox.
        if tx.count_applicant_links(&email, now - 600).await? >= 3
            || tx.count_applicant_links(&email, now - 86_400).await? >= APPLICATIONS_PER_DAY
        {
            tracing::info!("sign-in link not sent: this address had one recently");
            return Ok(());
        }
        let link = self.new_link(&mut tx, &email, now).await?;
        mail::enqueue(&mut tx, &letters::link(lang, &email, &link), now).await?;
        tx.commit().await?;
        self.outbox.wake();
        Ok(())
    }

    /// Uses a sign-in link (once): a new session's secret, or `None` when the link was used,
    /// has expired or never existed.
    pub async fn sign_in(&self, secret: &str, now: i64) -> ApplicationResult<Option<String>> {
        let mut tx = self.store().begin().await?;
        let Some(email) = tx.use_applicant_link(&hash(secret), now).await? else {
            return Ok(None);
        };
        let session = random_secret();
        tx.insert_applicant_session(&ApplicantSessionRecord {
            hash: hash(&session),
            email: email.clone(),
            created_at: now,
            seen_at: now,
            csrf: random_secret(),
        })
        .await?;
        tx.append_audit(&audit(
            &applicant_actor(&email),
            "applicant.sign_in",
            &email,
            serde_json::json!({}),
            now,
        ))
        .await?;
        tx.commit().await?;
        Ok(Some(session))
    }

    /// The applicant a session cookie belongs to, while the session lasts.
    pub async fn session(&self, secret: &str, now: i64) -> ApplicationResult<Option<Applicant>> {
        let key = hash(secret);
        let Some(session) = self.store().applicant_session(&key).await? else {
            return Ok(None);
        };
        if session.seen_at + SESSION_IDLE <= now || session.created_at + SESSION_MAX <= now {
            self.store().delete_applicant_session(&key).await?;
            return Ok(None);
        }
        if now > session.seen_at {
            self.store().touch_applicant_session(&key, now).await?;
        }
        Ok(Some(Applicant { email: session.email, csrf: session.csrf, hash: key }))
    }

    pub async fn sign_out(&self, applicant: &Applicant) -> ApplicationResult<()> {
        Ok(self.store().delete_applicant_session(&applicant.hash).await?)
    }

    /// The application, if this applicant may see it.
    pub async fn case_of(&self, applicant: &Applicant, id: &str) -> ApplicationResult<ApplicationRecord> {
        match self.store().application(id).await? {
            Some(application) if same_secret(&application.email, &applicant.email) => Ok(application),
            _ => Err(ApplicationError::NotFound(id.to_owned())),
        }
    }

    /// The applicant's answer to the board, with files: the case goes back to the board.
    pub async fn answer(
        &self,
        applicant: &Applicant,
        id: &str,
        text: &str,
        uploads: Vec<Upload>,
        now: i64,
    ) -> ApplicationResult<()> {
        let mut errors = Vec::new();
        let text = text.trim();
        let body = if text.is_empty() { Ok(String::new()) } else { form::message("answer", text) };
        let body = body.map_err(|e| errors.push(e)).ok();
        if text.is_empty() && uploads.is_empty() {
            errors.push(FieldError::new("answer", "write an answer or attach a file"));
        }
        let accepted = files::accept_all(uploads, &mut errors);
        if !errors.is_empty() {
            return Err(ApplicationError::Invalid(errors));
        }
        let mut tx = self.store().begin().await?;
        let mut application = tx
            .application_for_update(id)
            .await?
            .filter(|a| same_secret(&a.email, &applicant.email))
            .ok_or_else(|| ApplicationError::NotFound(id.to_owned()))?;
        let status = Status::parse(&application.status).unwrap_or(Status::Submitted);
        if status.closed() {
            return Err(ApplicationError::Conflict("the case is decided; nothing more can be added".into()));
        }
        let actor = applicant_actor(&applicant.email);
        let names = self.store_files(&mut tx, id, &actor, accepted, now).await?;
        let mut shown = body.unwrap_or_default();
        if !names.is_empty() {
            shown = format!("{shown}\n[{}]", names.join(", ")).trim().to_owned();
        }
        tx.insert_application_event(id, now, &actor, "answer", &shown).await?;
        if matches!(status, Status::Returned | Status::Prepared) {
            // New material: a prepared approval was made without it and must be made again.
            application.status = Status::Answered.as_str().into();
            application.prepared = None;
            application.prepared_by = None;
        }
        application.updated_at = now;
        tx.update_application(&application).await?;
        let details = serde_json::json!({ "files": names });
        tx.append_audit(&audit(&actor, "application.answer", id, details, now)).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Loads an open case for a step of the board.
    async fn open_case(
        &self,
        tx: &mut Box<dyn Tx>,
        id: &str,
    ) -> ApplicationResult<(ApplicationRecord, Status)> {
        let application =
            tx.application_for_update(id).await?.ok_or_else(|| ApplicationError::NotFound(id.to_owned()))?;
        let status = Status::parse(&application.status)
            .ok_or_else(|| StoreError::Corrupt(format!("application {id} has an unknown status")))?;
        if status.closed() {
            return Err(ApplicationError::Conflict(format!("application {id} is already decided")));
        }
        Ok((application, status))
    }

    /// The board's question: the case returns to the applicant, who gets a letter with a link.
    pub async fn ask(&self, actor: &str, id: &str, question: &str, now: i64) -> ApplicationResult<()> {
        let question = form::message("question", question)?;
        let mut tx = self.store().begin().await?;
        let (mut application, _) = self.open_case(&mut tx, id).await?;
        tx.insert_application_event(id, now, actor, "question", &question).await?;
        application.status = Status::Returned.as_str().into();
        application.prepared = None;
        application.prepared_by = None;
        application.updated_at = now;
        tx.update_application(&application).await?;
        let link = self.new_link(&mut tx, &application.email, now).await?;
        mail::enqueue(&mut tx, &letters::question(&application, &question, &link), now).await?;
        tx.append_audit(&audit(
            actor,
            "application.question",
            id,
            serde_json::json!({ "question": question }),
            now,
        ))
        .await?;
        tx.commit().await?;
        self.outbox.wake();
        Ok(())
    }

    /// Records which criteria the board found met.
    pub async fn tick(&self, actor: &str, id: &str, ticked: &[String], now: i64) -> ApplicationResult<()> {
        let known: Vec<&str> = CRITERIA.iter().map(|(code, ..)| *code).collect();
        let ticked: Vec<&str> =
            known.iter().copied().filter(|code| ticked.iter().any(|t| t == code)).collect();
        let mut tx = self.store().begin().await?;
        let (mut application, _) = self.open_case(&mut tx, id).await?;
        application.checklist = json(&ticked)?;
        application.updated_at = now;
        tx.update_application(&application).await?;
        tx.append_audit(&audit(
            actor,
            "application.checklist",
            id,
            serde_json::json!({ "met": ticked }),
            now,
        ))
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The board's approval with its resolution. With a second approval required, the first
    /// person's approval only prepares it; another person's confirms it. Confirmed, the
    /// certificate is issued (to the entity registered with the NIP, or a new one), renewed or
    /// extended in the same transaction, and the applicant gets a letter.
    pub async fn approve(
        &self,
        actor: &str,
        id: &str,
        decision: Option<Decision>,
        now: i64,
    ) -> ApplicationResult<Approval> {
        let mut tx = self.store().begin().await?;
        let (mut application, status) = self.open_case(&mut tx, id).await?;
        let decision = match (status, &application.prepared) {
            (Status::Prepared, Some(prepared)) => {
                let preparer = application.prepared_by.as_deref().and_then(person_of);
                match (preparer, person_of(actor)) {
                    (Some(preparer), Some(confirmer)) if preparer != confirmer => {}
                    (Some(_), Some(_)) => {
                        return Err(ApplicationError::Conflict(
                            "a second person must confirm the approval you prepared".into(),
                        ));
                    }
                    _ => {
                        return Err(ApplicationError::Conflict(
                            "a second approval needs two named people: confirm it in the panel or with a \
                             person's API key, not a key made from the command line"
                                .into(),
                        ));
                    }
                }
                stored::<Decision>(prepared)?
            }
            _ => decision
                .ok_or_else(|| {
                    FieldError::new("resolution", "give the board's resolution: its number and date")
                })?
                .checked(now)?,
        };
        if self.second_approval && status != Status::Prepared {
            application.status = Status::Prepared.as_str().into();
            application.prepared_by = Some(actor.to_owned());
            application.prepared = Some(json(&decision)?);
            application.updated_at = now;
            tx.update_application(&application).await?;
            let body = format!("{} ({})", decision.resolution, decision.date);
            tx.insert_application_event(id, now, actor, "prepared", &body).await?;
            tx.append_audit(&audit(
                actor,
                "application.prepare",
                id,
                serde_json::json!({ "decision": decision }),
                now,
            ))
            .await?;
            tx.commit().await?;
            return Ok(Approval::Prepared);
        }
        let form: ApplicationForm = stored(&application.form)?;
        let products = form.products.clone();
        let certificate_id = match Kind::parse(&application.kind).unwrap_or_default() {
            Kind::New => {
                let entity = self.entity_for(&mut tx, actor, &form, &application.email, now).await?;
                application.entity_id = Some(entity.id.clone());
                let input = NewCertificate { entity_id: entity.id, products, valid_from: None };
                self.issuer.issue_in(&mut tx, actor, &input, Some(&decision), now).await?
            }
            Kind::Renewal => {
                let id = application.certificate_id.clone().unwrap_or_default();
                self.issuer.renew_in(&mut tx, actor, &id, Some(&decision), now).await?;
                id
            }
            Kind::Branch => {
                let id = application.certificate_id.clone().unwrap_or_default();
                self.issuer.add_products_in(&mut tx, actor, &id, &products, Some(&decision), now).await?;
                id
            }
        };
        let certificate = tx
            .certificate(&certificate_id)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("certificate {certificate_id} vanished")))?;
        let outcome = Outcome {
            outcome: "approved".into(),
            resolution: Some(decision.resolution.clone()),
            date: Some(decision.date.clone()),
            reasons: None,
        };
        application.status = Status::Approved.as_str().into();
        application.certificate_id = Some(certificate_id.clone());
        application.decision = Some(json(&outcome)?);
        application.decided_by = Some(actor.to_owned());
        application.decided_at = Some(now);
        application.updated_at = now;
        tx.update_application(&application).await?;
        let body = format!("{} ({}): {}", decision.resolution, decision.date, certificate.number);
        tx.insert_application_event(id, now, actor, "approved", &body).await?;
        let letter = letters::approved(&application, &certificate, &self.issuer.verify_url(&certificate_id));
        mail::enqueue(&mut tx, &letter, now).await?;
        let details = serde_json::json!({
            "decision": decision,
            "certificate_id": certificate_id,
            "prepared_by": application.prepared_by,
        });
        tx.append_audit(&audit(actor, "application.approve", id, details, now)).await?;
        tx.commit().await?;
        self.outbox.wake();
        Ok(Approval::Done { certificate_id })
    }

    /// The entity a new mark is granted to: the one registered with the application's NIP (its
    /// details stay as registered), or a new one whose contact is the applicant's e-mail.
    async fn entity_for(
        &self,
        tx: &mut Box<dyn Tx>,
        actor: &str,
        form: &ApplicationForm,
        email: &str,
        now: i64,
    ) -> ApplicationResult<EntityRecord> {
        let candidate = form::check(form.clone(), now).map_err(ApplicationError::Invalid)?;
        if let Some(nip) = &candidate.entity.nip
            && let Some(entity) = tx.entity_by_nip(nip).await?
        {
            return Ok(entity);
        }
        let input = form.entity.new_entity(Some(email.to_owned()));
        Ok(self.issuer.create_entity_in(tx, actor, input, now).await?)
    }

    /// The board's refusal, with its reasons, which the applicant reads.
    pub async fn refuse(&self, actor: &str, id: &str, reasons: &str, now: i64) -> ApplicationResult<()> {
        let reasons = form::message("reasons", reasons)?;
        let mut tx = self.store().begin().await?;
        let (mut application, _) = self.open_case(&mut tx, id).await?;
        let outcome =
            Outcome { outcome: "refused".into(), reasons: Some(reasons.clone()), ..Outcome::default() };
        application.status = Status::Refused.as_str().into();
        application.decision = Some(json(&outcome)?);
        application.decided_by = Some(actor.to_owned());
        application.decided_at = Some(now);
        application.updated_at = now;
        tx.update_application(&application).await?;
        tx.insert_application_event(id, now, actor, "refused", &reasons).await?;
        mail::enqueue(&mut tx, &letters::refused(&application, &reasons, &self.case_url(id)), now).await?;
        tx.append_audit(&audit(
            actor,
            "application.refuse",
            id,
            serde_json::json!({ "reasons": reasons }),
            now,
        ))
        .await?;
        tx.commit().await?;
        self.outbox.wake();
        Ok(())
    }

    /// The applications' lines of the staff's weekly digest: how many wait in each open status.
    pub async fn digest_section(&self) -> StoreResult<mail::digest::DigestSection> {
        let counts = self.store().application_counts().await?;
        let lines = Status::ALL
            .into_iter()
            .filter(|status| !status.closed())
            .filter_map(|status| {
                let count = counts.iter().find(|(s, _)| s == status.as_str()).map(|(_, n)| *n)?;
                Some(format!("{} / {}: {count}", status.label(true), status.label(false)))
            })
            .collect::<Vec<_>>();
        let lines = if lines.is_empty() { vec!["brak / none".to_owned()] } else { lines };
        Ok(mail::digest::DigestSection {
            title: "Wnioski w toku / Applications in progress".to_owned(),
            lines,
        })
    }

    /// Ends applicants' sessions and links that have run out.
    pub async fn purge(&self, now: i64) -> StoreResult<u64> {
        self.store().purge_applicants(now - SESSION_IDLE, now - SESSION_MAX, now).await
    }
}

#[cfg(test)]
pub(crate) mod tests;
