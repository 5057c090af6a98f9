//! What the issuer publishes for verifiers: its signing keys (rotated with pre-publication), the
//! JWKS, and the signed status lists.

use super::*;

/// What a key rotation did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct KeyRotation {
    /// Key ID of the new key; the JWKS lists it from now on.
    pub kid: String,
    /// Unix seconds from which it signs: once no cached JWKS can lack it (300 s), or at once for
    /// an emergency rotation.
    pub active_from: i64,
    /// Key IDs of keys that were still waiting to sign, withdrawn by an emergency rotation.
    pub withdrawn: Vec<String>,
}

#[derive(Debug, Clone)]
pub(super) struct CachedList {
    head: i64,
    list: i64,
    kid: String,
    made_at: i64,
    token: String,
}

impl Issuer {
    /// Rotates the signing key: the new key is published at once and signs from `active_from`
    /// (see [`Activation`]). The audit entry commits before the key file is written, so a crash
    /// between the two leaves a record of a key that never signed, never a key without a record.
    pub async fn rotate_key(
        &self,
        actor: &str,
        activation: Activation,
        now: i64,
    ) -> IssuerResult<KeyRotation> {
        let rotation = loop {
            match self.keys.try_begin_rotation(now, activation)? {
                Some(rotation) => break rotation,
                None => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
            }
        };
        let done = KeyRotation {
            kid: rotation.key.key.kid().to_owned(),
            active_from: rotation.key.active_from,
            withdrawn: rotation.withdrawn.iter().map(|k| k.key.kid().to_owned()).collect(),
        };
        let details = serde_json::json!({
            "kid": done.kid,
            "active_from": done.active_from,
            "immediate": activation == Activation::Now,
            "withdrawn": done.withdrawn,
        });
        let mut tx = self.store.begin().await?;
        tx.append_audit(&Self::audit(actor, "key.rotate", &done.kid, details, now)).await?;
        tx.commit().await?;
        if let Err(err) = rotation.install() {
            // Say so in the log as well, so that the entry above is not taken for a key in use.
            let mut tx = self.store.begin().await?;
            let details = serde_json::json!({ "error": err.to_string() });
            tx.append_audit(&Self::audit(actor, "key.rotate_failed", &done.kid, details, now)).await?;
            tx.commit().await?;
            return Err(err.into());
        }
        self.status_cache.lock().map(|mut cache| cache.clear()).ok();
        Ok(done)
    }

    /// The published keys: the signing key, and older keys while a token they signed is unexpired
    /// or a status list they signed may still be cached.
    pub async fn jwks(&self, now: i64) -> IssuerResult<Jwks> {
        Ok(Jwks { keys: self.published_keys(now).await?.iter().map(|k| k.key.public_jwk()).collect() })
    }

    /// The published keys as a verifier's key set: what `/api/v1/verify` checks tokens with.
    pub async fn key_set(&self, now: i64) -> IssuerResult<KeySet> {
        let mut set = KeySet::new();
        for key in self.published_keys(now).await? {
            set.insert(key.key.public_key().clone())?;
        }
        Ok(set)
    }

    /// [`Issuer::key_set`] for verifying tokens at `now`, made at most once a second unless
    /// `refresh`: building it reads the key directory, which would otherwise happen on every call of
    /// the verify API. Within a second the published keys change only by a rotation, which adds a
    /// key; a caller that meets a `kid` missing from the set asks again with `refresh`, so tokens of a
    /// key rotated in by another replica verify at once.
    pub async fn verify_keys(&self, now: i64, refresh: bool) -> IssuerResult<Arc<KeySet>> {
        if !refresh
            && let Ok(cached) = self.verify_keys.lock()
            && let Some((at, set)) = cached.as_ref()
            && *at == now
        {
            return Ok(Arc::clone(set));
        }
        let set = Arc::new(self.key_set(now).await?);
        if let Ok(mut cached) = self.verify_keys.lock() {
            *cached = Some((now, Arc::clone(&set)));
        }
        Ok(set)
    }

    /// The keys to publish, newest first.
    async fn published_keys(&self, now: i64) -> IssuerResult<Vec<RingKey>> {
        let ring = self.keys.keys()?;
        let mut keys = Vec::new();
        for (i, key) in ring.iter().enumerate() {
            let retired_at = ring.get(i + 1).map(|next| next.active_from);
            let keep = match retired_at {
                None => true,
                Some(retired) => {
                    now < retired + RETIRED_KEY_GRACE
                        || self.store.last_token_exp(key.key.kid()).await?.is_some_and(|exp| exp > now)
                }
            };
            if keep {
                keys.push(key.clone());
            }
        }
        keys.reverse();
        Ok(keys)
    }

    /// The signed status list `list`, re-signed when a state changed or it has used half its
    /// `ttl` (a minute at most), so a verifier always gets at least half a `ttl` of freshness.
    pub async fn status_list(&self, list: i64, now: i64) -> IssuerResult<Option<(String, i64)>> {
        let max = self.store.max_status_idx().await?.unwrap_or(-1);
        if list < 0 || list > max.max(0) / STATUS_LIST_SIZE {
            return Ok(None);
        }
        let head = self.store.audit_head().await?;
        let key = self.keys.active(now)?;
        let reuse_for = i64::try_from(self.settings.status_ttl / 2).unwrap_or(60).min(60);
        if let Ok(cache) = self.status_cache.lock()
            && let Some(hit) = cache.iter().find(|c| {
                c.list == list && c.head == head && c.kid == key.key.kid() && now - c.made_at < reuse_for
            })
        {
            return Ok(Some((hit.token.clone(), hit.made_at)));
        }
        let mut bits = StatusList::new(status_list::BITS, STATUS_LIST_SIZE as u64)?;
        for (idx, state) in self.store.status_entries().await? {
            if idx / STATUS_LIST_SIZE == list {
                bits.set((idx % STATUS_LIST_SIZE) as u64, state.status().value())?;
            }
        }
        let claims = StatusListClaims {
            iss: self.settings.base_url.clone(),
            sub: self.status_list_uri(list),
            iat: now,
            exp: now + i64::try_from(self.settings.status_ttl).unwrap_or(i64::MAX / 2) + STATUS_LIST_GRACE,
            ttl: self.settings.status_ttl,
            status_list: bits.to_claim(),
        };
        let token = status_list::sign_status_list(&claims, &key.key)?;
        if let Ok(mut cache) = self.status_cache.lock() {
            cache.retain(|c| c.list != list);
            cache.push(CachedList {
                head,
                list,
                kid: key.key.kid().to_owned(),
                made_at: now,
                token: token.clone(),
            });
        }
        Ok(Some((token, now)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kids(jwks: &Jwks) -> Vec<String> {
        jwks.keys.iter().map(|k| k.kid.clone()).collect()
    }

    #[tokio::test]
    async fn retired_keys_stay_published_until_their_last_token_expires() {
        let dir = tempfile::tempdir().unwrap();
        let state = crate::http::testing::state(dir.path()).await;
        let issuer = &state.issuer;
        let now = state.now();
        let entity = NewEntity {
            name: "Spółdzielnia Socjalna „Klucz”".into(),
            legal_form: "social_cooperative".into(),
            domains: vec!["klucz.pl".into()],
            ..NewEntity::default()
        };
        let entity = issuer.create_entity("test", entity, now).await.unwrap();
        let products = vec![NewProduct { name: "Chleb".into(), gtin: None }];
        let input = NewCertificate { entity_id: entity.id, products, valid_from: None };
        let issued = issuer.issue("test", input, now).await.unwrap();
        let first = issued.token.unwrap();
        let unused = issuer.rotate_key("test", Activation::AfterCaches, now).await.unwrap();
        // Published at once, signing only after the JWKS cache lifetime.
        assert_eq!(unused.active_from, now + crate::keys::JWKS_MAX_AGE);
        assert_eq!(kids(&issuer.jwks(now).await.unwrap()), [unused.kid.clone(), first.kid.clone()]);
        assert_eq!(issuer.keys.active(now).unwrap().key.kid(), first.kid);
        let active = issuer.rotate_key("test", Activation::AfterCaches, now).await.unwrap();
        let (unused, active) = (unused.kid, active.kid);
        assert_eq!(
            kids(&issuer.jwks(now).await.unwrap()),
            [active.clone(), unused.clone(), first.kid.clone()]
        );
        // After the grace for cached status lists, a key that signed no token leaves; the first key
        // stays while its token is valid.
        let later = now + crate::keys::JWKS_MAX_AGE + 1 + RETIRED_KEY_GRACE + 10;
        assert_eq!(issuer.keys.active(later).unwrap().key.kid(), active);
        assert_eq!(kids(&issuer.jwks(later).await.unwrap()), [active.clone(), first.kid.clone()]);
        // Once that token has expired, only the signing key is left.
        assert_eq!(kids(&issuer.jwks(first.exp).await.unwrap()), [active]);
    }

    #[tokio::test]
    async fn a_rotation_is_audited_before_its_key_signs() {
        let dir = tempfile::tempdir().unwrap();
        let state = crate::http::testing::state(dir.path()).await;
        let issuer = &state.issuer;
        // Some seconds after the first key's, which was made at the opening.
        let now = state.now() + 10;
        let first = issuer.keys.active(now).unwrap().key.kid().to_owned();
        let waiting = issuer.rotate_key("test", Activation::AfterCaches, now).await.unwrap();
        let urgent = issuer.rotate_key("test", Activation::Now, now).await.unwrap();
        assert_eq!(urgent.withdrawn, std::slice::from_ref(&waiting.kid));
        assert_eq!(urgent.active_from, now);
        assert_eq!(issuer.keys.active(now).unwrap().key.kid(), urgent.kid);
        assert_eq!(kids(&issuer.jwks(now).await.unwrap()), [urgent.kid.clone(), first]);
        let log = issuer.store.audit_log(0, 100).await.unwrap();
        let rotations: Vec<serde_json::Value> = log
            .iter()
            .filter(|e| e.action == "key.rotate")
            .map(|e| serde_json::from_str(&e.details).unwrap())
            .collect();
        assert_eq!(
            rotations,
            [
                serde_json::json!({ "kid": waiting.kid, "active_from": waiting.active_from,
                                    "immediate": false, "withdrawn": [] }),
                serde_json::json!({ "kid": urgent.kid, "active_from": now,
                                    "immediate": true, "withdrawn": [waiting.kid] }),
            ]
        );
    }

    /// Rotations wait for each other without holding a runtime thread: more of them at once than
    /// the runtime has threads all finish, each with its own second.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_rotations_queue_up() {
        let dir = tempfile::tempdir().unwrap();
        let state = crate::http::testing::state(dir.path()).await;
        let now = state.now();
        let rotations: Vec<_> = (0..4)
            .map(|_| {
                let issuer = Arc::clone(&state.issuer);
                tokio::spawn(async move { issuer.rotate_key("test", Activation::AfterCaches, now).await })
            })
            .collect();
        let mut starts = Vec::new();
        for rotation in rotations {
            starts.push(rotation.await.unwrap().unwrap().active_from);
        }
        starts.sort_unstable();
        let expected: Vec<i64> = (0..4).map(|i| now + crate::keys::JWKS_MAX_AGE + i).collect();
        assert_eq!(starts, expected);
        assert_eq!(state.issuer.keys.keys().unwrap().len(), 5);
    }
}
