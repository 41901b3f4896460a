//! rustls server configuration: TLS 1.3 and 1.2 only, with the ring provider.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::{Settings, TlsMode};

/// The server's TLS configuration, or `None` for plain HTTP (`tls.mode = "off"`).
pub fn server_config(settings: &Settings) -> anyhow::Result<Option<ServerConfig>> {
    let (cert, key) = match settings.tls.mode {
        TlsMode::Off => return Ok(None),
        TlsMode::Files => (
            settings.tls.cert_file.clone().ok_or_else(|| anyhow::anyhow!("tls.cert_file missing"))?,
            settings.tls.key_file.clone().ok_or_else(|| anyhow::anyhow!("tls.key_file missing"))?,
        ),
        TlsMode::SelfSigned => self_signed(&settings.data_dir.join("tls"))?,
    };
    let certs: Vec<CertificateDer<'static>> =
        rustls_pemfile::certs(&mut fs::read(&cert)?.as_slice()).collect::<Result<_, _>>()?;
    let key: PrivateKeyDer<'static> = rustls_pemfile::private_key(&mut fs::read(&key)?.as_slice())?
        .ok_or_else(|| anyhow::anyhow!("no private key in {}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    Ok(Some(config))
}

/// `dir/cert.pem` and `dir/key.pem`, created once for localhost, 127.0.0.1 and ::1.
pub fn self_signed(dir: &Path) -> anyhow::Result<(PathBuf, PathBuf)> {
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    if cert.exists() && key.exists() {
        return Ok((cert, key));
    }
    fs::create_dir_all(dir)?;
    let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned(), "::1".to_owned()];
    let generated = rcgen::generate_simple_self_signed(names)?;
    // A key left without its certificate by an interrupted start is replaced.
    if key.exists() {
        fs::remove_file(&key)?;
    }
    sitrep_auth::keyfile::open_private(&key)?.write_all(generated.key_pair.serialize_pem().as_bytes())?;
    fs::write(&cert, generated.cert.pem())?;
    Ok((cert, key))
}
