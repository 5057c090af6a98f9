//! The issuer server: issues, renews and revokes certificates and publishes keys, status lists
//! and the public registry. Token work goes through `zp-shared`.
