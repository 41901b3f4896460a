//! Configuration in layers: defaults, then a TOML file (`--config`), then the
//! environment (`SITREP_` prefix, `__` between levels, e.g. `SITREP_DATABASE__MAX_CONNECTIONS`;
//! `DATABASE_URL` is read too). Unknown keys are refused. Secrets are `SecretString`
//! and never printed. Every key is documented in `deploy/sitrep.example.toml`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sitrep_api::LoginPolicy;
use sitrep_auth::{PasswordPolicy, TokenConfig};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Where the server keeps what it creates: the TLS certificate (self-signed mode) and
    /// the token signing keys.
    pub data_dir: PathBuf,
    pub database: DatabaseSettings,
    pub tls: TlsSettings,
    pub auth: AuthSettings,
    pub http: HttpSettings,
    pub log: LogSettings,
    pub pictures: PictureSettings,
    pub delivery: sitrep_delivery::worker::WorkerOptions,
    /// `[access_log]`; `[audit]`, its earlier name, is still read (one of the two, in the
    /// file and the environment alike: both at once is a duplicate field).
    #[serde(alias = "audit")]
    pub access_log: AccessLogSettings,
    pub notifications: sitrep_delivery::notify::NotifyOptions,
    pub attachments: sitrep_api::attachments::AttachmentPolicy,
    pub console: ConsoleSettings,
    pub peers: sitrep_api::peers::PeerOptions,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsoleSettings {
    /// The IANA time zone the console shows dates and times in.
    pub time_zone: String,
}

impl Default for ConsoleSettings {
    fn default() -> Self {
        ConsoleSettings { time_zone: "Europe/Helsinki".into() }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PictureSettings {
    /// The deployment is accredited (Katakri/Julkri) to hold TL IV material. Even then TL IV
    /// never goes beyond `group_virt`. TL III–TL I are always refused.
    pub tl_iv_accredited: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            listen: SocketAddr::from(([127, 0, 0, 1], 8443)),
            data_dir: PathBuf::from(".local"),
            database: DatabaseSettings::default(),
            tls: TlsSettings::default(),
            auth: AuthSettings::default(),
            http: HttpSettings::default(),
            log: LogSettings::default(),
            pictures: PictureSettings::default(),
            delivery: Default::default(),
            access_log: AccessLogSettings::default(),
            attachments: Default::default(),
            console: ConsoleSettings::default(),
            notifications: Default::default(),
            peers: Default::default(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSettings {
    /// `postgres://user:password@host:port/db`: the role the server serves with. Also
    /// read from `DATABASE_URL`.
    pub url: Option<SecretString>,
    /// The owner's URL, used only to apply migrations. Without it, `url` migrates too
    /// (one role does everything; docs/access-log.md says what that gives up).
    pub migration_url: Option<SecretString>,
    /// A read-only URL (a streaming replica, or a balancer over several) for reads where
    /// a little staleness is acceptable: picture lists and search. Unset: the primary.
    pub read_url: Option<SecretString>,
    /// The root certificate (PEM) of the database servers' CA: the default `sslrootcert`
    /// of `url`, `migration_url` and `read_url`. `sslmode=verify-full` (or `verify-ca`) in a
    /// URL then checks the server against it (docs/deploy.md, "TLS to the database").
    pub ssl_root_cert: Option<PathBuf>,
    /// Connections in the replica pool of each process; default `max_connections`.
    pub read_max_connections: Option<usize>,
    pub max_connections: usize,
    /// How long a request waits for a connection before `503`.
    pub wait_timeout_ms: u64,
    /// `statement_timeout` of every connection.
    pub statement_timeout_ms: u64,
    /// The planner's `random_page_cost` on every connection: 1.1 for SSD storage (the
    /// picture list's filter indexes need it), 4 for spinning disks.
    pub random_page_cost: f64,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        DatabaseSettings {
            url: None,
            migration_url: None,
            read_url: None,
            ssl_root_cert: None,
            read_max_connections: None,
            max_connections: 16,
            wait_timeout_ms: 5_000,
            statement_timeout_ms: 10_000,
            random_page_cost: 1.1,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TlsMode {
    /// Create (once) and use a self-signed certificate under `data_dir/tls`.
    SelfSigned,
    /// Use `cert_file` and `key_file` (PEM).
    Files,
    /// Plain HTTP: only behind a TLS-terminating proxy on the same host.
    Off,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsSettings {
    pub mode: TlsMode,
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
}

impl Default for TlsSettings {
    fn default() -> Self {
        TlsSettings { mode: TlsMode::SelfSigned, cert_file: None, key_file: None }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSettings {
    /// Directory of the Ed25519 signing keys (`<kid>.pem`); default `data_dir/keys`.
    pub keys_dir: Option<PathBuf>,
    /// Key (base64 of 32 bytes) that seals TOTP secrets in the database; default
    /// `data_dir/secrets/totp-seal.key`, created at first start.
    pub totp_seal_key_file: Option<PathBuf>,
    /// The issuer shown in authenticator apps; default `Sitrep`.
    pub totp_issuer: Option<String>,
    pub tokens: TokenConfig,
    pub password: PasswordPolicy,
    pub login: LoginPolicy,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSettings {
    /// Worker threads; default: one per core.
    pub workers: Option<usize>,
    /// Seconds in-flight requests get to finish on shutdown.
    pub shutdown_timeout_secs: u64,
    /// Seconds between heartbeat comments on live streams.
    pub stream_heartbeat_secs: u64,
    /// Addresses or networks of balancers whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<String>,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            workers: None,
            shutdown_timeout_secs: 30,
            stream_heartbeat_secs: 15,
            trusted_proxies: Vec::new(),
        }
    }
}

/// The access log's signed checkpoints.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AccessLogSettings {
    /// Ed25519 key (PKCS#8 PEM) that signs checkpoints; default `data_dir/audit/checkpoint-key.pem`.
    pub checkpoint_key_file: Option<PathBuf>,
    /// Seconds between checkpoints (made only when the log grew); 0 turns them off.
    pub checkpoint_interval_secs: u64,
    /// Milliseconds between the sealer's passes for records of other processes (records of
    /// this process are sealed as soon as they are written).
    pub seal_interval_ms: u64,
}

impl Default for AccessLogSettings {
    fn default() -> Self {
        AccessLogSettings { checkpoint_key_file: None, checkpoint_interval_secs: 300, seal_interval_ms: 200 }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    pub format: LogFormat,
    /// A `tracing` filter, e.g. `info` or `sitrep_api=debug,info`. `RUST_LOG` overrides.
    pub level: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings { format: LogFormat::Pretty, level: "info,tokio_postgres=warn,refinery_core=warn".into() }
    }
}

/// Environment variables with the `SITREP_` prefix that belong to the scripts, not to
/// the server.
const SCRIPT_VARIABLES: [&str; 2] = ["pg_", "test_"];

impl Settings {
    /// Loads the layers and validates the result.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Settings> {
        let mut figment = Figment::new();
        if let Some(file) = file {
            if !file.exists() {
                anyhow::bail!("configuration file {} does not exist", file.display());
            }
            figment = figment.merge(Toml::file(file));
        }
        figment = figment
            .merge(
                Env::prefixed("SITREP_")
                    .filter(|k| !SCRIPT_VARIABLES.iter().any(|p| k.as_str().to_ascii_lowercase().starts_with(p)))
                    .split("__"),
            )
            .merge(Env::raw().only(&["DATABASE_URL"]).map(|_| "database.url".into()));
        let settings: Settings = figment.extract().map_err(|e| anyhow::anyhow!("configuration: {e}"))?;
        settings.validate()?;
        Ok(settings)
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        self.auth.password.check().map_err(anyhow::Error::msg)?;
        self.auth.login.check().map_err(anyhow::Error::msg)?;
        self.attachments.check().map_err(anyhow::Error::msg)?;
        if self.auth.tokens.access_ttl_secs == 0 || self.auth.tokens.access_ttl_secs > 900 {
            anyhow::bail!("auth.tokens.access_ttl_secs must be 1..=900");
        }
        if self.delivery.retry_scale <= 0.0 || self.delivery.poll_ms == 0 || self.delivery.batch <= 0 {
            anyhow::bail!("delivery.retry_scale, poll_ms and batch must be positive");
        }
        if self.database.max_connections == 0 || self.database.read_max_connections == Some(0) {
            anyhow::bail!("database.max_connections and read_max_connections must be at least 1");
        }
        if !(self.database.random_page_cost.is_finite() && self.database.random_page_cost > 0.0) {
            anyhow::bail!("database.random_page_cost must be a positive number");
        }
        sitrep_api::proxy::TrustedProxies::parse(&self.http.trusted_proxies).map_err(anyhow::Error::msg)?;
        let tz = &self.console.time_zone;
        let tz_chars = |c: char| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-' | '+');
        if tz.is_empty() || tz.len() > 64 || !tz.chars().all(tz_chars) || tz.starts_with('/') {
            anyhow::bail!("console.time_zone must be an IANA time zone name such as Europe/Helsinki");
        }
        self.notifications.check().map_err(anyhow::Error::msg)?;
        self.peers.check().map_err(anyhow::Error::msg)?;
        if self.tls.mode == TlsMode::Files && (self.tls.cert_file.is_none() || self.tls.key_file.is_none()) {
            anyhow::bail!("tls.mode = \"files\" needs tls.cert_file and tls.key_file");
        }
        Ok(())
    }

    /// The URL the server serves with, with `database.ssl_root_cert` as its default root
    /// certificate.
    pub fn database_url(&self) -> anyhow::Result<SecretString> {
        let url = self
            .database
            .url
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("no database: set DATABASE_URL or database.url"))?;
        self.with_root_cert(url)
    }

    /// The URL migrations run with: `database.migration_url`, else `database.url`.
    pub fn migration_url(&self) -> anyhow::Result<SecretString> {
        match &self.database.migration_url {
            Some(url) => self.with_root_cert(url),
            None => self.database_url(),
        }
    }

    /// `database.read_url`, if set.
    pub fn read_url(&self) -> anyhow::Result<Option<SecretString>> {
        self.database.read_url.as_ref().map(|url| self.with_root_cert(url)).transpose()
    }

    fn with_root_cert(&self, url: &SecretString) -> anyhow::Result<SecretString> {
        match &self.database.ssl_root_cert {
            Some(root) => Ok(sitrep_db::connect::with_root_cert(url.expose_secret(), root)?.into()),
            None => Ok(url.clone()),
        }
    }

    pub fn checkpoint_key_file(&self) -> PathBuf {
        self.access_log.checkpoint_key_file.clone().unwrap_or_else(|| self.data_dir.join("audit/checkpoint-key.pem"))
    }

    pub fn totp_seal_key_file(&self) -> PathBuf {
        self.auth.totp_seal_key_file.clone().unwrap_or_else(|| self.data_dir.join("secrets/totp-seal.key"))
    }

    /// The attachments' key-encryption key.
    pub fn attachment_key_file(&self) -> PathBuf {
        self.attachments.key_file.clone().unwrap_or_else(|| self.data_dir.join("secrets/attachments.key"))
    }

    /// The folder of the local attachment store.
    pub fn attachment_dir(&self) -> PathBuf {
        self.attachments.dir.clone().unwrap_or_else(|| self.data_dir.join("attachments"))
    }

    pub fn keys_dir(&self) -> PathBuf {
        self.auth.keys_dir.clone().unwrap_or_else(|| self.data_dir.join("keys"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from_toml(toml: &str) -> Result<Settings, Box<figment::Error>> {
        Figment::new().merge(Toml::string(toml)).extract().map_err(Box::new)
    }

    #[test]
    fn defaults_listen_on_loopback_8443_with_tls() {
        let s = from_toml("").unwrap();
        assert_eq!(s.listen.to_string(), "127.0.0.1:8443");
        assert_eq!(s.tls.mode, TlsMode::SelfSigned);
        assert!(s.validate().is_ok());
    }

    #[test]
    fn unknown_keys_are_refused_at_every_level() {
        assert!(from_toml("lisen = \"127.0.0.1:1\"").is_err());
        assert!(from_toml("[database]\nmax_conections = 3").is_err());
        assert!(from_toml("[auth.password]\nmemory = 3").is_err());
    }

    #[test]
    fn weak_settings_are_refused() {
        let s =
            from_toml("[auth.password]\nmemory_kib = 1024\niterations = 2\nmax_concurrent = 1\nqueue_timeout_ms = 10")
                .unwrap();
        assert!(s.validate().is_err());
        let s = from_toml("[auth.tokens]\nissuer = \"a\"\naudience = \"b\"\naccess_ttl_secs = 3600").unwrap();
        assert!(s.validate().is_err());
    }

    #[test]
    fn the_database_root_certificate_is_the_default_sslrootcert_of_every_url() {
        let s = from_toml(
            "[database]\nurl = \"postgres://a@db/x?sslmode=verify-full\"\n\
             read_url = \"postgres://a@replica/x?sslmode=verify-full&sslrootcert=/own.pem\"\n\
             ssl_root_cert = \"/etc/sitrep/db-ca.pem\"",
        )
        .unwrap();
        let url = s.database_url().unwrap();
        assert_eq!(url.expose_secret(), "postgres://a@db/x?sslmode=verify-full&sslrootcert=/etc/sitrep/db-ca.pem");
        assert_eq!(s.migration_url().unwrap().expose_secret(), url.expose_secret());
        let read = s.read_url().unwrap().unwrap();
        assert_eq!(read.expose_secret(), "postgres://a@replica/x?sslmode=verify-full&sslrootcert=/own.pem");
    }

    #[test]
    fn the_access_log_section_is_read_under_its_name_and_its_earlier_one() {
        let s = from_toml("[access_log]\ncheckpoint_interval_secs = 7").unwrap();
        assert_eq!(s.access_log.checkpoint_interval_secs, 7);
        let s = from_toml("[audit]\nseal_interval_ms = 9").unwrap();
        assert_eq!(s.access_log.seal_interval_ms, 9);
        assert!(from_toml("[access_log]\ncheckpoint_intervall_secs = 7").is_err());
    }

    #[test]
    fn secrets_are_not_printed() {
        let s = from_toml("[database]\nurl = \"postgres://u:hunter2-secret@localhost/db\"").unwrap();
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
