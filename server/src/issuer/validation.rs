//! The issuer's input and every check of it: text fields, identifiers, legal forms, products,
//! domains and dates. The JSON Schemas of these fields (`fields`) say exactly what the
//! checks accept.

use super::*;

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEntity {
    /// Full name, as registered.
    #[schema(value_type = fields::Name)]
    pub name: String,
    #[schema(value_type = fields::LegalFormCode)]
    pub legal_form: String,
    /// Web domains where the entity shows the badge (1 to 20), listed once each however written.
    #[schema(value_type = Vec<fields::Domain>, min_items = 1, max_items = 20)]
    pub domains: Vec<String>,
    /// A NIP already registered is refused with 422 naming `nip`.
    #[serde(default)]
    #[schema(value_type = Option<fields::Nip>)]
    pub nip: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<fields::Regon>)]
    pub regon: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<fields::Krs>)]
    pub krs: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<fields::City>)]
    pub city: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<fields::Voivodeship>)]
    pub voivodeship: Option<String>,
    /// Contact e-mail or phone, for the issuer's staff; not published.
    #[serde(default)]
    #[schema(value_type = Option<fields::Contact>)]
    pub contact: Option<String>,
}

/// Read only from a JSON object (see [`ObjectOnly`]): the derived code is
/// `NewProduct::deserialize`, which the `Deserialize` impl below calls through it.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct NewProduct {
    #[schema(value_type = fields::Name)]
    pub name: String,
    #[serde(default)]
    #[schema(value_type = Option<fields::Gtin>)]
    pub gtin: Option<String>,
}

impl<'de> Deserialize<'de> for NewProduct {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        NewProduct::deserialize(ObjectOnly(deserializer))
    }
}

impl Serialize for NewProduct {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        NewProduct::serialize(self, serializer)
    }
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCertificate {
    /// The entity's ID; one that does not exist is refused with 422 naming `entity_id`.
    pub entity_id: String,
    /// Certified products and services (1 to 50). The certificate's token lists them and must fit
    /// in 8 KiB: a list too long for it is refused with 422 naming `products`.
    #[schema(min_items = 1, max_items = 50)]
    pub products: Vec<NewProduct>,
    /// First day of the validity year; today when omitted.
    #[serde(default)]
    #[schema(value_type = Option<fields::ValidFrom>)]
    pub valid_from: Option<String>,
}

/// Lowercases and strips Polish diacritics, so "zloty sloik" finds "Złoty Słoik".
pub fn fold(text: &str) -> String {
    text.chars()
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'ą' => 'a',
            'ć' => 'c',
            'ę' => 'e',
            'ł' => 'l',
            'ń' => 'n',
            'ó' => 'o',
            'ś' => 's',
            'ź' | 'ż' => 'z',
            other => other,
        })
        .collect()
}

/// The folded text registry search matches against: the certificate's ID and number, the
/// entity's name, place and identifiers, and its products.
pub fn search_text(
    certificate_id: &str,
    number: &str,
    entity: &EntityRecord,
    products: &[ProductRecord],
) -> String {
    let mut parts = vec![certificate_id, number, &entity.name];
    parts.extend(
        [&entity.city, &entity.voivodeship, &entity.nip, &entity.krs, &entity.regon]
            .into_iter()
            .flatten()
            .map(String::as_str),
    );
    parts.extend(products.iter().map(|p| p.name.as_str()));
    parts.extend(products.iter().filter_map(|p| p.gtin.as_deref()));
    fold(&parts.join(" \u{1f} "))
}

/// Longest entity name, product or service name, in characters.
pub const NAME_MAX: usize = 200;
/// Longest city name.
pub const CITY_MAX: usize = 100;
/// Longest contact line.
pub const CONTACT_MAX: usize = 200;
/// Longest public note on a suspension or revocation.
pub const NOTE_MAX: usize = 500;
/// Most web domains an entity may list.
pub const DOMAINS_MAX: usize = 20;
/// Most products or services a certificate may list.
pub const PRODUCTS_MAX: usize = 50;

/// Refuses control characters anywhere in a text field, and more than `max` characters, before
/// any trimming: what the OpenAPI document says of every such field (`maxLength`, and a pattern
/// without U+0000–U+001F and U+007F–U+009F). Returns the text without surrounding whitespace.
pub(super) fn checked_text<'a>(field: &str, value: &'a str, max: usize) -> IssuerResult<&'a str> {
    if value.chars().any(char::is_control) {
        return Err(invalid(field, "must not contain control characters"));
    }
    if value.chars().count() > max {
        return Err(invalid(field, format!("must be at most {max} characters")));
    }
    Ok(value.trim())
}

/// A required text field: [`checked_text`], and not blank.
pub fn clean_text(field: &str, value: &str, max: usize) -> IssuerResult<String> {
    let value = checked_text(field, value, max)?;
    if value.is_empty() {
        return Err(invalid(field, "must not be empty"));
    }
    Ok(value.to_owned())
}

/// An optional text field: [`checked_text`]; blank is the same as absent.
pub fn optional_text(field: &str, value: &Option<String>, max: usize) -> IssuerResult<Option<String>> {
    match value {
        None => Ok(None),
        Some(text) => {
            let text = checked_text(field, text, max)?;
            Ok((!text.is_empty()).then(|| text.to_owned()))
        }
    }
}

/// One of [`VOIVODESHIPS`], exactly as listed there (lowercase), or none.
pub fn optional_voivodeship(value: &Option<String>) -> IssuerResult<Option<String>> {
    match value.as_deref() {
        None => Ok(None),
        Some(region) if VOIVODESHIPS.contains(&region) => Ok(Some(region.to_owned())),
        Some(_) => Err(invalid("voivodeship", format!("must be one of {}", VOIVODESHIPS.join(", ")))),
    }
}

/// A register identifier (NIP, REGON, KRS) checked by `check`; blank is the same as absent.
pub fn optional_ident(
    field: &str,
    value: &Option<String>,
    check: fn(&str) -> Result<String, zp_shared::Error>,
) -> IssuerResult<Option<String>> {
    match optional_text(field, value, usize::MAX)? {
        None => Ok(None),
        Some(text) => check(&text).map(Some).map_err(|err| invalid(field, err.to_string())),
    }
}

/// The code of a [`LegalForm`], exactly.
pub fn parse_legal_form(value: &str) -> IssuerResult<LegalForm> {
    LegalForm::from_code(value).ok_or_else(|| {
        let names: Vec<&str> = LegalForm::ALL.iter().map(|form| form.code()).collect();
        invalid("legal_form", format!("must be one of {}", names.join(", ")))
    })
}

/// The products of a new certificate, or of an addition to one: 1 to [`PRODUCTS_MAX`], each
/// with a name and perhaps a GTIN.
pub fn validate_products(field: &str, products: &[NewProduct], now: i64) -> IssuerResult<Vec<ProductRecord>> {
    if products.is_empty() {
        return Err(invalid(field, "list at least one product or service"));
    }
    if products.len() > PRODUCTS_MAX {
        return Err(invalid(field, format!("at most {PRODUCTS_MAX} products or services")));
    }
    products
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let name = clean_text(&format!("{field}[{i}].name"), &p.name, NAME_MAX)?;
            let field = format!("{field}[{i}].gtin");
            let gtin = match optional_text(&field, &p.gtin, usize::MAX)? {
                None => None,
                Some(g) => Some(ids::gtin14(&g).map_err(|m| invalid(field, m))?),
            };
            Ok(ProductRecord { name, gtin, added_at: now })
        })
        .collect()
}

/// The entity a [`NewEntity`] describes, checked field by field, with a new ID. The store and the
/// token budget ([`Issuer::create_entity`]) come after.
pub fn entity_record(input: NewEntity, now: i64) -> IssuerResult<EntityRecord> {
    entity_record_all(input, now).map_err(|errors| {
        errors.into_iter().next().unwrap_or_else(|| invalid("name", "refused without a reason"))
    })
}

/// [`entity_record`] that goes on after a refusal, giving every field's refusal in the order
/// [`entity_record`] checks them (it gives the first): a bulk import shows them all at once.
pub fn entity_record_all(input: NewEntity, now: i64) -> Result<EntityRecord, Vec<IssuerError>> {
    let mut errors = Vec::new();
    let name = kept(&mut errors, clean_text("name", &input.name, NAME_MAX));
    let legal_form = kept(&mut errors, parse_legal_form(&input.legal_form));
    let domains = kept(&mut errors, entity_domains(&input.domains));
    let voivodeship = kept(&mut errors, optional_voivodeship(&input.voivodeship));
    let nip = kept(&mut errors, optional_ident("nip", &input.nip, zp_shared::ident::nip));
    let regon = kept(&mut errors, optional_ident("regon", &input.regon, zp_shared::ident::regon));
    let krs = kept(&mut errors, optional_ident("krs", &input.krs, zp_shared::ident::krs));
    let city = kept(&mut errors, optional_text("city", &input.city, CITY_MAX));
    let contact = kept(&mut errors, optional_text("contact", &input.contact, CONTACT_MAX));
    let (
        Some(name),
        Some(legal_form),
        Some(domains),
        Some(voivodeship),
        Some(nip),
        Some(regon),
        Some(krs),
        Some(city),
        Some(contact),
    ) = (name, legal_form, domains, voivodeship, nip, regon, krs, city, contact)
    else {
        return Err(errors);
    };
    Ok(EntityRecord {
        id: ids::new_id("E", &mut OsRng),
        name,
        legal_form: legal_form.code().to_owned(),
        nip,
        regon,
        krs,
        city,
        voivodeship,
        domains,
        contact,
        created_at: now,
    })
}

/// The value of `result`, or `None` with its refusal added to `errors`.
fn kept<T>(errors: &mut Vec<IssuerError>, result: IssuerResult<T>) -> Option<T> {
    result.map_err(|err| errors.push(err)).ok()
}

/// An entity's domains: 1 to [`DOMAINS_MAX`], normalised, each listed once.
fn entity_domains(input: &[String]) -> IssuerResult<Vec<String>> {
    if input.is_empty() {
        return Err(invalid("domains", "list at least one domain where the badge will be shown"));
    }
    if input.len() > DOMAINS_MAX {
        return Err(invalid("domains", format!("at most {DOMAINS_MAX} domains")));
    }
    let mut domains = Vec::new();
    for (i, domain) in input.iter().enumerate() {
        let field = format!("domains[{i}]");
        let domain = checked_text(&field, domain, usize::MAX)?;
        let domain = ids::normalize_domain(domain).map_err(|m| invalid(field, m))?;
        if !domains.contains(&domain) {
            domains.push(domain);
        }
    }
    Ok(domains)
}

/// The first day of a new certificate's validity: `valid_from` (`YYYY-MM-DD`, at most two years
/// back and one ahead), or today when it is absent or blank.
pub fn validity_start(valid_from: &Option<String>, now: i64) -> IssuerResult<NaiveDate> {
    let start = match optional_text("valid_from", valid_from, usize::MAX)? {
        None => date_of(now),
        Some(text) => {
            parse_date(&text).ok_or_else(|| invalid("valid_from", "must be a date written YYYY-MM-DD"))?
        }
    };
    // Certificates granted on paper may be entered late, but not from years ago; a year ahead
    // at most.
    let days = (start - date_of(now)).num_days();
    if !(-731..=366).contains(&days) {
        return Err(invalid("valid_from", "must be at most two years before today and one year after"));
    }
    Ok(start)
}

/// `YYYY-MM-DD` (the year perhaps signed): exactly four, two and two digits, a day that exists.
/// Read by hand rather than with a format string, so that what is accepted is exactly what the
/// field's pattern says (`fields::ValidFrom`), whatever a parser's leniency.
pub fn parse_date(text: &str) -> Option<NaiveDate> {
    let (sign, rest) = match text.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, text.strip_prefix('+').unwrap_or(text)),
    };
    let mut parts = rest.split('-');
    let mut number = |digits: usize| -> Option<u32> {
        parts
            .next()
            .filter(|part| part.len() == digits && part.bytes().all(|b| b.is_ascii_digit()))?
            .parse()
            .ok()
    };
    let (year, month, day) = (i32::try_from(number(4)?).ok()?, number(2)?, number(2)?);
    if parts.next().is_some() {
        return None;
    }
    NaiveDate::from_ymd_opt(sign * year, month, day)
}

/// Midnight UTC at the start of `date`.
pub fn day_start(date: NaiveDate) -> i64 {
    date.and_time(NaiveTime::MIN).and_utc().timestamp()
}

/// The same calendar day a year later (29 February becomes 1 March).
pub(super) fn plus_one_year(date: NaiveDate) -> NaiveDate {
    let year = date.year() + 1;
    NaiveDate::from_ymd_opt(year, date.month(), date.day())
        .or_else(|| NaiveDate::from_ymd_opt(year, 3, 1))
        .unwrap_or(date)
}

pub(super) fn date_of(unix: i64) -> NaiveDate {
    DateTime::from_timestamp(unix, 0).map_or(NaiveDate::MIN, |at| at.date_naive())
}

pub fn format_date(unix: i64) -> String {
    let d = date_of(unix);
    format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day())
}

/// A deserializer that gives a struct only from a JSON object. serde's derived structs also take an
/// array of their fields in order (`["Fundacja", "foundation", ["a.pl"]]`), which the OpenAPI
/// document does not allow: the JSON fuzz target found bodies sent as arrays accepted. Request
/// bodies are read through it, and so is every struct nested in one (`NewProduct`).
#[derive(Debug)]
pub struct ObjectOnly<D>(pub D);

impl<'de, D: serde::Deserializer<'de>> serde::Deserializer<'de> for ObjectOnly<D> {
    type Error = D::Error;

    fn deserialize_any<V: serde::de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_any(visitor)
    }

    fn deserialize_struct<V: serde::de::Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_map(visitor)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option
        unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
    }
}

/// Longest resolution number of the board.
pub const RESOLUTION_MAX: usize = 100;

/// The certification board's (Kapituła's) resolution that decided a grant, renewal or
/// revocation: its number and its date (`YYYY-MM-DD`). Recorded in the action's audit entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub resolution: String,
    pub date: String,
}

impl Decision {
    /// A decision from a form's two fields, both or neither given: one without the other is
    /// refused naming the one missing.
    pub fn from_parts(resolution: Option<String>, date: Option<String>) -> IssuerResult<Option<Decision>> {
        let blank = |value: &Option<String>| value.as_deref().is_none_or(|v| v.trim().is_empty());
        match (resolution, date) {
            (resolution, date) if blank(&resolution) && blank(&date) => Ok(None),
            (resolution, _) if blank(&resolution) => {
                Err(invalid("resolution", "give the number of the resolution of this date"))
            }
            (_, date) if blank(&date) => Err(invalid("resolution_date", "give the date of the resolution")),
            (resolution, date) => Ok(Some(Decision {
                resolution: resolution.unwrap_or_default(),
                date: date.unwrap_or_default(),
            })),
        }
    }

    /// The decision checked: a resolution number not blank, without control characters, at most
    /// [`RESOLUTION_MAX`] characters; a date `YYYY-MM-DD` not after today.
    pub fn checked(&self, now: i64) -> IssuerResult<Decision> {
        let resolution = clean_text("resolution", &self.resolution, RESOLUTION_MAX)?;
        let date = parse_date(self.date.trim())
            .ok_or_else(|| invalid("resolution_date", "must be a date written YYYY-MM-DD"))?;
        if date > date_of(now) {
            return Err(invalid("resolution_date", "must not be in the future"));
        }
        Ok(Decision { resolution, date: format_date(day_start(date)) })
    }
}

/// A decision checked with [`Decision::checked`], if there is one.
pub(super) fn checked_decision(decision: Option<&Decision>, now: i64) -> IssuerResult<Option<Decision>> {
    decision.map(|decision| decision.checked(now)).transpose()
}
