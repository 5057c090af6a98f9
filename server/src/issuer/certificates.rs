//! Certificates: issue, renew, add products or services, suspend, reinstate and revoke; each one
//! transaction with its audit entry and the new token signed.

use super::*;

/// Why a certificate was revoked; shown on the verification page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RevocationReason {
    /// The products or services no longer meet the quality criteria.
    QualityCriteria,
    /// The entity is no longer a social-economy entity.
    NotSocialEconomy,
    /// The mark was used on products or services it does not cover.
    Misuse,
    /// The application contained false information.
    FalseInformation,
    /// The entity asked for the certificate to end.
    EntityRequest,
    /// The entity has ceased to exist.
    EntityDissolved,
    /// The certificate was issued by mistake.
    IssuedInError,
}

impl RevocationReason {
    /// Every reason, in the order forms and messages list them.
    pub const ALL: [RevocationReason; 7] = [
        RevocationReason::QualityCriteria,
        RevocationReason::NotSocialEconomy,
        RevocationReason::Misuse,
        RevocationReason::FalseInformation,
        RevocationReason::EntityRequest,
        RevocationReason::EntityDissolved,
        RevocationReason::IssuedInError,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RevocationReason::QualityCriteria => "quality_criteria",
            RevocationReason::NotSocialEconomy => "not_social_economy",
            RevocationReason::Misuse => "misuse",
            RevocationReason::FalseInformation => "false_information",
            RevocationReason::EntityRequest => "entity_request",
            RevocationReason::EntityDissolved => "entity_dissolved",
            RevocationReason::IssuedInError => "issued_in_error",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::String(text.to_owned())).ok()
    }

    pub fn label(self, pl: bool) -> &'static str {
        match (self, pl) {
            (RevocationReason::QualityCriteria, true) => {
                "produkty lub usługi przestały spełniać kryteria jakości"
            }
            (RevocationReason::QualityCriteria, false) => {
                "the products or services no longer meet the quality criteria"
            }
            (RevocationReason::NotSocialEconomy, true) => {
                "podmiot przestał być podmiotem ekonomii społecznej"
            }
            (RevocationReason::NotSocialEconomy, false) => "the entity is no longer a social-economy entity",
            (RevocationReason::Misuse, true) => {
                "znak był używany na produktach lub usługach, których nie obejmuje"
            }
            (RevocationReason::Misuse, false) => {
                "the mark was used on products or services it does not cover"
            }
            (RevocationReason::FalseInformation, true) => "wniosek zawierał nieprawdziwe informacje",
            (RevocationReason::FalseInformation, false) => "the application contained false information",
            (RevocationReason::EntityRequest, true) => "na wniosek podmiotu",
            (RevocationReason::EntityRequest, false) => "at the entity's request",
            (RevocationReason::EntityDissolved, true) => "podmiot zakończył działalność",
            (RevocationReason::EntityDissolved, false) => "the entity has ceased to exist",
            (RevocationReason::IssuedInError, true) => "certyfikat wydano omyłkowo",
            (RevocationReason::IssuedInError, false) => "the certificate was issued in error",
        }
    }
}

/// A certificate's verdict at a given time, as the check API and the page report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Valid,
    Expired,
    NotYetValid,
    Suspended,
    Revoked,
}

impl Verdict {
    pub fn of(certificate: &CertificateRecord, now: i64) -> Self {
        match certificate.state {
            CertState::Revoked => Verdict::Revoked,
            CertState::Suspended => Verdict::Suspended,
            CertState::Active if now >= certificate.valid_until => Verdict::Expired,
            CertState::Active if now < certificate.valid_from => Verdict::NotYetValid,
            CertState::Active => Verdict::Valid,
        }
    }

    /// What people are told of this verdict, in the words every page and badge share.
    pub fn shown(self) -> zp_shared::words::Shown {
        use zp_shared::words::Shown;
        match self {
            Verdict::Valid => Shown::Valid,
            Verdict::Expired => Shown::Expired,
            Verdict::NotYetValid => Shown::NotYetValid,
            Verdict::Suspended => Shown::Suspended,
            Verdict::Revoked => Shown::Revoked,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Valid => "valid",
            Verdict::Expired => "expired",
            Verdict::NotYetValid => "not_yet_valid",
            Verdict::Suspended => "suspended",
            Verdict::Revoked => "revoked",
        }
    }
}

/// A move between certificate states.
struct Change<'a> {
    from: &'a [CertState],
    to: CertState,
    reason: Option<&'a str>,
    note: Option<String>,
    decision: Option<&'a Decision>,
    internal_note: Option<String>,
}

/// A revocation: why (shown on the verification page with the public note), the board's
/// decision and a note for the audit log only.
#[derive(Debug, Clone)]
pub struct Revocation {
    pub reason: RevocationReason,
    pub note: Option<String>,
    pub decision: Option<Decision>,
    pub internal_note: Option<String>,
}

/// Longest internal note on a revocation, kept in the audit log only.
pub const INTERNAL_NOTE_MAX: usize = 500;

/// Adds the board's decision to an audit entry's details, when there is one.
fn with_decision(mut details: serde_json::Value, decision: Option<&Decision>) -> serde_json::Value {
    if let (Some(decision), Some(object)) = (decision, details.as_object_mut()) {
        object.insert(
            "decision".into(),
            serde_json::json!({ "resolution": decision.resolution, "date": decision.date }),
        );
    }
    details
}

impl Issuer {
    /// The claims a token of this certificate carries. Public so that bulk fills (the benchmarks'
    /// seeder) sign exactly what [`Issuer::issue`] would.
    pub fn claims(
        &self,
        certificate: &CertificateRecord,
        entity: &EntityRecord,
        products: &[ProductRecord],
        jti: &str,
        now: i64,
    ) -> IssuerResult<CertificateClaims> {
        Ok(CertificateClaims {
            iss: self.settings.base_url.clone(),
            sub: certificate.id.clone(),
            jti: jti.to_owned(),
            iat: now,
            nbf: certificate.valid_from,
            exp: certificate.valid_until,
            status: StatusClaim {
                status_list: StatusListRef {
                    idx: (certificate.status_idx % STATUS_LIST_SIZE) as u64,
                    uri: self.status_list_uri(certificate.status_idx / STATUS_LIST_SIZE),
                },
            },
            zp: Certificate {
                number: certificate.number.clone(),
                entity: Entity {
                    name: entity.name.clone(),
                    legal_form: parse_legal_form(&entity.legal_form)?,
                    nip: entity.nip.clone(),
                    krs: entity.krs.clone(),
                    regon: entity.regon.clone(),
                    city: entity.city.clone(),
                    voivodeship: entity.voivodeship.clone(),
                },
                products: products
                    .iter()
                    .map(|p| Product { name: p.name.clone(), gtin: p.gtin.clone() })
                    .collect(),
                domains: entity.domains.clone(),
                verify_url: self.verify_url(&certificate.id),
            },
        })
    }

    /// Refuses an entity whose own details leave too little of the 8 KiB token for its products:
    /// better now, naming the field, than at every certificate later.
    pub(super) fn check_token_budget(&self, entity: &EntityRecord) -> IssuerResult<()> {
        let probe = CertificateRecord {
            id: "00000000".into(),
            number: format!("ZP/{}/0000/0000", self.settings.region),
            entity_id: entity.id.clone(),
            status_idx: STATUS_LIST_SIZE * 1_000,
            state: CertState::Active,
            valid_from: 0,
            valid_until: 0,
            reason: None,
            public_note: None,
            search_text: String::new(),
            created_at: 0,
            updated_at: 0,
        };
        let claims = self.claims(&probe, entity, &[], "0000000000000000000000", 0)?;
        let size = serde_json::to_vec(&claims).map(|json| json.len()).unwrap_or(usize::MAX);
        // Base64url grows the claims by a third; keep 2 KiB for products and the header.
        if size.saturating_mul(4) / 3 > zp_shared::jws::MAX_TOKEN_LEN - 2_048 {
            let field = if entity.domains.iter().map(String::len).sum::<usize>() > entity.name.len() {
                "domains"
            } else {
                "name"
            };
            return Err(invalid(
                field,
                "too long: the certificate token (at most 8 KiB) would have no room left for products",
            ));
        }
        Ok(())
    }

    /// Signs a new token for the certificate's current state and records it in `tx`: every
    /// token, whether of one certificate issued or of a whole register imported, is made here.
    pub(super) async fn mint(
        &self,
        tx: &mut Box<dyn Tx>,
        certificate: &CertificateRecord,
        entity: &EntityRecord,
        products: &[ProductRecord],
        now: i64,
    ) -> IssuerResult<TokenRecord> {
        let key = self.keys.active(now)?;
        let jti: String = format!("{}-{}", certificate.id, ids::new_id("", &mut OsRng));
        let claims = self.claims(certificate, entity, products, &jti, now)?;
        let token = zp_shared::token::sign(&claims, &key.key)?;
        if token.len() > zp_shared::jws::MAX_TOKEN_LEN {
            return Err(invalid(
                "products",
                "the certificate would not fit in one token: shorten the product names or list fewer",
            ));
        }
        let record = TokenRecord {
            jti,
            certificate_id: certificate.id.clone(),
            kid: key.key.kid().to_owned(),
            token,
            iat: now,
            exp: certificate.valid_until,
        };
        tx.insert_token(&record).await?;
        Ok(record)
    }

    /// The next free certificate number of `year` (`ZP/LU/2026/0007`): one more than how many
    /// that year has, or the first free one after it, since an imported register keeps its own
    /// numbers and may leave gaps.
    pub(super) async fn next_number(&self, tx: &mut Box<dyn Tx>, year: i32) -> IssuerResult<String> {
        let prefix = format!("ZP/{}/{year}/", self.settings.region);
        let mut next = tx.count_numbers(&prefix).await? + 1;
        loop {
            let number = format!("{prefix}{next:04}");
            // At most as many numbers are taken past the count as the count itself.
            if tx.certificate_id_by_number(&number).await?.is_none() {
                return Ok(number);
            }
            next += 1;
        }
    }

    pub async fn issue(
        &self,
        actor: &str,
        input: NewCertificate,
        now: i64,
    ) -> IssuerResult<CertificateDetail> {
        self.issue_decided(actor, input, None, now).await
    }

    /// [`Issuer::issue`] by the board's decision, recorded in the audit entry.
    pub async fn issue_decided(
        &self,
        actor: &str,
        input: NewCertificate,
        decision: Option<Decision>,
        now: i64,
    ) -> IssuerResult<CertificateDetail> {
        for _attempt in 0..5 {
            let mut tx = self.store.begin().await?;
            let id = match self.issue_in(&mut tx, actor, &input, decision.as_ref(), now).await {
                Err(IssuerError::Store(StoreError::Conflict(_))) => continue, // an ID collision: draw again
                other => other?,
            };
            tx.commit().await?;
            return self.detail(&id).await;
        }
        Err(IssuerError::Conflict("could not draw a free certificate ID; try again".into()))
    }

    /// [`Issuer::issue_decided`] inside a transaction the caller commits, with whatever else the
    /// caller changes in it (an application's approval): the new certificate's ID.
    pub async fn issue_in(
        &self,
        tx: &mut Box<dyn Tx>,
        actor: &str,
        input: &NewCertificate,
        decision: Option<&Decision>,
        now: i64,
    ) -> IssuerResult<String> {
        let decision = checked_decision(decision, now)?;
        let products = validate_products("products", &input.products, now)?;
        let start = validity_start(&input.valid_from, now)?;
        let entity_id = input.entity_id.trim();
        let entity = tx
            .entity(entity_id)
            .await?
            .ok_or_else(|| invalid("entity_id", format!("no entity has the ID {entity_id:?}")))?;
        let mut id = ids::new_certificate_id(&mut OsRng);
        for _draw in 0..5 {
            if tx.certificate(&id).await?.is_none() {
                break;
            }
            id = ids::new_certificate_id(&mut OsRng);
        }
        let number = self.next_number(tx, start.year()).await?;
        let certificate = CertificateRecord {
            search_text: search_text(&id, &number, &entity, &products),
            id,
            number,
            entity_id: entity.id.clone(),
            status_idx: tx.next_status_idx().await?,
            state: CertState::Active,
            valid_from: day_start(start),
            valid_until: day_start(plus_one_year(start)),
            reason: None,
            public_note: None,
            created_at: now,
            updated_at: now,
        };
        tx.insert_certificate(&certificate).await?;
        for (position, product) in products.iter().enumerate() {
            tx.insert_product(&certificate.id, position as i64, product).await?;
        }
        let token = self.mint(tx, &certificate, &entity, &products, now).await?;
        let details = serde_json::json!({
            "number": certificate.number,
            "entity_id": entity.id,
            "products": input.products,
            "valid_from": format_date(certificate.valid_from),
            "valid_until": format_date(certificate.valid_until),
            "jti": token.jti,
        });
        let details = with_decision(details, decision.as_ref());
        tx.append_audit(&Self::audit(actor, "certificate.issue", &certificate.id, details, now)).await?;
        Ok(certificate.id)
    }

    pub async fn detail(&self, id: &str) -> IssuerResult<CertificateDetail> {
        self.store
            .certificate(id)
            .await?
            .ok_or_else(|| IssuerError::NotFound { what: "certificate", id: id.to_owned() })
    }

    /// Loads a certificate for a change inside `tx`, refusing revoked ones unless `allow_revoked`.
    async fn load(
        &self,
        tx: &mut Box<dyn Tx>,
        id: &str,
    ) -> IssuerResult<(CertificateRecord, EntityRecord, Vec<ProductRecord>)> {
        let certificate = tx
            .certificate(id)
            .await?
            .ok_or_else(|| IssuerError::NotFound { what: "certificate", id: id.to_owned() })?;
        let entity = tx
            .entity(&certificate.entity_id)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("certificate {id} has no entity")))?;
        let products = tx.products(id).await?;
        Ok((certificate, entity, products))
    }

    pub async fn renew(&self, actor: &str, id: &str, now: i64) -> IssuerResult<CertificateDetail> {
        self.renew_decided(actor, id, None, now).await
    }

    /// [`Issuer::renew`] by the board's decision, recorded in the audit entry.
    pub async fn renew_decided(
        &self,
        actor: &str,
        id: &str,
        decision: Option<Decision>,
        now: i64,
    ) -> IssuerResult<CertificateDetail> {
        let mut tx = self.store.begin().await?;
        self.renew_in(&mut tx, actor, id, decision.as_ref(), now).await?;
        tx.commit().await?;
        self.detail(id).await
    }

    /// [`Issuer::renew_decided`] inside a transaction the caller commits.
    pub async fn renew_in(
        &self,
        tx: &mut Box<dyn Tx>,
        actor: &str,
        id: &str,
        decision: Option<&Decision>,
        now: i64,
    ) -> IssuerResult<()> {
        let decision = checked_decision(decision, now)?;
        let (mut certificate, entity, products) = self.load(tx, id).await?;
        if certificate.state == CertState::Revoked {
            return Err(IssuerError::Conflict(format!("certificate {id} is revoked and cannot be renewed")));
        }
        let opens = certificate.valid_until - RENEWAL_WINDOW_DAYS * 86_400;
        if now < opens {
            // Only the coming year can be renewed: a repeated request does not add years.
            return Err(IssuerError::Conflict(format!(
                "certificate {id} is valid until {}; it can be renewed from {}",
                format_date(certificate.valid_until),
                format_date(opens)
            )));
        }
        if now < certificate.valid_until {
            // Renewed while valid: the mark continues for another year without a gap.
            certificate.valid_until = day_start(plus_one_year(date_of(certificate.valid_until)));
        } else {
            let today = date_of(now);
            certificate.valid_from = day_start(today);
            certificate.valid_until = day_start(plus_one_year(today));
        }
        certificate.updated_at = now;
        tx.update_certificate(&certificate).await?;
        let token = self.mint(tx, &certificate, &entity, &products, now).await?;
        let details = serde_json::json!({
            "valid_from": format_date(certificate.valid_from),
            "valid_until": format_date(certificate.valid_until),
            "jti": token.jti,
        });
        let details = with_decision(details, decision.as_ref());
        tx.append_audit(&Self::audit(actor, "certificate.renew", id, details, now)).await?;
        Ok(())
    }

    pub async fn add_products(
        &self,
        actor: &str,
        id: &str,
        new: &[NewProduct],
        now: i64,
    ) -> IssuerResult<CertificateDetail> {
        let mut tx = self.store.begin().await?;
        self.add_products_in(&mut tx, actor, id, new, None, now).await?;
        tx.commit().await?;
        self.detail(id).await
    }

    /// [`Issuer::add_products`] inside a transaction the caller commits, by the board's decision
    /// when there is one.
    pub async fn add_products_in(
        &self,
        tx: &mut Box<dyn Tx>,
        actor: &str,
        id: &str,
        new: &[NewProduct],
        decision: Option<&Decision>,
        now: i64,
    ) -> IssuerResult<()> {
        let decision = checked_decision(decision, now)?;
        let added = validate_products("products", new, now)?;
        let (mut certificate, entity, mut products) = self.load(tx, id).await?;
        if certificate.state == CertState::Revoked {
            return Err(IssuerError::Conflict(format!("certificate {id} is revoked and cannot be changed")));
        }
        if products.len() + added.len() > PRODUCTS_MAX {
            return Err(invalid(
                "products",
                format!("a certificate lists at most {PRODUCTS_MAX} products or services"),
            ));
        }
        for product in added {
            tx.insert_product(id, products.len() as i64, &product).await?;
            products.push(product);
        }
        certificate.search_text = search_text(&certificate.id, &certificate.number, &entity, &products);
        certificate.updated_at = now;
        tx.update_certificate(&certificate).await?;
        let token = self.mint(tx, &certificate, &entity, &products, now).await?;
        let details = serde_json::json!({ "added": new, "jti": token.jti });
        let details = with_decision(details, decision.as_ref());
        tx.append_audit(&Self::audit(actor, "certificate.add_products", id, details, now)).await?;
        Ok(())
    }

    /// Moves a certificate between states; every token of it is affected at once through the
    /// status list, so no new token is signed.
    async fn transition(
        &self,
        actor: &str,
        id: &str,
        change: Change<'_>,
        now: i64,
    ) -> IssuerResult<CertificateDetail> {
        let Change { from, to, reason, note, decision, internal_note } = change;
        let note = optional_text("note", &note, NOTE_MAX)?;
        let internal_note = optional_text("internal_note", &internal_note, INTERNAL_NOTE_MAX)?;
        let decision = checked_decision(decision, now)?;
        let mut tx = self.store.begin().await?;
        let (mut certificate, _, _) = self.load(&mut tx, id).await?;
        if !from.contains(&certificate.state) {
            return Err(IssuerError::Conflict(format!(
                "certificate {id} is {}; it cannot become {}",
                certificate.state.as_str(),
                to.as_str()
            )));
        }
        certificate.state = to;
        certificate.reason = reason.map(str::to_owned);
        certificate.public_note = note.clone();
        certificate.updated_at = now;
        tx.update_certificate(&certificate).await?;
        let action = match to {
            CertState::Active => "certificate.reinstate",
            CertState::Suspended => "certificate.suspend",
            CertState::Revoked => "certificate.revoke",
        };
        let mut details = serde_json::json!({ "reason": reason, "note": note });
        if let (Some(internal_note), Some(object)) = (internal_note, details.as_object_mut()) {
            object.insert("internal_note".into(), internal_note.into());
        }
        let details = with_decision(details, decision.as_ref());
        tx.append_audit(&Self::audit(actor, action, id, details, now)).await?;
        tx.commit().await?;
        self.detail(id).await
    }

    pub async fn suspend(
        &self,
        actor: &str,
        id: &str,
        note: Option<String>,
        now: i64,
    ) -> IssuerResult<CertificateDetail> {
        let change = Change {
            from: &[CertState::Active],
            to: CertState::Suspended,
            reason: None,
            note,
            decision: None,
            internal_note: None,
        };
        self.transition(actor, id, change, now).await
    }

    pub async fn reinstate(&self, actor: &str, id: &str, now: i64) -> IssuerResult<CertificateDetail> {
        let change = Change {
            from: &[CertState::Suspended],
            to: CertState::Active,
            reason: None,
            note: None,
            decision: None,
            internal_note: None,
        };
        self.transition(actor, id, change, now).await
    }

    pub async fn revoke(
        &self,
        actor: &str,
        id: &str,
        reason: RevocationReason,
        note: Option<String>,
        now: i64,
    ) -> IssuerResult<CertificateDetail> {
        let revocation = Revocation { reason, note, decision: None, internal_note: None };
        self.revoke_decided(actor, id, revocation, now).await
    }

    /// [`Issuer::revoke`] by the board's decision, with an internal note; both recorded in the
    /// audit entry only.
    pub async fn revoke_decided(
        &self,
        actor: &str,
        id: &str,
        revocation: Revocation,
        now: i64,
    ) -> IssuerResult<CertificateDetail> {
        let Revocation { reason, note, decision, internal_note } = revocation;
        let change = Change {
            from: &[CertState::Active, CertState::Suspended],
            to: CertState::Revoked,
            reason: Some(reason.as_str()),
            note,
            decision: decision.as_ref(),
            internal_note,
        };
        self.transition(actor, id, change, now).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::AppState;

    async fn registry() -> (tempfile::TempDir, AppState) {
        let dir = tempfile::tempdir().unwrap();
        let state = crate::http::testing::state(dir.path()).await;
        (dir, state)
    }

    fn decision(resolution: &str, date: &str) -> Decision {
        Decision { resolution: resolution.into(), date: date.into() }
    }

    /// A certificate that began 300 days ago, so that it can be renewed now.
    fn certificate(entity_id: &str, now: i64) -> NewCertificate {
        NewCertificate {
            entity_id: entity_id.into(),
            products: vec![NewProduct { name: "Catering".into(), gtin: None }],
            valid_from: Some(format_date(now - 300 * 86_400)),
        }
    }

    async fn entity(issuer: &Issuer, now: i64) -> EntityRecord {
        let input = NewEntity {
            name: "Fundacja Ćma".into(),
            legal_form: "foundation".into(),
            domains: vec!["cma.example.pl".into()],
            ..NewEntity::default()
        };
        issuer.create_entity("test", input, now).await.unwrap()
    }

    async fn last_details(issuer: &Issuer) -> (String, serde_json::Value) {
        let entry = issuer.store.audit_log(0, 1_000).await.unwrap().pop().unwrap();
        (entry.action, serde_json::from_str(&entry.details).unwrap())
    }

    #[tokio::test]
    async fn the_boards_decision_is_recorded_with_issue_renewal_and_revocation() {
        let (_dir, state) = registry().await;
        let (issuer, now) = (&state.issuer, state.now());
        let (today, earlier) = (format_date(now), format_date(now - 30 * 86_400));
        let entity = entity(issuer, now).await;

        let granted = decision("  12/2026 ", &today);
        let id = issuer
            .issue_decided("staff", certificate(&entity.id, now), Some(granted), now)
            .await
            .unwrap()
            .certificate
            .id;
        let (action, details) = last_details(issuer).await;
        assert_eq!(action, "certificate.issue");
        assert_eq!(details["decision"], serde_json::json!({ "resolution": "12/2026", "date": today }));

        issuer.renew_decided("staff", &id, Some(decision("13/2026", &today)), now).await.unwrap();
        let (action, details) = last_details(issuer).await;
        assert_eq!(action, "certificate.renew");
        assert_eq!(details["decision"]["resolution"], "13/2026");

        let revocation = Revocation {
            reason: RevocationReason::Misuse,
            note: Some("Znak na cudzych produktach".into()),
            decision: Some(decision("14/2026", &earlier)),
            internal_note: Some("Skarga sklepu z 3 stycznia".into()),
        };
        let detail = issuer.revoke_decided("staff", &id, revocation, now).await.unwrap();
        assert_eq!(detail.certificate.state, CertState::Revoked);
        let entry = issuer.store.audit_log(0, 1_000).await.unwrap().pop().unwrap();
        assert_eq!(entry.actor, "staff", "the actor is only who acted");
        let details: serde_json::Value = serde_json::from_str(&entry.details).unwrap();
        assert_eq!(details["decision"], serde_json::json!({ "resolution": "14/2026", "date": earlier }));
        assert_eq!(details["internal_note"], "Skarga sklepu z 3 stycznia");
        assert_eq!(details["note"], "Znak na cudzych produktach");

        // Without a decision, the entries are as they were.
        let other = issuer.issue("cli", certificate(&entity.id, now), now).await.unwrap();
        let (_, details) = last_details(issuer).await;
        assert!(details.get("decision").is_none(), "{details}");
        issuer
            .revoke("cli", &other.certificate.id, RevocationReason::EntityRequest, None, now)
            .await
            .unwrap();
        let (_, details) = last_details(issuer).await;
        assert!(details.get("decision").is_none() && details.get("internal_note").is_none(), "{details}");
    }

    #[tokio::test]
    async fn a_bad_decision_is_refused_naming_the_field_and_writes_nothing() {
        let (_dir, state) = registry().await;
        let (issuer, now) = (&state.issuer, state.now());
        let today = format_date(now);
        let tomorrow = format_date(now + 86_400);
        let entity = entity(issuer, now).await;
        let id = issuer.issue("test", certificate(&entity.id, now), now).await.unwrap().certificate.id;
        let before = issuer.detail(&id).await.unwrap();
        let head = issuer.store.audit_head().await.unwrap();

        let long = "1".repeat(RESOLUTION_MAX + 1);
        let bad = [
            (decision("12/2026", "2026-13-01"), "resolution_date"),
            (decision("12/2026", "5.01.2026"), "resolution_date"),
            (decision("12/2026", &tomorrow), "resolution_date"),
            (decision(" ", &today), "resolution"),
            (decision("12\n2026", &today), "resolution"),
            (decision(&long, &today), "resolution"),
        ];
        let refused = |result: IssuerResult<CertificateDetail>| match result {
            Err(IssuerError::Invalid { field, .. }) => field,
            other => panic!("accepted: {other:?}"),
        };
        for (decision, field) in bad {
            let input = certificate(&entity.id, now);
            let issued = issuer.issue_decided("staff", input, Some(decision.clone()), now).await;
            assert_eq!(refused(issued), field, "issue {decision:?}");
            let renewed = issuer.renew_decided("staff", &id, Some(decision.clone()), now).await;
            assert_eq!(refused(renewed), field, "renew {decision:?}");
            let revocation = Revocation {
                reason: RevocationReason::Misuse,
                note: None,
                decision: Some(decision.clone()),
                internal_note: None,
            };
            let revoked = issuer.revoke_decided("staff", &id, revocation, now).await;
            assert_eq!(refused(revoked), field, "revoke {decision:?}");
        }
        let revocation = Revocation {
            reason: RevocationReason::Misuse,
            note: None,
            decision: None,
            internal_note: Some("x".repeat(INTERNAL_NOTE_MAX + 1)),
        };
        assert_eq!(refused(issuer.revoke_decided("staff", &id, revocation, now).await), "internal_note");

        assert_eq!(issuer.store.audit_head().await.unwrap(), head, "no audit entry");
        assert_eq!(issuer.detail(&id).await.unwrap(), before, "the certificate as it was");
        assert_eq!(issuer.store.certificates_after("", 100).await.unwrap().len(), 1, "nothing issued");
    }

    #[test]
    fn a_resolution_number_and_date_come_together() {
        let some = |text: &str| Some(text.to_owned());
        assert_eq!(Decision::from_parts(None, some(" ")).unwrap(), None);
        assert_eq!(
            Decision::from_parts(some("7/2026"), some("2026-02-01")).unwrap(),
            Some(decision("7/2026", "2026-02-01"))
        );
        for (resolution, date, field) in
            [(some("7/2026"), None, "resolution_date"), (None, some("2026-02-01"), "resolution")]
        {
            match Decision::from_parts(resolution, date) {
                Err(IssuerError::Invalid { field: named, .. }) => assert_eq!(named, field),
                other => panic!("{field}: {other:?}"),
            }
        }
    }
}
