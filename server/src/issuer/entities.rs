//! Social-economy entities: creation and changes, each with its audit entry; a change signs a new
//! token for every certificate of the entity that is not revoked, since tokens carry its details.

use super::*;

impl Issuer {
    pub async fn create_entity(&self, actor: &str, input: NewEntity, now: i64) -> IssuerResult<EntityRecord> {
        let mut tx = self.store.begin().await?;
        let entity = self.create_entity_in(&mut tx, actor, input, now).await?;
        tx.commit().await?;
        Ok(entity)
    }

    /// [`Issuer::create_entity`] inside a transaction the caller commits.
    pub async fn create_entity_in(
        &self,
        tx: &mut Box<dyn Tx>,
        actor: &str,
        input: NewEntity,
        now: i64,
    ) -> IssuerResult<EntityRecord> {
        let entity = entity_record(input, now)?;
        self.check_token_budget(&entity)?;
        tx.insert_entity(&entity).await.map_err(|err| match err {
            StoreError::Conflict(_) => invalid("nip", "an entity with this NIP is already registered"),
            other => other.into(),
        })?;
        let details =
            serde_json::json!({ "name": entity.name, "nip": entity.nip, "domains": entity.domains });
        tx.append_audit(&Self::audit(actor, "entity.create", &entity.id, details, now)).await?;
        Ok(entity)
    }

    /// Replaces an entity's details, checked as [`Issuer::create_entity`] checks them; its ID and
    /// `created_at` stay. Certificates not revoked get a new token with the new details (a revoked
    /// one is never signed again), and every certificate's search text follows, in the same
    /// transaction as the change and its audit entry.
    pub async fn update_entity(
        &self,
        actor: &str,
        id: &str,
        input: NewEntity,
        now: i64,
    ) -> IssuerResult<EntityRecord> {
        let id = id.trim();
        let mut entity = EntityRecord { id: id.to_owned(), ..entity_record(input, now)? };
        self.check_token_budget(&entity)?;
        let mut tx = self.store.begin().await?;
        let before = tx
            .entity(id)
            .await?
            .ok_or_else(|| IssuerError::NotFound { what: "entity", id: id.to_owned() })?;
        entity.created_at = before.created_at;
        if let Some(nip) = &entity.nip
            && tx.entity_by_nip(nip).await?.is_some_and(|other| other.id != entity.id)
        {
            return Err(nip_taken());
        }
        let updated = tx.update_entity(&entity).await.map_err(|err| match err {
            StoreError::Conflict(_) => nip_taken(),
            other => other.into(),
        })?;
        if !updated {
            return Err(IssuerError::NotFound { what: "entity", id: id.to_owned() });
        }
        let changed = changed_fields(&before, &entity);
        // The contact is not in tokens: changing only it signs nothing.
        let resign = changed.keys().any(|field| field != "contact");
        let mut jtis = Vec::new();
        for mut certificate in tx.entity_certificates(id).await? {
            let products = tx.products(&certificate.id).await?;
            let text = search_text(&certificate.id, &certificate.number, &entity, &products);
            if text != certificate.search_text {
                // `updated_at` stays: pages show it as the day of a suspension or revocation.
                certificate.search_text = text;
                tx.update_certificate(&certificate).await?;
            }
            if resign && certificate.state != CertState::Revoked {
                let token = self.mint(&mut tx, &certificate, &entity, &products, now).await.map_err(
                    |err| match err {
                        IssuerError::Invalid { .. } => invalid(
                            "name",
                            format!(
                                "too long: certificate {} would not fit in one token with its products",
                                certificate.number
                            ),
                        ),
                        other => other,
                    },
                )?;
                jtis.push(token.jti);
            }
        }
        let details = serde_json::json!({ "changed": changed, "jtis": jtis });
        tx.append_audit(&Self::audit(actor, "entity.update", id, details, now)).await?;
        tx.commit().await?;
        Ok(entity)
    }
}

fn nip_taken() -> IssuerError {
    invalid("nip", "another entity with this NIP is already registered")
}

/// Each field that differs, with its value before and after.
fn changed_fields(before: &EntityRecord, after: &EntityRecord) -> serde_json::Map<String, serde_json::Value> {
    let (Ok(serde_json::Value::Object(before)), Ok(serde_json::Value::Object(after))) =
        (serde_json::to_value(before), serde_json::to_value(after))
    else {
        return serde_json::Map::new();
    };
    after
        .into_iter()
        .filter(|(field, value)| before.get(field) != Some(value))
        .map(|(field, value)| {
            let was = before.get(&field).cloned().unwrap_or(serde_json::Value::Null);
            (field, serde_json::json!({ "before": was, "after": value }))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use zp_shared::Rules;

    use super::*;
    use crate::http::AppState;

    async fn registry() -> (tempfile::TempDir, AppState) {
        let dir = tempfile::tempdir().unwrap();
        let state = crate::http::testing::state(dir.path()).await;
        (dir, state)
    }

    fn cooperative(name: &str, nip: Option<&str>) -> NewEntity {
        NewEntity {
            name: name.into(),
            legal_form: "social_cooperative".into(),
            domains: vec!["zolw.example.pl".into()],
            nip: nip.map(str::to_owned),
            city: Some("Lublin".into()),
            ..NewEntity::default()
        }
    }

    async fn issue(issuer: &Issuer, entity_id: &str, now: i64) -> CertificateDetail {
        let input = NewCertificate {
            entity_id: entity_id.into(),
            products: vec![NewProduct { name: "Powidła".into(), gtin: None }],
            valid_from: None,
        };
        issuer.issue("test", input, now).await.unwrap()
    }

    #[tokio::test]
    async fn a_change_signs_new_tokens_with_the_new_details_except_for_revoked_certificates() {
        let (_dir, state) = registry().await;
        let (issuer, now) = (&state.issuer, state.now());
        let entity =
            issuer.create_entity("test", cooperative("Żółw", Some("7740001454")), now).await.unwrap();
        let active = issue(issuer, &entity.id, now).await;
        let revoked = issue(issuer, &entity.id, now).await.certificate.id;
        issuer.revoke("test", &revoked, RevocationReason::Misuse, None, now).await.unwrap();
        let revoked = issuer.detail(&revoked).await.unwrap();

        let later = now + 60;
        let mut input = cooperative("Spółdzielnia Socjalna Żółw", Some("774-000-14-54"));
        input.city = Some("Chełm".into());
        let updated = issuer.update_entity("staff", &entity.id, input, later).await.unwrap();
        assert_eq!((updated.id.as_str(), updated.created_at), (entity.id.as_str(), entity.created_at));
        assert_eq!(updated.name, "Spółdzielnia Socjalna Żółw");
        assert_eq!(issuer.store.entity(&entity.id).await.unwrap(), Some(updated.clone()));

        let now_active = issuer.detail(&active.certificate.id).await.unwrap();
        let token = now_active.token.clone().unwrap();
        assert_ne!(Some(&token), active.token.as_ref(), "a new token");
        assert_eq!(token.iat, later);
        let keys = issuer.key_set(later).await.unwrap();
        let rules = Rules::new(issuer.settings.base_url.clone());
        let claims = zp_shared::verify(&token.token, &keys, later, &rules).unwrap().into_claims();
        assert_eq!(claims.zp.entity.name, "Spółdzielnia Socjalna Żółw");
        assert_eq!(claims.zp.entity.city.as_deref(), Some("Chełm"));
        assert_eq!(claims.zp.number, active.certificate.number);
        assert_eq!(now_active.certificate.updated_at, active.certificate.updated_at);

        let still_revoked = issuer.detail(&revoked.certificate.id).await.unwrap();
        assert_eq!(still_revoked.token, revoked.token, "a revoked certificate is not signed again");
        assert_eq!(still_revoked.certificate.updated_at, revoked.certificate.updated_at, "revoked on");

        // Both are found by the new name, and no longer by the old city.
        let search = |terms: &[&str]| SearchQuery {
            terms: terms.iter().map(|t| fold(t)).collect(),
            limit: 10,
            ..SearchQuery::default()
        };
        assert_eq!(issuer.store.search(&search(&["spółdzielnia", "chełm"])).await.unwrap().len(), 2);
        assert!(issuer.store.search(&search(&["lublin"])).await.unwrap().is_empty());

        let entry = issuer.store.audit_log(0, 100).await.unwrap().pop().unwrap();
        assert_eq!((entry.action.as_str(), entry.actor.as_str()), ("entity.update", "staff"));
        let details: serde_json::Value = serde_json::from_str(&entry.details).unwrap();
        assert_eq!(
            details["changed"],
            serde_json::json!({
                "name": { "before": "Żółw", "after": "Spółdzielnia Socjalna Żółw" },
                "city": { "before": "Lublin", "after": "Chełm" },
            })
        );
        assert_eq!(details["jtis"], serde_json::json!([token.jti]));
    }

    #[tokio::test]
    async fn refusals_name_the_field_and_write_nothing() {
        let (_dir, state) = registry().await;
        let (issuer, now) = (&state.issuer, state.now());
        issuer.create_entity("test", cooperative("Alfa", Some("7740001454")), now).await.unwrap();
        let beta = issuer.create_entity("test", cooperative("Beta", Some("5260250995")), now).await.unwrap();
        let certificate = issue(issuer, &beta.id, now).await;
        let head = issuer.store.audit_head().await.unwrap();

        let refusals = [
            (cooperative("Beta", Some("774-000-14-54")), "nip"),
            (cooperative("Beta", Some("1234567890")), "nip"),
            (cooperative(" ", None), "name"),
            (NewEntity { domains: Vec::new(), ..cooperative("Beta", None) }, "domains"),
            (NewEntity { legal_form: "company".into(), ..cooperative("Beta", None) }, "legal_form"),
        ];
        for (input, field) in refusals {
            match issuer.update_entity("staff", &beta.id, input, now + 60).await {
                Err(IssuerError::Invalid { field: named, .. }) => assert_eq!(named, field),
                other => panic!("{field}: {other:?}"),
            }
        }
        let missing = issuer.update_entity("staff", "ENOSUCH", cooperative("Gamma", None), now).await;
        assert!(matches!(missing, Err(IssuerError::NotFound { what: "entity", .. })), "{missing:?}");

        assert_eq!(issuer.store.audit_head().await.unwrap(), head, "no audit entry");
        assert_eq!(issuer.store.entity(&beta.id).await.unwrap(), Some(beta.clone()));
        assert_eq!(issuer.detail(&certificate.certificate.id).await.unwrap(), certificate, "no new token");

        // Its own NIP, written another way, is no conflict.
        let same =
            issuer.update_entity("staff", &beta.id, cooperative("Beta", Some("526-025-09-95")), now).await;
        assert_eq!(same.unwrap().nip.as_deref(), Some("5260250995"));
    }
}
