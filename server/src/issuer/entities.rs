//! Social-economy entities: creation, with its audit entry.

use super::*;

impl Issuer {
    pub async fn create_entity(&self, actor: &str, input: NewEntity, now: i64) -> IssuerResult<EntityRecord> {
        let entity = entity_record(input, now)?;
        self.check_token_budget(&entity)?;
        let mut tx = self.store.begin().await?;
        tx.insert_entity(&entity).await.map_err(|err| match err {
            StoreError::Conflict(_) => invalid("nip", "an entity with this NIP is already registered"),
            other => other.into(),
        })?;
        let details =
            serde_json::json!({ "name": entity.name, "nip": entity.nip, "domains": entity.domains });
        tx.append_audit(&Self::audit(actor, "entity.create", &entity.id, details, now)).await?;
        tx.commit().await?;
        Ok(entity)
    }
}
