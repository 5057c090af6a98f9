//! Admin API keys: created with a secret shown once, kept as a hash, revoked, looked up.

use super::*;

pub fn hash_api_key(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

impl Issuer {
    /// Creates an admin API key that acts as admin; the secret is shown once and only its hash
    /// is kept.
    pub async fn create_api_key(
        &self,
        actor: &str,
        name: &str,
        now: i64,
    ) -> IssuerResult<(ApiKeyRecord, String)> {
        self.create_api_key_for(actor, name, None, now).await
    }

    /// Creates an admin API key that acts for the account `owner`, with that person's role at
    /// each request (and not at all once the account is disabled).
    pub async fn create_api_key_for(
        &self,
        actor: &str,
        name: &str,
        owner: Option<&str>,
        now: i64,
    ) -> IssuerResult<(ApiKeyRecord, String)> {
        let name = clean_text("name", name, 100)?;
        let secret = format!(
            "zpk_{}",
            ids::new_id("", &mut OsRng) + &ids::new_id("", &mut OsRng) + &ids::new_id("", &mut OsRng)
        );
        let record = ApiKeyRecord {
            id: ids::new_id("K", &mut OsRng),
            name,
            created_at: now,
            revoked_at: None,
            account_id: owner.map(str::to_owned),
        };
        let mut tx = self.store.begin().await?;
        tx.insert_api_key(&record, &hash_api_key(&secret)).await?;
        let details = serde_json::json!({ "name": record.name, "owner": record.account_id });
        tx.append_audit(&Self::audit(actor, "api_key.create", &record.id, details, now)).await?;
        tx.commit().await?;
        Ok((record, secret))
    }

    /// Revokes an admin API key at once; its holder is refused from the next request.
    pub async fn revoke_api_key(&self, actor: &str, id: &str, now: i64) -> IssuerResult<()> {
        let mut tx = self.store.begin().await?;
        if !tx.revoke_api_key(id.trim(), now).await? {
            return Err(IssuerError::NotFound { what: "unrevoked API key", id: id.to_owned() });
        }
        tx.append_audit(&Self::audit(actor, "api_key.revoke", id.trim(), serde_json::json!({}), now)).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn authenticate(&self, secret: &str) -> IssuerResult<Option<ApiKeyRecord>> {
        Ok(self.store.api_key_by_hash(&hash_api_key(secret)).await?.filter(|k| k.revoked_at.is_none()))
    }
}
