//! Per-client rate limiting of the public routes (API, pages, status lists, keys), so one
//! client cannot starve the others. Admin, health and metrics routes are never limited.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use tower_governor::governor::{GovernorConfig, GovernorConfigBuilder};

use super::error::AppError;

type Config = GovernorConfig<ClientIp, NoOpMiddleware>;

/// How many requests per second one client may make, with bursts of twice that; or no limit.
#[derive(Debug, Clone, Default)]
pub struct RateLimit {
    per_second: u32,
    config: Option<Arc<Config>>,
}

impl RateLimit {
    /// No limit: what in-process tests use, as they have no peer address.
    pub fn disabled() -> Self {
        RateLimit::default()
    }

    /// `per_second` requests per second per client, bursts of twice that; 0 disables the limit.
    pub fn per_second(per_second: u32) -> Self {
        if per_second == 0 {
            return RateLimit::disabled();
        }
        let period = Duration::from_nanos((1_000_000_000 / u64::from(per_second)).max(1));
        let config = GovernorConfigBuilder::default()
            .key_extractor(ClientIp)
            .period(period)
            .burst_size(per_second.saturating_mul(2))
            .finish();
        RateLimit { per_second, config: config.map(Arc::new) }
    }

    /// Requests per second per client; 0 when disabled.
    pub fn limit(&self) -> u32 {
        if self.config.is_some() { self.per_second } else { 0 }
    }

    /// Forgets clients that have not been seen for a while, so the table does not grow forever.
    pub fn forget_idle(&self) {
        if let Some(config) = &self.config {
            config.limiter().retain_recent();
            config.limiter().shrink_to_fit();
        }
    }
}

/// Routes never limited: the staff's admin API and what monitoring polls.
fn exempt(route: &str) -> bool {
    route.starts_with("/api/v1/admin/") || route == "/healthz" || route == "/metrics"
}

impl RateLimit {
    /// The refusal when the client behind `request` is over its budget; `None` lets it through.
    /// Called by the one middleware of the whole router (`edge`) with the matched route template,
    /// so pages, the API and even unmatched paths all draw on one budget per client, whichever
    /// router serves them.
    pub fn refusal<B>(&self, route: &str, request: &axum::http::Request<B>) -> Option<Response> {
        let config = self.config.as_ref()?;
        if exempt(route) {
            return None;
        }
        let key = client_ip(request);
        match config.limiter().check_key(&key) {
            Ok(()) => None,
            Err(not_until) => {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                Some(rejected(wait.as_secs().saturating_add(u64::from(wait.subsec_nanos() > 0))))
            }
        }
    }
}

/// The client's address: the peer IP, with IPv6 cut to its /64 (one subscriber's usual
/// allocation, which a client could otherwise walk through to dodge the limit). Without a peer
/// address (a router driven in-process) every request counts as one client.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp;

impl tower_governor::key_extractor::KeyExtractor for ClientIp {
    type Key = IpAddr;

    fn extract<T>(&self, req: &axum::http::Request<T>) -> Result<Self::Key, tower_governor::GovernorError> {
        Ok(client_ip(req))
    }
}

fn client_ip<T>(req: &axum::http::Request<T>) -> IpAddr {
    client_of(req.extensions())
}

/// The client of a request, from its extensions (see [`ClientIp`]).
pub(crate) fn client_of(extensions: &axum::http::Extensions) -> IpAddr {
    let peer = extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0)
        .or_else(|| extensions.get::<MockConnectInfo<SocketAddr>>().map(|info| info.0));
    peer.map_or(IpAddr::V6(Ipv6Addr::UNSPECIFIED), |peer| client_key(peer.ip()))
}

pub(crate) fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & (u128::MAX << 64))),
        },
    }
}

/// The refusal, in the JSON error envelope. Only public routes are limited, so it may be read
/// from any origin: a badge on another site can then tell "busy" from "broken".
fn rejected(wait_secs: u64) -> Response {
    let wait = wait_secs.max(1);
    let mut response = AppError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        format!("too many requests; try again in {wait} s"),
    )
    .into_response();
    let headers = response.headers_mut();
    headers.insert(header::RETRY_AFTER, HeaderValue::from(wait));
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_disables() {
        assert_eq!(RateLimit::per_second(0).limit(), 0);
        assert_eq!(RateLimit::per_second(50).limit(), 50);
        assert_eq!(RateLimit::per_second(u32::MAX).limit(), u32::MAX);
    }

    #[test]
    fn ipv6_clients_are_grouped_by_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(client_key(a), client_key(b));
        assert_ne!(client_key(a), client_key(c));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(client_key(mapped), "192.0.2.7".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn admin_and_monitoring_are_exempt() {
        assert!(exempt("/api/v1/admin/certificates/{id}/revoke"));
        assert!(exempt("/healthz"));
        assert!(exempt("/metrics"));
        assert!(!exempt("/api/v1/certificates/{id}"));
        assert!(!exempt("/api/v1/administrators"));
        assert!(!exempt("/"));
    }
}
