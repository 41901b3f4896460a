//! How a process reaches PostgreSQL: a `postgres://` URL whose libpq TLS parameters
//! (`sslmode`, `sslrootcert`) are honoured over rustls, the TLS stack the server uses.
//!
//! tokio-postgres itself knows `sslmode=disable|prefer|require` only and checks nothing: the
//! certificate checks are the verifier given to rustls here, chosen by [`checks`].

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ClientConfig, WebPkiServerVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres::config::SslMode as WireMode;
pub use tokio_postgres_rustls::MakeRustlsConnect;

/// libpq's `sslmode` values. Unset means `prefer`, as in libpq.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// Never TLS.
    Disable,
    /// TLS if the server offers it, plain otherwise.
    Prefer,
    /// TLS or no connection.
    Require,
    /// TLS, and the server's certificate chains to the root certificate.
    VerifyCa,
    /// TLS, the chain, and the certificate names the host connected to.
    VerifyFull,
}

impl SslMode {
    pub fn parse(value: &str) -> Result<SslMode, TargetError> {
        Ok(match value {
            "disable" => SslMode::Disable,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            // `allow` tries plain text first: nothing Sitrep should ever do.
            other => return Err(TargetError::SslMode(other.to_owned())),
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

/// What is checked of the server, from the weakest to the strongest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Checks {
    /// No TLS at all.
    Plain,
    /// TLS when the server offers it; its certificate is not checked.
    OptionalUnverified,
    /// TLS always; the certificate is not checked (protects against listening, not
    /// against a server in the middle).
    Unverified,
    /// TLS always; the certificate chains to the root certificate (any host name).
    Chain,
    /// TLS always; the chain, and the certificate is valid for the host connected to.
    ChainAndName,
}

impl fmt::Display for Checks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Checks::Plain => "no TLS",
            Checks::OptionalUnverified => "TLS if offered, certificate not checked",
            Checks::Unverified => "TLS, certificate not checked",
            Checks::Chain => "TLS, certificate chain checked, host name not checked",
            Checks::ChainAndName => "TLS, certificate chain and host name checked",
        })
    }
}

/// The rule: what a mode asks for, given whether a root certificate is configured. As in
/// libpq, a root certificate makes `prefer` and `require` check the chain too; unlike
/// libpq, it also makes `prefer` insist on TLS (`Target::parse`): a deployment that named
/// its database's CA means TLS, and someone in the middle answering "no TLS" must not get
/// a plain-text connection while the log says the chain is checked. The
/// `verify-*` modes refuse to start without one (there is no implicit trust store: a
/// database's CA is the deployment's own, never whatever the system trusts).
pub fn checks(mode: SslMode, has_root: bool) -> Result<Checks, TargetError> {
    Ok(match (mode, has_root) {
        (SslMode::Disable, _) => Checks::Plain,
        (SslMode::Prefer, false) => Checks::OptionalUnverified,
        (SslMode::Require, false) => Checks::Unverified,
        (SslMode::Prefer | SslMode::Require | SslMode::VerifyCa, true) => Checks::Chain,
        (SslMode::VerifyFull, true) => Checks::ChainAndName,
        (SslMode::VerifyCa | SslMode::VerifyFull, false) => return Err(TargetError::NoRootCert(mode)),
    })
}

/// Why a database URL cannot be used. Never holds the URL (it carries a password).
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("database URL: sslmode `{0}` is not supported (disable, prefer, require, verify-ca, verify-full)")]
    SslMode(String),
    #[error(
        "database URL: sslmode={} needs a root certificate: set database.ssl_root_cert or sslrootcert in the URL",
        .0.as_str()
    )]
    NoRootCert(SslMode),
    #[error(
        "database.ssl_root_cert applies to postgres:// URLs only: write the database's connection as a URL, \
         or leave ssl_root_cert unset"
    )]
    RootCertNeedsUrl,
    #[error("database URL: the parameter `{0}` is not percent-encoded correctly")]
    Encoding(&'static str),
    #[error("database URL: {0}")]
    Parse(#[source] tokio_postgres::Error),
    #[error("database root certificate {}: {source}", path.display())]
    RootCert { path: PathBuf, source: std::io::Error },
    #[error("database root certificate {}: no usable certificate in it", .0.display())]
    NoCertificate(PathBuf),
    #[error("database TLS: {0}")]
    Tls(#[from] rustls::Error),
}

/// A URL with its TLS parameters taken out: what tokio-postgres parses, and the two values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitUrl {
    pub rest: String,
    pub sslmode: Option<String>,
    pub sslrootcert: Option<String>,
}

/// Takes `sslmode` and `sslrootcert` out of the query of a `postgres://` or
/// `postgresql://` URL (the last of each wins, as in libpq), leaving every other parameter
/// as written. A key/value connection string (`host=… sslmode=…`) is left whole:
/// tokio-postgres reads its `sslmode` (`disable`, `prefer` or `require`).
pub fn split_url(url: &str) -> Result<SplitUrl, TargetError> {
    let mut split = SplitUrl { rest: url.to_owned(), sslmode: None, sslrootcert: None };
    if !is_url(url) {
        return Ok(split);
    }
    let Some((base, query)) = url.split_once('?') else { return Ok(split) };
    let mut kept = Vec::new();
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match decode(key, "parameter name")?.as_str() {
            "sslmode" => split.sslmode = Some(decode(value, "sslmode")?),
            "sslrootcert" => split.sslrootcert = Some(decode(value, "sslrootcert")?),
            _ => kept.push(pair),
        }
    }
    split.rest = if kept.is_empty() { base.to_owned() } else { format!("{base}?{}", kept.join("&")) };
    Ok(split)
}

/// `url` with `sslrootcert=root` added unless it names one already: a deployment's
/// configured root certificate (`database.ssl_root_cert`) is the default of each of its
/// URLs. A key/value connection string cannot take it (tokio-postgres reads no
/// `sslrootcert` there), so it is refused rather than left to check nothing.
pub fn with_root_cert(url: &str, root: &Path) -> Result<String, TargetError> {
    if !is_url(url) {
        return Err(TargetError::RootCertNeedsUrl);
    }
    if split_url(url)?.sslrootcert.is_some() {
        return Ok(url.to_owned());
    }
    let root = root.to_str().ok_or(TargetError::Encoding("sslrootcert"))?;
    let mut encoded = String::with_capacity(root.len());
    for b in root.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            encoded.push(char::from(b));
        } else {
            encoded.push('%');
            encoded.push_str(&hex::encode_upper([b]));
        }
    }
    let sep = if url.contains('?') { '&' } else { '?' };
    Ok(format!("{url}{sep}sslrootcert={encoded}"))
}

fn is_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// Percent-decoding as in a URL's query (`+` stays a plus, as libpq reads it).
fn decode(s: &str, what: &'static str) -> Result<String, TargetError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).ok_or(TargetError::Encoding(what))?;
            let hex = std::str::from_utf8(hex).map_err(|_| TargetError::Encoding(what))?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| TargetError::Encoding(what))?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| TargetError::Encoding(what))
}

/// A database to connect to: the parsed URL and the TLS connector its `sslmode` asks for.
#[derive(Clone)]
pub struct Target {
    pub config: tokio_postgres::Config,
    pub tls: MakeRustlsConnect,
    pub checks: Checks,
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The configuration holds the password.
        f.debug_struct("Target").field("checks", &self.checks).finish_non_exhaustive()
    }
}

impl Target {
    /// Parses `url`, and reads the root certificate its `sslrootcert` names.
    pub fn parse(url: &str) -> Result<Target, TargetError> {
        let split = split_url(url)?;
        let mut config: tokio_postgres::Config = split.rest.parse().map_err(TargetError::Parse)?;
        let mode = match &split.sslmode {
            Some(mode) => SslMode::parse(mode)?,
            None => match config.get_ssl_mode() {
                WireMode::Disable => SslMode::Disable,
                WireMode::Require => SslMode::Require,
                _ => SslMode::Prefer,
            },
        };
        let root = split.sslrootcert.as_deref().map(Path::new);
        let checks = checks(mode, root.is_some() && mode != SslMode::Disable)?;
        // Every mode that checks a certificate insists on TLS, `prefer` with a root
        // certificate included (see `checks`).
        config.ssl_mode(match checks {
            Checks::Plain => WireMode::Disable,
            Checks::OptionalUnverified => WireMode::Prefer,
            Checks::Unverified | Checks::Chain | Checks::ChainAndName => WireMode::Require,
        });
        let roots = match root {
            Some(path) if checks >= Checks::Chain => Some(load_roots(path)?),
            _ => None,
        };
        Ok(Target { config, tls: connector(checks, roots)?, checks })
    }

    /// One connection; the caller drives the returned connection future.
    pub async fn connect(
        &self,
    ) -> Result<
        (
            tokio_postgres::Client,
            tokio_postgres::Connection<
                tokio_postgres::Socket,
                <MakeRustlsConnect as tokio_postgres::tls::MakeTlsConnect<tokio_postgres::Socket>>::Stream,
            >,
        ),
        tokio_postgres::Error,
    > {
        self.config.connect(self.tls.clone()).await
    }
}

fn load_roots(path: &Path) -> Result<RootCertStore, TargetError> {
    let pem = std::fs::read(path).map_err(|source| TargetError::RootCert { path: path.to_owned(), source })?;
    let mut roots = RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
        let cert = cert.map_err(|source| TargetError::RootCert { path: path.to_owned(), source })?;
        roots.add(cert).map_err(|_| TargetError::NoCertificate(path.to_owned()))?;
    }
    if roots.is_empty() {
        return Err(TargetError::NoCertificate(path.to_owned()));
    }
    Ok(roots)
}

fn connector(checks: Checks, roots: Option<RootCertStore>) -> Result<MakeRustlsConnect, TargetError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?;
    let verifier: Arc<dyn ServerCertVerifier> = match (checks, roots) {
        (Checks::Chain | Checks::ChainAndName, Some(roots)) => {
            let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| TargetError::Tls(rustls::Error::General(e.to_string())))?;
            if checks == Checks::ChainAndName { webpki } else { Arc::new(ChainOnly(webpki)) }
        }
        // A chain check without roots cannot be built: `checks` refuses it first.
        (Checks::Chain | Checks::ChainAndName, None) => {
            return Err(TargetError::Tls(rustls::Error::General("no root certificate".into())));
        }
        (Checks::Plain | Checks::OptionalUnverified | Checks::Unverified, _) => Arc::new(Unverified(provider)),
    };
    let config = builder.dangerous().with_custom_certificate_verifier(verifier).with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

/// `verify-ca`: the web PKI check, except that a certificate for another name passes.
/// The chain is checked before the name, so a name error means the chain was good.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.0.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// `require` (and `prefer`) without a root certificate, as libpq does them: the server's
/// certificate is taken as it comes; the handshake's signatures are still checked against
/// it, so the session is encrypted to whoever holds its key.
#[derive(Debug)]
struct Unverified(Arc<CryptoProvider>);

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const MODES: [SslMode; 5] =
        [SslMode::Disable, SslMode::Prefer, SslMode::Require, SslMode::VerifyCa, SslMode::VerifyFull];

    #[test]
    fn verify_modes_without_a_root_certificate_are_refused() {
        assert!(matches!(checks(SslMode::VerifyFull, false), Err(TargetError::NoRootCert(_))));
        assert!(matches!(checks(SslMode::VerifyCa, false), Err(TargetError::NoRootCert(_))));
        assert!(Target::parse("postgres://u@db.example/x?sslmode=verify-full").is_err());
    }

    #[test]
    fn a_root_certificate_makes_require_check_the_chain_as_libpq_does() {
        assert_eq!(checks(SslMode::Require, true).unwrap(), Checks::Chain);
        assert_eq!(checks(SslMode::Require, false).unwrap(), Checks::Unverified);
        assert_eq!(checks(SslMode::VerifyFull, true).unwrap(), Checks::ChainAndName);
    }

    #[test]
    fn unknown_and_plaintext_first_modes_are_refused() {
        assert!(SslMode::parse("allow").is_err());
        assert!(SslMode::parse("verify_full").is_err());
        assert!(Target::parse("postgres://u@h/x?sslmode=allow").is_err());
    }

    #[test]
    fn the_url_keeps_its_other_parameters_and_loses_the_tls_ones() {
        let s = split_url("postgres://u:p@h1:1,h2:2/db?sslmode=verify-full&target_session_attrs=read-write&sslrootcert=%2Fetc%2Fca.pem")
            .unwrap();
        assert_eq!(s.rest, "postgres://u:p@h1:1,h2:2/db?target_session_attrs=read-write");
        assert_eq!(s.sslmode.as_deref(), Some("verify-full"));
        assert_eq!(s.sslrootcert.as_deref(), Some("/etc/ca.pem"));
        let t = Target::parse(&format!("{}&sslmode=disable", s.rest)).unwrap();
        assert_eq!(t.checks, Checks::Plain);
        assert_eq!(t.config.get_hosts().len(), 2);
    }

    #[test]
    fn an_unset_sslmode_is_libpqs_prefer_and_key_value_strings_keep_theirs() {
        assert_eq!(Target::parse("postgres://u@h/x").unwrap().checks, Checks::OptionalUnverified);
        assert_eq!(Target::parse("host=h user=u sslmode=require").unwrap().checks, Checks::Unverified);
        assert_eq!(Target::parse("host=h user=u sslmode=disable").unwrap().checks, Checks::Plain);
    }

    #[test]
    fn a_root_certificate_file_that_is_missing_or_empty_is_refused_with_its_name() {
        let e = Target::parse("postgres://u@h/x?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem")
            .unwrap_err()
            .to_string();
        assert!(e.contains("/nonexistent/ca.pem"), "{e}");
        let empty = std::env::temp_dir().join(format!("sitrep-empty-{}.pem", uuid::Uuid::new_v4()));
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let url = with_root_cert("postgres://u@h/x?sslmode=verify-ca", &empty).unwrap();
        let e = Target::parse(&url).unwrap_err();
        assert!(matches!(e, TargetError::NoCertificate(_)), "{e}");
        std::fs::remove_file(empty).unwrap();
    }

    #[test]
    fn the_configured_root_certificate_is_the_default_of_a_url_and_never_overrides_its_own() {
        let root = Path::new("/etc/sitrep/db ca.pem");
        assert_eq!(
            with_root_cert("postgres://u@h/x", root).unwrap(),
            "postgres://u@h/x?sslrootcert=/etc/sitrep/db%20ca.pem"
        );
        let url = with_root_cert("postgres://u@h/x?sslmode=verify-full", root).unwrap();
        assert_eq!(split_url(&url).unwrap().sslrootcert.as_deref(), Some("/etc/sitrep/db ca.pem"));
        let own = "postgres://u@h/x?sslrootcert=/own.pem&sslmode=verify-ca";
        assert_eq!(with_root_cert(own, root).unwrap(), own);
        assert!(matches!(with_root_cert("host=h sslmode=require", root), Err(TargetError::RootCertNeedsUrl)));
    }

    #[test]
    fn a_root_certificate_makes_every_mode_but_disable_insist_on_tls() {
        let ca = rcgen::generate_simple_self_signed(vec!["db.example".into()]).unwrap();
        let path = std::env::temp_dir().join(format!("sitrep-ca-{}.pem", uuid::Uuid::new_v4()));
        std::fs::write(&path, ca.cert.pem()).unwrap();
        for mode in ["", "&sslmode=prefer", "&sslmode=require", "&sslmode=verify-ca", "&sslmode=verify-full"] {
            let url = format!("postgres://u@h/x?sslrootcert={}{mode}", path.display());
            let target = Target::parse(&url).unwrap();
            assert_eq!(target.config.get_ssl_mode(), WireMode::Require, "{mode}");
            assert!(target.checks >= Checks::Chain, "{mode}");
        }
        let target =
            Target::parse(&format!("postgres://u@h/x?sslrootcert={}&sslmode=disable", path.display())).unwrap();
        assert_eq!(target.config.get_ssl_mode(), WireMode::Disable);
        std::fs::remove_file(path).unwrap();
    }

    fn mode() -> impl Strategy<Value = SslMode> {
        proptest::sample::select(MODES.to_vec())
    }

    proptest! {
        /// Whatever the combination, the checks are never weaker than the mode names.
        #[test]
        fn checks_are_never_weaker_than_the_mode_asks(mode in mode(), has_root in any::<bool>()) {
            match checks(mode, has_root) {
                Err(_) => prop_assert!(matches!(mode, SslMode::VerifyCa | SslMode::VerifyFull) && !has_root),
                Ok(c) => {
                    let floor = match mode {
                        SslMode::Disable => Checks::Plain,
                        SslMode::Prefer => Checks::OptionalUnverified,
                        SslMode::Require => Checks::Unverified,
                        SslMode::VerifyCa => Checks::Chain,
                        SslMode::VerifyFull => Checks::ChainAndName,
                    };
                    prop_assert!(c >= floor, "{mode:?} gave {c:?}");
                    if mode == SslMode::Disable { prop_assert_eq!(c, Checks::Plain); }
                    if has_root && mode != SslMode::Disable { prop_assert!(c >= Checks::Chain); }
                }
            }
        }

        /// Any query: the TLS parameters come out (the last one wins), the others stay in
        /// their order, byte for byte.
        #[test]
        fn splitting_takes_out_exactly_the_tls_parameters(
            params in proptest::collection::vec(
                (proptest::sample::select(vec!["sslmode", "sslrootcert", "application_name", "target_session_attrs", "sslmodex", "xsslmode"]),
                 "[a-z0-9/._%-]{0,12}"),
                0..8,
            ),
        ) {
            let query: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let url = if query.is_empty() { "postgres://u@h/db".to_owned() } else { format!("postgres://u@h/db?{}", query.join("&")) };
            let Ok(split) = split_url(&url) else {
                // Only a broken percent-encoding of a TLS parameter may fail.
                prop_assert!(params.iter().any(|(k, v)| (*k == "sslmode" || *k == "sslrootcert") && decode(v, "x").is_err()));
                return Ok(());
            };
            let kept: Vec<String> = params.iter().filter(|(k, _)| *k != "sslmode" && *k != "sslrootcert").map(|(k, v)| format!("{k}={v}")).collect();
            let expected = if kept.is_empty() { "postgres://u@h/db".to_owned() } else { format!("postgres://u@h/db?{}", kept.join("&")) };
            prop_assert_eq!(&split.rest, &expected);
            let last = |key: &str| params.iter().rev().find(|(k, _)| *k == key).map(|(_, v)| decode(v, "x").unwrap());
            prop_assert_eq!(split.sslmode, last("sslmode"));
            prop_assert_eq!(split.sslrootcert, last("sslrootcert"));
        }
    }
}
