//! What an application holds, as `POST /api/v1/applications` takes it and the `/apply` form
//! fills it, and every check of it. The checks are the issuer's own (names, identifiers, domains,
//! products), so an application that passes here is one the board can approve as it stands.

use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{ObjectBuilder, Type};

use crate::issuer::fields::{self, field_schema, non_blank_pattern, text_pattern};
use crate::issuer::{
    self, IssuerError, NAME_MAX, NewEntity, NewProduct, entity_record_all, validate_products,
};
use crate::store::{EntityRecord, ProductRecord};

/// How long the description of quality may be.
pub const QUALITY_MAX: usize = 4000;
/// How long an address, a contact person's name or phone may be.
pub const ADDRESS_MAX: usize = 200;
pub const PHONE_MAX: usize = 40;
/// How long a question, an answer or a refusal's reasons may be.
pub const MESSAGE_MAX: usize = 4000;

/// What is applied for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A new mark: the board grants a certificate for a year.
    #[default]
    New,
    /// Another year of a certificate (`certificate_id`).
    Renewal,
    /// Another branch of activity (products or services) added to a certificate (`certificate_id`).
    Branch,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::New => "new",
            Kind::Renewal => "renewal",
            Kind::Branch => "branch",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Kind::New, Kind::Renewal, Kind::Branch].into_iter().find(|kind| kind.as_str() == text)
    }

    pub fn label(self, pl: bool) -> &'static str {
        match (self, pl) {
            (Kind::New, true) => "nowy znak",
            (Kind::New, false) => "a new mark",
            (Kind::Renewal, true) => "przedłużenie certyfikatu",
            (Kind::Renewal, false) => "renewal of a certificate",
            (Kind::Branch, true) => "nowa gałąź działalności",
            (Kind::Branch, false) => "another branch of activity",
        }
    }
}

field_schema! {
    /// How the applicant ensures the quality of its products and services.
    Quality => ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(QUALITY_MAX))
        .pattern(Some(format!("^(?:[^{c}]|[\\n\\r\\t])*[^{c}{s}](?:[^{c}]|[\\n\\r\\t])*$",
            c = fields::CONTROLS, s = fields::SPACES)))
        .description(Some(format!(
            "1 to {QUALITY_MAX} characters, not blank; line breaks and tabs allowed, no other control characters."
        )))
}

field_schema! {
    /// A street address.
    Address => ObjectBuilder::new()
        .schema_type(Type::String)
        .max_length(Some(ADDRESS_MAX))
        .pattern(Some(text_pattern()))
        .description(Some(format!(
            "At most {ADDRESS_MAX} characters, no control characters; blank is the same as absent."
        )))
}

field_schema! {
    /// A person's name.
    PersonName => ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(NAME_MAX))
        .pattern(Some(non_blank_pattern()))
        .description(Some(format!("1 to {NAME_MAX} characters, not blank, no control characters.")))
}

field_schema! {
    /// A phone number, as written.
    Phone => ObjectBuilder::new()
        .schema_type(Type::String)
        .max_length(Some(PHONE_MAX))
        .pattern(Some(text_pattern()))
        .description(Some(format!("At most {PHONE_MAX} characters, no control characters.")))
}

field_schema! {
    /// An e-mail address.
    Email => ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(3))
        .max_length(Some(254))
        .pattern(Some("^[^\\s<>@]+@[^\\s<>@.][^\\s<>@]*\\.[^\\s<>@]*[^\\s<>@.]$".to_owned()))
        .description(Some(
            "One `@`, a dot in the domain, no spaces, at most 254 characters; the letters and links \
             of the case go here."
                .to_owned(),
        ))
}

/// The entity applying, as it should appear on the certificate.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EntityPart {
    /// Full name, as registered.
    #[schema(value_type = fields::Name)]
    pub name: String,
    #[schema(value_type = fields::LegalFormCode)]
    pub legal_form: String,
    /// Websites where the badge will appear (1 to 20).
    #[schema(value_type = Vec<fields::Domain>, min_items = 1, max_items = 20)]
    pub domains: Vec<String>,
    #[serde(default)]
    #[schema(value_type = Option<fields::Nip>)]
    pub nip: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<fields::Regon>)]
    pub regon: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<fields::Krs>)]
    pub krs: Option<String>,
    /// Street and number, postcode; not published.
    #[serde(default)]
    #[schema(value_type = Option<Address>)]
    pub address: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<fields::City>)]
    pub city: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<fields::Voivodeship>)]
    pub voivodeship: Option<String>,
}

impl EntityPart {
    /// The entity as the issuer registers it (the address stays with the application).
    pub fn new_entity(&self, contact: Option<String>) -> NewEntity {
        NewEntity {
            name: self.name.clone(),
            legal_form: self.legal_form.clone(),
            domains: self.domains.clone(),
            nip: self.nip.clone(),
            regon: self.regon.clone(),
            krs: self.krs.clone(),
            city: self.city.clone(),
            voivodeship: self.voivodeship.clone(),
            contact,
        }
    }
}

/// The person the issuer writes to about the case.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactPart {
    #[schema(value_type = PersonName)]
    pub name: String,
    /// Receives the acknowledgement, the sign-in links, the board's questions and its decision.
    #[schema(value_type = Email)]
    pub email: String,
    #[serde(default)]
    #[schema(value_type = Option<Phone>)]
    pub phone: Option<String>,
}

/// An attachment sent through the API: its file name and its content, base64.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttachmentPart {
    #[schema(value_type = fields::Name)]
    pub name: String,
    /// The file, base64 (standard alphabet, padded). PDF, JPEG or PNG, judged by the content.
    pub content_base64: String,
}

/// An application for the mark.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplicationForm {
    /// `new` when omitted.
    #[serde(default)]
    pub kind: Kind,
    /// For a renewal or another branch: the certificate's ID (as in its QR code). A certificate
    /// that does not exist or is revoked is refused with 422 naming `certificate_id`.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 20)]
    pub certificate_id: Option<String>,
    pub entity: EntityPart,
    /// The products and services the mark is for (for another branch: the new ones), 1 to 50.
    #[schema(min_items = 1, max_items = 50)]
    pub products: Vec<NewProduct>,
    /// How the quality of these products and services is ensured.
    #[schema(value_type = Quality)]
    pub quality: String,
    pub contact: ContactPart,
    /// The applicant agrees that the issuer processes these data to run the mark; must be `true`.
    pub consent: bool,
    /// The language of the case's letters: `pl` (when omitted) or `en`.
    #[serde(default)]
    #[schema(value_type = Option<String>, pattern = "^(pl|en)$")]
    pub lang: Option<String>,
    /// At most 5 files of at most 10 MiB each.
    #[serde(default, skip_serializing)]
    #[schema(max_items = 5)]
    pub attachments: Vec<AttachmentPart>,
}

/// A refusal of one field, named by its path in the JSON body (`entity.nip`, `contact.email`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError { field: field.into(), message: message.into() }
    }
}

/// An application that passed every check of its own (the registry's come at submission).
#[derive(Debug, Clone)]
pub struct Checked {
    pub form: ApplicationForm,
    /// The entity as the certificate would name it; its ID is drawn but used only for a new one.
    pub entity: EntityRecord,
    pub products: Vec<ProductRecord>,
    pub email: String,
    pub lang: &'static str,
}

/// Every check of the application at once, so a form shows all its refusals together.
pub fn check(mut form: ApplicationForm, now: i64) -> Result<Checked, Vec<FieldError>> {
    let mut errors = Vec::new();
    let entity = match entity_record_all(form.entity.new_entity(None), now) {
        Ok(entity) => Some(entity),
        Err(refusals) => {
            errors.extend(refusals.into_iter().map(|err| prefixed("entity.", err)));
            None
        }
    };
    let products =
        validate_products("products", &form.products, now).map_err(|err| errors.push(prefixed("", err))).ok();
    let keep = |errors: &mut Vec<FieldError>, result: issuer::IssuerResult<Option<String>>| {
        result.map_err(|err| errors.push(prefixed("", err))).ok().flatten()
    };
    form.entity.address =
        keep(&mut errors, issuer::optional_text("entity.address", &form.entity.address, ADDRESS_MAX));
    match quality(&form.quality) {
        Ok(text) => form.quality = text,
        Err(err) => errors.push(err),
    }
    match issuer::clean_text("contact.name", &form.contact.name, NAME_MAX) {
        Ok(name) => form.contact.name = name,
        Err(err) => errors.push(prefixed("", err)),
    }
    form.contact.phone =
        keep(&mut errors, issuer::optional_text("contact.phone", &form.contact.phone, PHONE_MAX));
    let email = crate::accounts::check_email(&form.contact.email)
        .map_err(|err| errors.push(FieldError::new("contact.email", account_message(&err))))
        .ok();
    if !form.consent {
        errors.push(FieldError::new("consent", "the applicant must agree to the processing of these data"));
    }
    let lang = match form.lang.as_deref().map(str::trim) {
        None | Some("") | Some("pl") => "pl",
        Some("en") => "en",
        Some(_) => {
            errors.push(FieldError::new("lang", "must be pl or en"));
            "pl"
        }
    };
    match (form.kind, form.certificate_id.as_deref().map(str::trim).filter(|id| !id.is_empty())) {
        (Kind::New, None) => form.certificate_id = None,
        (Kind::New, Some(_)) => {
            errors.push(FieldError::new("certificate_id", "a new mark names no certificate; leave it out"))
        }
        (_, None) => errors.push(FieldError::new(
            "certificate_id",
            "give the ID of the certificate to renew or extend (as in its QR code)",
        )),
        (_, Some(id)) => match crate::ids::normalize_certificate_id(id) {
            Some(id) => form.certificate_id = Some(id),
            None => errors.push(FieldError::new(
                "certificate_id",
                "not a certificate ID (8 characters, as in its QR code)",
            )),
        },
    }
    if form.attachments.len() > super::files::PER_SUBMISSION {
        errors.push(FieldError::new(
            "attachments",
            format!("at most {} files at once", super::files::PER_SUBMISSION),
        ));
    }
    match (entity, products, email) {
        (Some(entity), Some(products), Some(email)) if errors.is_empty() => {
            form.lang = Some(lang.to_owned());
            form.contact.email = email.clone();
            Ok(Checked { form, entity, products, email, lang })
        }
        _ => Err(errors),
    }
}

fn quality(text: &str) -> Result<String, FieldError> {
    if text.chars().count() > QUALITY_MAX {
        return Err(FieldError::new("quality", format!("must be at most {QUALITY_MAX} characters")));
    }
    match message("quality", text) {
        Err(err) if err.message == "must not be empty" => Err(FieldError::new(
            "quality",
            "describe how the quality of the products and services is ensured",
        )),
        other => other,
    }
}

/// A free text of the case (a question, an answer, reasons): line breaks allowed.
pub fn message(field: &str, text: &str) -> Result<String, FieldError> {
    if text.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
        return Err(FieldError::new(field, "must not contain control characters"));
    }
    if text.chars().count() > MESSAGE_MAX {
        return Err(FieldError::new(field, format!("must be at most {MESSAGE_MAX} characters")));
    }
    let text = text.trim();
    if text.is_empty() {
        return Err(FieldError::new(field, "must not be empty"));
    }
    Ok(text.replace("\r\n", "\n"))
}

fn prefixed(prefix: &str, err: IssuerError) -> FieldError {
    match err {
        IssuerError::Invalid { field, message } => FieldError::new(format!("{prefix}{field}"), message),
        other => FieldError::new(prefix.trim_end_matches('.'), other.to_string()),
    }
}

fn account_message(err: &crate::accounts::AccountError) -> String {
    match err {
        crate::accounts::AccountError::Invalid { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

/// The Polish of a refusal the checks give in English, for the `/apply` form: the common ones
/// word for word (identifiers' digit rules and attachments' limits included), the rest with the
/// English reason.
pub fn polish(error: &FieldError) -> String {
    let known: &[(&str, &str)] = &[
        ("must not be empty", "To pole jest wymagane."),
        ("required", "To pole jest wymagane."),
        ("must not contain control characters", "Usuń znaki sterujące."),
        ("list at least one product or service", "Podaj co najmniej jeden produkt lub usługę."),
        (
            "list at least one domain where the badge will be shown",
            "Podaj co najmniej jedną stronę internetową, na której pojawi się znak.",
        ),
        (
            "not an e-mail address (expected name@example.pl)",
            "To nie jest adres e-mail (np. imie@example.pl).",
        ),
        (
            "the applicant must agree to the processing of these data",
            "Potrzebna jest zgoda na przetwarzanie tych danych.",
        ),
        (
            "describe how the quality of the products and services is ensured",
            "Opisz, jak dbacie o jakość produktów i usług.",
        ),
        (
            "give the ID of the certificate to renew or extend (as in its QR code)",
            "Podaj identyfikator certyfikatu (jak w jego kodzie QR).",
        ),
        (
            "not a certificate ID (8 characters, as in its QR code)",
            "To nie jest identyfikator certyfikatu (8 znaków, jak w kodzie QR).",
        ),
        (
            "no certificate that is not revoked has this ID",
            "Nie ma nieunieważnionego certyfikatu o tym identyfikatorze.",
        ),
        ("the form has expired; send it again", "Formularz wygasł; wyślij go ponownie."),
        ("write an answer or attach a file", "Napisz odpowiedź albo dołącz plik."),
        (
            "NIP weighted sum leaves remainder 10: no valid NIP has these first nine digits",
            "Suma ważona NIP daje resztę 10: żaden poprawny NIP nie ma takich pierwszych dziewięciu cyfr.",
        ),
    ];
    let message = error.message.as_str();
    if let Some((_, pl)) = known.iter().find(|(en, _)| *en == message) {
        return (*pl).to_owned();
    }
    if let Some(pl) = identifier(message).or_else(|| attachment(message)) {
        return pl;
    }
    format!("Nieprawidłowa wartość: {message}")
}

/// The identifiers' digit rules (`zp_shared::Error::Ident*`) in Polish.
fn identifier(message: &str) -> Option<String> {
    let (kind, rest) = message.split_once(' ')?;
    if !matches!(kind, "NIP" | "REGON" | "KRS") {
        return None;
    }
    if let Some(rest) = rest.strip_prefix("must have ") {
        let (expected, found) = rest.split_once(" digits, it has ")?;
        return Some(format!("{kind} musi mieć {} cyfr, a ma {found}.", expected.replace(" or ", " albo ")));
    }
    if let Some(rest) = rest.strip_prefix("may contain only digits; character ") {
        let (position, found) = rest.split_once(" is ")?;
        return Some(format!("{kind} może zawierać tylko cyfry; znak nr {position} to {found}."));
    }
    if let Some(rest) = rest.strip_prefix("check digit is ") {
        let (found, expected) = rest.split_once(", the weighted sum gives ")?;
        return Some(format!(
            "Cyfra kontrolna {kind} to {found}, a suma ważona daje {expected}: sprawdź, czy nie ma literówki."
        ));
    }
    if rest == "of all zeros is not issued" {
        return Some(format!("{kind} z samych zer nie jest nadawany."));
    }
    None
}

/// The attachments' refusals (`files::accept`) in Polish.
fn attachment(message: &str) -> Option<String> {
    if let Some(name) =
        message.strip_suffix(": not a PDF, JPEG or PNG file (judged by its content, not its name)")
    {
        return Some(format!(
            "{name}: to nie jest plik PDF, JPEG ani PNG (rozpoznajemy po zawartości, nie po nazwie)."
        ));
    }
    if let Some(name) = message.strip_suffix(": the file is empty") {
        return Some(format!("{name}: plik jest pusty."));
    }
    if let Some((name, rest)) = message.split_once(": ")
        && let Some((size, limit)) = rest.split_once(" MB is more than the ")
    {
        let limit = limit.strip_suffix(" MB a file may have")?;
        return Some(format!("{name}: {size} MB to więcej niż {limit} MB, które może mieć plik."));
    }
    if let Some(count) = message.strip_prefix("at most ").and_then(|m| m.strip_suffix(" files at once")) {
        return Some(format!("Najwyżej {count} plików naraz."));
    }
    if let Some(rest) = message.strip_prefix("a case holds at most ") {
        return Some(format!(
            "Sprawa może mieć najwyżej {}",
            rest.replace(" files; it has ", " plików; ma już ")
        ));
    }
    if let Some(total) = message.strip_prefix("the files together are more than ") {
        return Some(format!("Pliki razem mają więcej niż {total}."));
    }
    if message == "the form arrived incomplete; send it again" {
        return Some("Formularz nie dotarł w całości; wyślij go ponownie.".into());
    }
    None
}

/// What a field is called on the form, for the summary of refusals.
pub fn label(field: &str, pl: bool) -> &'static str {
    let base = field.split('[').next().unwrap_or(field);
    let (pl_label, en_label) = match base {
        "certificate_id" => ("Identyfikator certyfikatu", "Certificate ID"),
        "entity.name" => ("Pełna nazwa", "Full name"),
        "entity.legal_form" => ("Forma prawna", "Legal form"),
        "entity.nip" => ("NIP", "NIP"),
        "entity.regon" => ("REGON", "REGON"),
        "entity.krs" => ("KRS", "KRS"),
        "entity.address" => ("Adres", "Address"),
        "entity.city" => ("Miejscowość", "City"),
        "entity.voivodeship" => ("Województwo", "Voivodeship"),
        "entity.domains" => ("Strony internetowe", "Websites"),
        "products" => ("Produkty i usługi", "Products and services"),
        "quality" => ("Jak dbacie o jakość", "How you ensure quality"),
        "contact.name" => ("Imię i nazwisko", "Name"),
        "contact.email" | "email" => ("E-mail", "E-mail"),
        "contact.phone" => ("Telefon", "Phone"),
        "attachments" => ("Załączniki", "Attachments"),
        "consent" => ("Zgoda", "Consent"),
        "answer" => ("Odpowiedź", "Answer"),
        _ => ("Formularz", "Form"),
    };
    if pl { pl_label } else { en_label }
}
