//! The JSON Schemas of the HTTP query parameters (page sizes, search text, windows of days),
//! built from the limits the handlers check. The fields of request bodies and paths are the
//! issuer's (`issuer::fields`), re-exported here so that handlers name every schema one way.

pub use crate::issuer::fields::*;
use crate::issuer::fields::{field_schema, integer, string};

field_schema! {
    /// How many results a page holds.
    Limit => integer(1, crate::http::api::LIMIT_MAX)
        .description(Some(format!("1 to {}, default 20.", crate::http::api::LIMIT_MAX)))
}

field_schema! {
    /// How many results come before a page.
    Offset => integer(0, crate::http::api::OFFSET_MAX)
        .description(Some(format!("0 to {}, default 0.", crate::http::api::OFFSET_MAX)))
}

field_schema! {
    /// Search words.
    Query => string()
        .max_length(Some(crate::http::api::QUERY_MAX_CHARS))
        .description(Some(format!(
            "Words to find in entity names, cities, products, NIP, KRS or certificate numbers, \
             separated by whitespace or control characters; at most {} characters.",
            crate::http::api::QUERY_MAX_CHARS
        )))
}

field_schema! {
    /// How many audit entries a page holds.
    AuditLimit => integer(1, crate::http::admin::AUDIT_LIMIT_MAX)
        .description(Some(format!("1 to {}, default 100.", crate::http::admin::AUDIT_LIMIT_MAX)))
}

field_schema! {
    /// A window of days from now.
    ExpiringWithinDays => integer(0, crate::http::admin::EXPIRING_WITHIN_DAYS_MAX).description(Some(
        format!(
            "Only certificates whose validity ends within this many days from now (0 to {}).",
            crate::http::admin::EXPIRING_WITHIN_DAYS_MAX
        )
    ))
}
