//! The issuers this issuer vouches for, and the signed trust list that names them
//! (`/.well-known/zp-trust-list.jwt`): a badge page that loads this issuer's loader also trusts
//! them. Changes go through one transaction with their audit entry, like every admin action.

use zp_shared::trust_list::{self, MAX_TRUSTED_ISSUERS, TRUST_LIST_PATH, TrustListClaims, TrustedIssuer};

use super::{Issuer, IssuerError, IssuerResult, checked_text, clean_text, invalid, optional_voivodeship};
use crate::store::{StoreError, TrustedIssuerRecord};

/// Seconds a trust list stays valid beyond its `ttl`, so that one fetched at the end of a cache's
/// `ttl` still verifies on a device whose clock is a little ahead.
const TRUST_LIST_GRACE: i64 = 60;

/// The last trust list signed, and what it was signed from.
#[derive(Debug, Clone)]
pub(super) struct CachedTrustList {
    head: i64,
    kid: String,
    made_at: i64,
    token: String,
}

/// The trust list entry for an issuer at `url` (its base URL, the `iss` of its tokens), checked
/// field by field; whether it is this issuer, or listed already, comes after.
pub fn trusted_issuer_record(
    url: &str,
    name: &str,
    voivodeship: Option<&str>,
    now: i64,
) -> IssuerResult<TrustedIssuerRecord> {
    let url = checked_text("url", url, usize::MAX)?;
    trust_list::check_issuer_url(url).map_err(|problem| invalid("url", problem.to_string()))?;
    Ok(TrustedIssuerRecord {
        iss: url.to_owned(),
        name: clean_text("name", name, trust_list::MAX_NAME_CHARS)?,
        voivodeship: optional_voivodeship(&voivodeship.map(str::to_owned))?,
        jwks_uri: format!("{url}/.well-known/jwks.json"),
        added_at: now,
    })
}

impl Issuer {
    /// Where the trust list is published.
    pub fn trust_list_uri(&self) -> String {
        format!("{}{TRUST_LIST_PATH}", self.settings.base_url)
    }

    /// Puts an issuer on the trust list. `url` is its base URL (the `iss` of its tokens); its keys
    /// are taken to be at `{url}/.well-known/jwks.json`.
    pub async fn add_trusted_issuer(
        &self,
        actor: &str,
        url: &str,
        name: &str,
        voivodeship: Option<&str>,
        now: i64,
    ) -> IssuerResult<TrustedIssuerRecord> {
        if url.trim() == self.settings.base_url {
            return Err(invalid("url", "is this issuer's own URL; an issuer always trusts itself"));
        }
        let record = trusted_issuer_record(url, name, voivodeship, now)?;
        let url = record.iss.as_str();
        let mut tx = self.store.begin().await?;
        if tx.trusted_issuers().await?.len() >= MAX_TRUSTED_ISSUERS {
            return Err(IssuerError::Conflict(format!(
                "the trust list already names {MAX_TRUSTED_ISSUERS} issuers, the most it may"
            )));
        }
        tx.insert_trusted_issuer(&record).await.map_err(|err| match err {
            StoreError::Conflict(_) => {
                IssuerError::Conflict(format!("url: {url} is already on the trust list"))
            }
            other => other.into(),
        })?;
        let details = serde_json::json!({
            "name": record.name,
            "voivodeship": record.voivodeship,
            "jwks_uri": record.jwks_uri,
        });
        tx.append_audit(&Self::audit(actor, "trusted_issuer.add", url, details, now)).await?;
        tx.commit().await?;
        Ok(record)
    }

    /// Takes an issuer off the trust list; the next list signed leaves it out.
    pub async fn remove_trusted_issuer(&self, actor: &str, url: &str, now: i64) -> IssuerResult<()> {
        let url = url.trim();
        let mut tx = self.store.begin().await?;
        if !tx.delete_trusted_issuer(url).await? {
            return Err(IssuerError::NotFound { what: "trusted issuer", id: url.to_owned() });
        }
        tx.append_audit(&Self::audit(actor, "trusted_issuer.remove", url, serde_json::json!({}), now))
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The issuers on the trust list, by URL.
    pub async fn trusted_issuers(&self) -> IssuerResult<Vec<TrustedIssuerRecord>> {
        Ok(self.store.trusted_issuers().await?)
    }

    /// The signed trust list and its `iat`. Signed again when an admin change or a new key may
    /// have changed it, and at least every `min(60, ttl / 2)` seconds so that what caches are told
    /// they may keep (`ttl` from `iat`) stays useful.
    pub async fn trust_list(&self, now: i64) -> IssuerResult<(String, i64)> {
        let head = self.store.audit_head().await?;
        let key = self.keys.active(now)?;
        let ttl = self.settings.status_ttl;
        let fresh_for = i64::try_from(ttl / 2).unwrap_or(i64::MAX).min(60);
        if let Ok(cache) = self.trust_cache.lock()
            && let Some(hit) = cache.as_ref()
            && hit.head == head
            && hit.kid == key.key.kid()
            && (0..fresh_for).contains(&(now - hit.made_at))
        {
            return Ok((hit.token.clone(), hit.made_at));
        }
        let issuers = self
            .store
            .trusted_issuers()
            .await?
            .into_iter()
            .map(|r| TrustedIssuer {
                iss: r.iss,
                name: r.name,
                voivodeship: r.voivodeship,
                jwks_uri: r.jwks_uri,
            })
            .collect();
        let claims = TrustListClaims {
            iss: self.settings.base_url.clone(),
            sub: self.trust_list_uri(),
            iat: now,
            exp: now.saturating_add(i64::try_from(ttl).unwrap_or(i64::MAX)).saturating_add(TRUST_LIST_GRACE),
            ttl,
            issuers,
        };
        let token = trust_list::sign_trust_list(&claims, &key.key)?;
        if let Ok(mut cache) = self.trust_cache.lock() {
            *cache = Some(CachedTrustList {
                head,
                kid: key.key.kid().to_owned(),
                made_at: now,
                token: token.clone(),
            });
        }
        Ok((token, now))
    }
}

#[cfg(test)]
mod tests {
    use zp_shared::{Error, Rules, verify_trust_list};

    use super::*;

    #[tokio::test]
    async fn members_are_checked_listed_signed_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let state = crate::http::testing::state(dir.path()).await;
        let issuer: &Issuer = &state.issuer;
        let now = state.now();
        let url = "https://zp.rops.opole.pl";
        let added =
            issuer.add_trusted_issuer("test", url, " ROPS Opole ", Some("opolskie"), now).await.unwrap();
        assert_eq!(added.name, "ROPS Opole");
        assert_eq!(added.voivodeship.as_deref(), Some("opolskie"));
        assert_eq!(added.jwks_uri, "https://zp.rops.opole.pl/.well-known/jwks.json");
        assert_eq!(issuer.trusted_issuers().await.unwrap(), [added]);

        let refused = |result: IssuerResult<TrustedIssuerRecord>| match result {
            Err(IssuerError::Invalid { field, message }) => format!("{field}: {message}"),
            Err(IssuerError::Conflict(message)) => format!("conflict {message}"),
            other => panic!("accepted: {other:?}"),
        };
        let add = move |url: &'static str, name: &'static str, region: Option<&'static str>| {
            issuer.add_trusted_issuer("test", url, name, region, now)
        };
        assert_eq!(
            refused(add("http://zp.mcps.pl", "MCPS", None).await),
            "url: must use https (http only on loopback)"
        );
        assert_eq!(refused(add("https://zp.mcps.pl/", "MCPS", None).await), "url: must not end with `/`");
        assert_eq!(refused(add("https://zp.mcps.pl", " ", None).await), "name: must not be empty");
        // The listed name exactly, as the API document's enumeration says (the CLI lowercases).
        for region in ["mazowsze", "Mazowieckie", " mazowieckie", ""] {
            assert!(
                refused(add("https://zp.mcps.pl", "MCPS", Some(region)).await).starts_with("voivodeship: "),
                "{region:?}"
            );
        }
        assert_eq!(
            refused(add(url, "Opole again", None).await),
            "conflict url: https://zp.rops.opole.pl is already on the trust list"
        );
        let own = issuer.settings.base_url.clone();
        let own = issuer.add_trusted_issuer("test", &own, "Me", None, now).await;
        assert!(refused(own).starts_with("url: is this issuer's own URL"));

        let rules = Rules::new(issuer.settings.base_url.clone());
        let keys = issuer.key_set(now).await.unwrap();
        let (token, iat) = issuer.trust_list(now).await.unwrap();
        assert_eq!(iat, now);
        let list = verify_trust_list(&token, &keys, now, &rules, &issuer.trust_list_uri()).unwrap();
        assert_eq!(list.claims.issuers.len(), 1);
        assert_eq!(list.claims.issuers[0].iss, url);
        assert_eq!(list.claims.exp, now + 300 + 60);
        // Unchanged and within a minute: the same token; changed: signed again at once.
        assert_eq!(issuer.trust_list(now + 30).await.unwrap(), (token.clone(), now));
        assert_eq!(issuer.trust_list(now + 60).await.unwrap().1, now + 60);

        issuer.remove_trusted_issuer("test", url, now + 61).await.unwrap();
        let (token, _) = issuer.trust_list(now + 61).await.unwrap();
        let list = verify_trust_list(&token, &keys, now + 61, &rules, &issuer.trust_list_uri()).unwrap();
        assert!(list.claims.issuers.is_empty());
        assert!(matches!(
            issuer.remove_trusted_issuer("test", url, now + 62).await,
            Err(IssuerError::NotFound { what: "trusted issuer", .. })
        ));
        let actions: Vec<String> =
            issuer.store.audit_log(0, 100).await.unwrap().into_iter().map(|entry| entry.action).collect();
        assert_eq!(actions, ["trusted_issuer.add", "trusted_issuer.remove"]);
        // Expired `ttl` + 60 s after it was signed, and refused after the verifier's leeway.
        let exp = now + 61 + 300 + 60;
        assert_eq!(list.claims.exp, exp);
        assert_eq!(
            verify_trust_list(&token, &keys, exp + 60, &rules, &issuer.trust_list_uri()).map(|_| ()),
            Err(Error::TrustListExpired { exp, now: exp + 60 })
        );
    }
}
