//! The badge widget: verifies a certificate token in the browser with `zp-shared`.
