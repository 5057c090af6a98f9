//! The certificate token (SPEC §4): its claims, and the one verification path that the server and
//! the widget both use.
//!
//! [`UntrustedToken::parse`] checks the form; only [`UntrustedToken::verify`] yields
//! [`VerifiedClaims`], so code that holds claims holds verified ones.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Part};
use crate::json::{self, Fields, Object, Value};
use crate::jwk::KeySet;
use crate::jws::{self, Compact};

/// `typ` of a certificate token.
pub const CERT_TYP: &str = "zp-cert+jwt";
/// Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds.
pub const DEFAULT_LEEWAY: i64 = 60;

/// The sixteen voivodeships, by their lowercase Polish names: the values of an entity's
/// `voivodeship` and of a trust list member's.
pub const VOIVODESHIPS: [&str; 16] = [
    "dolnośląskie",
    "kujawsko-pomorskie",
    "lubelskie",
    "lubuskie",
    "łódzkie",
    "małopolskie",
    "mazowieckie",
    "opolskie",
    "podkarpackie",
    "podlaskie",
    "pomorskie",
    "śląskie",
    "świętokrzyskie",
    "warmińsko-mazurskie",
    "wielkopolskie",
    "zachodniopomorskie",
];

/// What a verifier expects of a token beyond its signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    /// The issuer's base URL; `iss` must equal it exactly.
    pub issuer: String,
    /// Seconds of clock skew tolerated on each time claim.
    pub leeway: i64,
}

impl Rules {
    pub fn new(issuer: impl Into<String>) -> Self {
        Rules { issuer: issuer.into(), leeway: DEFAULT_LEEWAY }
    }

    pub fn with_leeway(mut self, leeway: i64) -> Self {
        self.leeway = leeway;
        self
    }
}

/// The claims of a certificate token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateClaims {
    /// Issuer base URL, e.g. `https://zp.rops.lublin.pl`.
    pub iss: String,
    /// Certificate ID: short uppercase Crockford base32.
    pub sub: String,
    /// Unique per token; a renewal or a change issues a new one.
    pub jti: String,
    pub iat: i64,
    /// Start of the validity year.
    pub nbf: i64,
    /// End of the validity year.
    pub exp: i64,
    pub status: StatusClaim,
    pub zp: Certificate,
}

/// `status` claim of the IETF Token Status List.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusClaim {
    pub status_list: StatusListRef,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusListRef {
    pub idx: u64,
    pub uri: String,
}

/// What the badge and the verification page show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Certificate {
    /// Human-readable certificate number, e.g. `ZP/LU/2026/0007`.
    pub number: String,
    pub entity: Entity,
    /// Certified products and services ("branches of activity").
    pub products: Vec<Product>,
    /// Hosts where the badge may be shown, lowercase ASCII (IDNA A-labels).
    pub domains: Vec<String>,
    /// The verification page, the target of the QR code.
    pub verify_url: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entity {
    pub name: String,
    pub legal_form: LegalForm,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub krs: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regon: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voivodeship: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Product {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gtin: Option<String>,
}

/// Legal forms of social-economy entities that may hold the mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LegalForm {
    SocialCooperative,
    Cis,
    Kis,
    Zaz,
    Wtz,
    Foundation,
    Association,
    NonProfitCompany,
    DisabledCooperative,
    BlindCooperative,
    Other,
}

impl LegalForm {
    pub const ALL: [LegalForm; 11] = [
        LegalForm::SocialCooperative,
        LegalForm::Cis,
        LegalForm::Kis,
        LegalForm::Zaz,
        LegalForm::Wtz,
        LegalForm::Foundation,
        LegalForm::Association,
        LegalForm::NonProfitCompany,
        LegalForm::DisabledCooperative,
        LegalForm::BlindCooperative,
        LegalForm::Other,
    ];

    /// The snake_case name used in tokens and the API.
    pub fn code(self) -> &'static str {
        match self {
            LegalForm::SocialCooperative => "social_cooperative",
            LegalForm::Cis => "cis",
            LegalForm::Kis => "kis",
            LegalForm::Zaz => "zaz",
            LegalForm::Wtz => "wtz",
            LegalForm::Foundation => "foundation",
            LegalForm::Association => "association",
            LegalForm::NonProfitCompany => "non_profit_company",
            LegalForm::DisabledCooperative => "disabled_cooperative",
            LegalForm::BlindCooperative => "blind_cooperative",
            LegalForm::Other => "other",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        LegalForm::ALL.into_iter().find(|form| form.code() == code)
    }

    /// The name in Polish.
    pub fn label_pl(self) -> &'static str {
        match self {
            LegalForm::SocialCooperative => "spółdzielnia socjalna",
            LegalForm::Cis => "centrum integracji społecznej",
            LegalForm::Kis => "klub integracji społecznej",
            LegalForm::Zaz => "zakład aktywności zawodowej",
            LegalForm::Wtz => "warsztat terapii zajęciowej",
            LegalForm::Foundation => "fundacja",
            LegalForm::Association => "stowarzyszenie",
            LegalForm::NonProfitCompany => "spółka non-profit",
            LegalForm::DisabledCooperative => "spółdzielnia inwalidów",
            LegalForm::BlindCooperative => "spółdzielnia niewidomych",
            LegalForm::Other => "inny podmiot ekonomii społecznej",
        }
    }

    /// The name in English.
    pub fn label_en(self) -> &'static str {
        match self {
            LegalForm::SocialCooperative => "social cooperative",
            LegalForm::Cis => "social integration centre",
            LegalForm::Kis => "social integration club",
            LegalForm::Zaz => "vocational activity establishment",
            LegalForm::Wtz => "occupational therapy workshop",
            LegalForm::Foundation => "foundation",
            LegalForm::Association => "association",
            LegalForm::NonProfitCompany => "non-profit company",
            LegalForm::DisabledCooperative => "cooperative of disabled people",
            LegalForm::BlindCooperative => "cooperative of blind people",
            LegalForm::Other => "other social-economy entity",
        }
    }
}

impl CertificateClaims {
    /// Decodes the claims of an authenticated token. Unknown top-level and `status` members are
    /// ignored (JWT is extensible); inside `zp`, which this product alone defines, they are refused.
    fn from_json(claims: &Object) -> Result<Self, Error> {
        let top = Fields::new(claims, "");
        let status = Fields::new(top.object("status")?, "status");
        let list = Fields::new(status.object("status_list")?, "status.status_list");
        Ok(CertificateClaims {
            iss: top.string("iss")?,
            sub: top.string("sub")?,
            jti: top.string("jti")?,
            iat: top.i64("iat")?,
            nbf: top.i64("nbf")?,
            exp: top.i64("exp")?,
            status: StatusClaim {
                status_list: StatusListRef { idx: list.u64("idx")?, uri: list.string("uri")? },
            },
            zp: Certificate::from_json(top.object("zp")?)?,
        })
    }
}

impl Certificate {
    fn from_json(zp: &Object) -> Result<Self, Error> {
        let zp = Fields::new(zp, "zp");
        zp.deny_unknown(&["number", "entity", "products", "domains", "verify_url"])?;
        let products = zp.array("products")?;
        let products = products.iter().map(Product::from_json).collect::<Result<_, _>>()?;
        let domains = zp.array("domains")?;
        let domains = domains
            .iter()
            .map(|domain| {
                domain
                    .as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| Error::Claims("`zp.domains` must hold strings".into()))
            })
            .collect::<Result<_, _>>()?;
        Ok(Certificate {
            number: zp.string("number")?,
            entity: Entity::from_json(zp.object("entity")?)?,
            products,
            domains,
            verify_url: zp.string("verify_url")?,
        })
    }
}

impl Entity {
    fn from_json(entity: &Object) -> Result<Self, Error> {
        let entity = Fields::new(entity, "zp.entity");
        entity.deny_unknown(&["name", "legal_form", "nip", "krs", "regon", "city", "voivodeship"])?;
        let legal_form = entity.string("legal_form")?;
        let legal_form = LegalForm::from_code(&legal_form).ok_or_else(|| {
            Error::Claims(format!("`zp.entity.legal_form` \"{legal_form}\" is not a known legal form"))
        })?;
        Ok(Entity {
            name: entity.string("name")?,
            legal_form,
            nip: entity.optional_string("nip")?,
            krs: entity.optional_string("krs")?,
            regon: entity.optional_string("regon")?,
            city: entity.optional_string("city")?,
            voivodeship: entity.optional_string("voivodeship")?,
        })
    }
}

impl Product {
    fn from_json(product: &Value) -> Result<Self, Error> {
        let product =
            product.as_object().ok_or_else(|| Error::Claims("`zp.products` must hold objects".into()))?;
        let product = Fields::new(product, "zp.products[]");
        product.deny_unknown(&["name", "gtin"])?;
        Ok(Product { name: product.string("name")?, gtin: product.optional_string("gtin")? })
    }
}

/// A token whose form and header are sound, whose signature and claims are not yet checked.
///
/// It holds no claims to read: verification is the only way to them.
///
/// ```
/// use zp_shared::{Error, KeySet, Rules, UntrustedToken};
///
/// fn subject(token: &str, keys: &KeySet, rules: &Rules, now: i64) -> Result<String, Error> {
///     let untrusted = UntrustedToken::parse(token)?;
///     let verified = untrusted.verify(keys, now, rules)?;
///     Ok(verified.into_claims().sub)
/// }
/// ```
///
/// Before that, the claims are not a field of it, nor behind a method, nor in the payload it
/// keeps to itself. Each of these fails to compile, with the error the comment names:
///
/// ```compile_fail,E0609
/// fn subject(token: &str) -> Result<String, zp_shared::Error> {
///     let untrusted = zp_shared::UntrustedToken::parse(token)?;
///     Ok(untrusted.claims.sub) // no field `claims`
/// }
/// ```
///
/// ```compile_fail,E0599
/// fn subject(token: &str) -> Result<String, zp_shared::Error> {
///     let untrusted = zp_shared::UntrustedToken::parse(token)?;
///     Ok(untrusted.claims().sub) // no method `claims`
/// }
/// ```
///
/// ```compile_fail,E0616
/// fn payload<'a>(untrusted: &zp_shared::UntrustedToken<'a>) -> impl std::fmt::Debug {
///     untrusted.jws.clone() // private field
/// }
/// ```
///
/// Nor does it, or the claims [`UntrustedToken::authenticate`] gives without the time check,
/// pass for verified claims:
///
/// ```compile_fail,E0277
/// fn verified(untrusted: zp_shared::UntrustedToken<'_>) -> zp_shared::VerifiedClaims {
///     untrusted.into() // no conversion
/// }
/// ```
///
/// ```compile_fail,E0308
/// use zp_shared::{AuthenticClaims, VerifiedClaims};
///
/// fn verified(authentic: AuthenticClaims) -> VerifiedClaims {
///     authentic // another type
/// }
/// ```
///
/// And no code outside this crate can build verified claims from parts:
///
/// ```compile_fail,E0451
/// use zp_shared::{CertificateClaims, VerifiedClaims};
///
/// fn verified(claims: CertificateClaims) -> VerifiedClaims {
///     VerifiedClaims { kid: String::new(), claims } // private fields
/// }
/// ```
#[derive(Debug, Clone)]
pub struct UntrustedToken<'a> {
    jws: Compact<'a>,
}

/// What an unverified token's payload names (see [`UntrustedToken::unverified_hints`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hints {
    /// `iss`: whose keys the token asks to be checked with.
    pub issuer: Option<String>,
    /// `sub`: the certificate ID.
    pub subject: Option<String>,
    /// The status list's URI.
    pub status_uri: Option<String>,
    /// `zp.verify_url`: the verification page.
    pub verify_url: Option<String>,
}

/// Claims of a token that passed every check of SPEC §4 at a given time. Its fields are private:
/// only verification makes one (see the doctests on [`UntrustedToken`]), and code can read it but
/// not build it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedClaims {
    kid: String,
    claims: CertificateClaims,
}

impl VerifiedClaims {
    /// The key that signed it.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// What the token says.
    pub fn claims(&self) -> &CertificateClaims {
        &self.claims
    }

    /// What the token says, owned.
    pub fn into_claims(self) -> CertificateClaims {
        self.claims
    }
}

impl<'a> UntrustedToken<'a> {
    pub fn parse(token: &'a str) -> Result<Self, Error> {
        Ok(UntrustedToken { jws: Compact::parse(token, CERT_TYP, jws::MAX_TOKEN_LEN)? })
    }

    pub fn kid(&self) -> &str {
        self.jws.kid()
    }

    /// What the payload says about where to check it, read **before** the signature is checked:
    /// hints for choosing whose keys to fetch and for starting downloads early, never facts about
    /// the certificate. Whatever is fetched with them is verified on its own, and used only if the
    /// verified claims say the same.
    pub fn unverified_hints(&self) -> Hints {
        let Ok(payload) = json::parse_object(self.jws.unverified_payload(), Part::Payload) else {
            return Hints::default();
        };
        let text = |value: Option<&json::Value>| value.and_then(json::Value::as_str).map(str::to_owned);
        let status = payload
            .get("status")
            .and_then(json::Value::as_object)
            .and_then(|s| s.get("status_list"))
            .and_then(json::Value::as_object);
        Hints {
            issuer: text(payload.get("iss")),
            subject: text(payload.get("sub")),
            status_uri: text(status.and_then(|s| s.get("uri"))),
            verify_url: text(
                payload.get("zp").and_then(json::Value::as_object).and_then(|zp| zp.get("verify_url")),
            ),
        }
    }

    /// Verifies the signature with a key from `keys`, then the claims against `rules` at `now`
    /// (seconds since the Unix epoch).
    pub fn verify(&self, keys: &KeySet, now: i64, rules: &Rules) -> Result<VerifiedClaims, Error> {
        self.authenticate(keys, rules)?.at(now, rules.leeway)
    }

    /// Every check except the validity period: the token is genuine, from this issuer, and well
    /// formed. What it yields is not yet valid claims; [`AuthenticClaims::at`] decides that.
    pub fn authenticate(&self, keys: &KeySet, rules: &Rules) -> Result<AuthenticClaims, Error> {
        let payload = self.jws.verify_signature(keys)?;
        let claims = json::parse_object(payload, Part::Payload)?;
        check_registered(&claims, rules)?;
        let claims = CertificateClaims::from_json(&claims)?;
        Ok(AuthenticClaims { kid: self.kid().to_owned(), claims })
    }
}

/// Claims of a genuine token whose validity period has not been checked: enough to say whose
/// mark an expired badge was, never enough to call it valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticClaims {
    pub kid: String,
    pub claims: CertificateClaims,
}

impl AuthenticClaims {
    /// Checks `nbf`, `exp` and `iat` at `now` with `leeway` seconds of tolerance.
    pub fn at(self, now: i64, leeway: i64) -> Result<VerifiedClaims, Error> {
        let c = &self.claims;
        check_times(now, leeway, c.iat, c.nbf, c.exp)?;
        Ok(VerifiedClaims { kid: self.kid, claims: self.claims })
    }
}

/// Verifies a certificate token: the whole of SPEC §4 in one call.
pub fn verify(token: &str, keys: &KeySet, now: i64, rules: &Rules) -> Result<VerifiedClaims, Error> {
    UntrustedToken::parse(token)?.verify(keys, now, rules)
}

/// Checks `iss`, and that `exp`, `nbf` and `iat` are present integers, with their own errors,
/// before the typed decoding.
fn check_registered(claims: &Object, rules: &Rules) -> Result<(), Error> {
    let iss = claims.get("iss").ok_or(Error::MissingClaim("iss"))?;
    if iss.as_str() != Some(rules.issuer.as_str()) {
        return Err(Error::WrongIssuer { expected: rules.issuer.clone(), found: json::display(iss) });
    }
    for name in ["exp", "nbf", "iat"] {
        numeric_date(claims, name)?;
    }
    Ok(())
}

/// Time rules shared with status lists: valid while `nbf - leeway <= now < exp + leeway`.
pub(crate) fn check_times(now: i64, leeway: i64, iat: i64, nbf: i64, exp: i64) -> Result<(), Error> {
    if now.saturating_sub(leeway) >= exp {
        return Err(Error::Expired { exp, now });
    }
    if now.saturating_add(leeway) < nbf {
        return Err(Error::NotYetValid { nbf, now });
    }
    if now.saturating_add(leeway) < iat {
        return Err(Error::IssuedInFuture { iat, now });
    }
    Ok(())
}

/// A NumericDate as whole seconds; floats, strings and out-of-range numbers are refused.
pub(crate) fn numeric_date(claims: &Object, name: &'static str) -> Result<i64, Error> {
    let value = claims.get(name).ok_or(Error::MissingClaim(name))?;
    value.as_i64().ok_or(Error::ClaimType { claim: name, expected: "an integer number of seconds" })
}

/// Signs certificate claims (sign feature).
#[cfg(feature = "sign")]
pub fn sign(claims: &CertificateClaims, key: &crate::signing::IssuerKey) -> Result<String, Error> {
    key.sign_jwt(CERT_TYP, claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "sign")]
    #[test]
    fn the_status_uri_hint_is_read_without_keys() {
        let key = crate::IssuerKey::from_seed(&[7; 32]).unwrap();
        let claims = CertificateClaims {
            iss: "https://zp.example".into(),
            sub: "7K3QX9M2".into(),
            jti: "j".into(),
            iat: 0,
            nbf: 0,
            exp: 1,
            status: StatusClaim {
                status_list: StatusListRef { idx: 3, uri: "https://zp.example/api/v1/status-lists/0".into() },
            },
            zp: Certificate {
                number: "ZP/LU/2026/0001".into(),
                entity: Entity {
                    name: "A".into(),
                    legal_form: LegalForm::Cis,
                    nip: None,
                    krs: None,
                    regon: None,
                    city: None,
                    voivodeship: None,
                },
                products: vec![],
                domains: vec![],
                verify_url: "https://zp.example/v/7K3QX9M2".into(),
            },
        };
        let token = sign(&claims, &key).unwrap();
        let untrusted = UntrustedToken::parse(&token).unwrap();
        let hints = untrusted.unverified_hints();
        assert_eq!(hints.status_uri.as_deref(), Some("https://zp.example/api/v1/status-lists/0"));
        assert_eq!(hints.issuer.as_deref(), Some("https://zp.example"));
        assert_eq!(hints.subject.as_deref(), Some("7K3QX9M2"));
        assert_eq!(hints.verify_url.as_deref(), Some("https://zp.example/v/7K3QX9M2"));
    }

    #[test]
    fn legal_form_codes_are_the_serialised_names() {
        for form in LegalForm::ALL {
            assert_eq!(serde_json::to_value(form).unwrap(), form.code());
            assert_eq!(LegalForm::from_code(form.code()), Some(form));
        }
        assert_eq!(LegalForm::from_code("Cis"), None);
    }
}
