//! The one way the host builds an HTTP(S) connector for URLs a pipeline
//! names (URL probes, metrics providers): plain HTTP, or HTTPS verified
//! against the system's roots with rustls. It builds connectors only;
//! callers own their clients, timeouts and bodies, and nothing here reads
//! credentials.

use std::sync::Arc;

use hyper_util::client::legacy::connect::HttpConnector;

/// HTTP or HTTPS, by the URL's scheme.
pub type Https = hyper_rustls::HttpsConnector<HttpConnector>;

/// A connector for `what` (named in the error, e.g. `URL probes`).
pub fn https_or_http(what: &str) -> Result<Https, String> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        // A root the system ships but rustls cannot parse is skipped, as rustls-native-certs advises.
        let _ = roots.add(cert);
    }
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("cannot set up TLS for {what}: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(tls).https_or_http().enable_http1().build())
}
