//! Spawning the application and seeding it. Every test gets its own database and its own
//! server on a free loopback port. The picture fixtures are in [`pictures`].
//!
//! With `TEST_LOG` set, the servers under test log into the test's output (filtered by
//! `RUST_LOG` or the default log level): the test harness captures it and prints it for
//! the tests that fail (all of it with `--nocapture`). Without it they log nothing.

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::DecodePrivateKey;
use reqwest::{Client, Response};
use serde_json::{Value, json};
use sitrep_db::Pool;
use sitrep_domain::RoleSet;
use sitrep_server::config::TlsMode;
use sitrep_server::{Application, Settings};
use sitrep_types::{Reach, Role};
use tokio::sync::OnceCell;
use tokio_postgres::NoTls;
use uuid::Uuid;

pub mod access_log;
pub mod admin;
pub mod attachments;
pub mod inbox;
pub mod mail;
pub mod opentaxii;
pub mod pictures;
pub mod process;
pub mod receiver;
pub mod stream;
pub mod taxii;
pub mod world;

static TEMPLATE: OnceCell<String> = OnceCell::const_new();
/// The databases [`TestApp::spawn_with`] made, by name, with how many servers under test
/// use each now. The last of them to go drops the database, so that a whole run does not
/// leave hundreds of databases (and their copies on the standby) on the disk.
static OWNED: std::sync::Mutex<Option<std::collections::HashMap<String, usize>>> = std::sync::Mutex::new(None);
static LOGGING: std::sync::Once = std::sync::Once::new();

/// Sends the servers' logs to the output of the test that runs them, when `TEST_LOG` is
/// set (once per test binary, with the first server's log settings).
fn init_logging(settings: &Settings) {
    LOGGING.call_once(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            sitrep_server::telemetry::init_with(&settings.log, || TestOutput);
        }
    });
}

/// Writes through `print!`, which the test harness captures per test (threads a test
/// spawns, such as the server's workers, write into that test's capture too).
struct TestOutput;

impl std::io::Write for TestOutput {
    // `print!` is what the harness captures; writing to `stdout()` directly would not be.
    #[allow(clippy::print_stdout)]
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        print!("{}", String::from_utf8_lossy(buf));
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::Write::flush(&mut std::io::stdout())
    }
}

/// The administrative URL of the test cluster (set by `deploy/test`).
fn admin_url() -> String {
    std::env::var("SITREP_TEST_DATABASE_URL")
        .expect("SITREP_TEST_DATABASE_URL is not set: run the tests with deploy/test")
}

fn with_database(url: &str, db: &str) -> String {
    let (base, _) = url.rsplit_once('/').unwrap();
    format!("{base}/{db}")
}

pub async fn admin() -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(&admin_url(), NoTls).await.unwrap();
    tokio::spawn(connection);
    client
}

/// A migrated template database, named after the migrations it holds, made once per
/// cluster under an advisory lock (safe across test processes).
async fn template() -> String {
    TEMPLATE
        .get_or_init(|| async {
            let migrations = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
            let mut files: Vec<PathBuf> = std::fs::read_dir(&migrations).unwrap().map(|e| e.unwrap().path()).collect();
            files.sort();
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            for f in &files {
                std::hash::Hash::hash(&std::fs::read(f).unwrap(), &mut hasher);
            }
            let name = format!("sitrep_tpl_{:016x}", std::hash::Hasher::finish(&hasher));
            let client = admin().await;
            client.execute("SELECT pg_advisory_lock(4242)", &[]).await.unwrap();
            let exists = client.query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name]).await.unwrap();
            if exists.is_none() {
                let building = format!("{name}_building");
                client.batch_execute(&format!("DROP DATABASE IF EXISTS {building}")).await.unwrap();
                client.batch_execute(&format!("CREATE DATABASE {building}")).await.unwrap();
                sitrep_db::migrate::run(&with_database(&admin_url(), &building)).await.unwrap();
                // The migrations created the service role (once per cluster); the servers
                // under test log in as it (deploy/test lets it in without a password).
                client.batch_execute("ALTER ROLE sitrep_app LOGIN").await.unwrap();
                client.batch_execute(&format!("ALTER DATABASE {building} RENAME TO {name}")).await.unwrap();
            }
            client.execute("SELECT pg_advisory_unlock(4242)", &[]).await.unwrap();
            name
        })
        .await
        .clone()
}

/// The URL of database `db` in the test cluster.
pub fn database_url(db: &str) -> String {
    with_database(&admin_url(), db)
}

/// A fresh database cloned from the template; returns its URL.
pub async fn fresh_database() -> String {
    let template = template().await;
    let name = format!("sitrep_test_{}", Uuid::new_v4().simple());
    admin().await.batch_execute(&format!("CREATE DATABASE {name} TEMPLATE {template}")).await.unwrap();
    with_database(&admin_url(), &name)
}

pub struct TestApp {
    pub address: String,
    /// The test database, as the superuser.
    pub db_url: String,
    pub client: Client,
    pub pool: Pool,
    pub data_dir: PathBuf,
    pub handle: actix_web::dev::ServerHandle,
    /// Organisations seeded for the test, by code.
    pub orgs: std::collections::HashMap<String, Uuid>,
}

/// A user seeded for a test, with its password.
#[derive(Clone, Debug)]
pub struct TestUser {
    pub id: Uuid,
    pub username: String,
    pub password: String,
}

/// `url` with the service role `sitrep_app` instead of the superuser.
pub fn as_service_role(url: &str) -> String {
    url.replacen("sitrep_test@", "sitrep_app@", 1)
}

/// Settings of a server under test: it serves as the service role `sitrep_app` and
/// migrates as the superuser, as `deploy/start` sets it up.
pub fn test_settings(db_url: &str, data_dir: &Path) -> Settings {
    let mut s =
        Settings { listen: "127.0.0.1:0".parse().unwrap(), data_dir: data_dir.to_path_buf(), ..Default::default() };
    s.database.url = Some(as_service_role(db_url).into());
    s.database.migration_url = Some(db_url.to_owned().into());
    s.access_log.checkpoint_interval_secs = 0;
    s.database.max_connections = 8;
    s.tls.mode = TlsMode::SelfSigned;
    s.http.workers = Some(2);
    s.http.shutdown_timeout_secs = 5;
    s
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    /// Spawns with changed settings; seeds organisations A and B (members), V (VIRT),
    /// R (RAS contact point) and S (the secretariat's).
    pub async fn spawn_with(change: impl FnOnce(&mut Settings)) -> TestApp {
        let db_url = fresh_database().await;
        owned(|dbs| dbs.insert(database_name(&db_url).to_owned(), 0));
        let mut app = Self::spawn_on(&db_url, change).await;
        for (code, reach) in [
            ("A", Reach::Member),
            ("B", Reach::Member),
            ("V", Reach::Virt),
            ("R", Reach::RasContactPoint),
            ("S", Reach::Member),
        ] {
            let id = app.seed_org(&format!("ORG-{code}"), reach).await;
            app.orgs.insert(code.to_owned(), id);
        }
        app
    }

    /// Spawns on an existing database, seeding nothing.
    pub async fn spawn_on(db_url: &str, change: impl FnOnce(&mut Settings)) -> TestApp {
        let db_url = db_url.to_owned();
        owned(|dbs| dbs.get_mut(database_name(&db_url)).map(|users| *users += 1));
        let data_dir = std::env::temp_dir().join(format!("sitrep-test-{}", Uuid::new_v4().simple()));
        let mut settings = test_settings(&db_url, &data_dir);
        change(&mut settings);
        init_logging(&settings);
        let app = Application::build(settings).await.expect("application builds");
        let port = app.port();
        let handle = app.handle();
        tokio::spawn(app.run_until_stopped());
        let cert = std::fs::read(data_dir.join("tls/cert.pem")).unwrap();
        let client = Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&cert).unwrap())
            .https_only(true)
            .redirect(reqwest::redirect::Policy::none())
            // The server closes a connection idle for 5 s (actix's keep-alive). A pooled
            // connection reused at that moment fails the request (`IncompleteMessage`):
            // a test that worked for seconds between two requests (encoding a large image
            // in a debug build) failed so now and then. Idle connections are left at 2 s.
            .pool_idle_timeout(std::time::Duration::from_secs(2))
            .build()
            .unwrap();
        let pool =
            sitrep_db::pool(&db_url, &sitrep_db::PoolOptions { max_connections: 4, ..Default::default() }).unwrap();
        TestApp {
            address: format!("https://127.0.0.1:{port}"),
            db_url: db_url.clone(),
            client,
            pool,
            data_dir,
            handle,
            orgs: Default::default(),
        }
    }

    pub fn org(&self, code: &str) -> Uuid {
        self.orgs[code]
    }

    pub async fn seed_org(&self, code: &str, reach: Reach) -> Uuid {
        let org = sitrep_domain::account::NewOrganisation::try_from(sitrep_types::CreateOrganisation {
            code: code.into(),
            name: sitrep_types::LocalizedText { en: Some(format!("Organisation {code}")), ..Default::default() },
            reach,
        })
        .unwrap();
        let client = self.pool.get().await.unwrap();
        let id = Uuid::new_v4();
        sitrep_db::accounts::insert_organisation(&client, id, &org).await.unwrap();
        id
    }

    /// A user with one membership of `org` holding `roles`.
    pub async fn seed_user(&self, username: &str, org: &str, roles: &[Role]) -> TestUser {
        let password = format!("{username}-correct-horse-battery");
        let hasher = sitrep_auth::PasswordHasher::new(&Default::default()).unwrap();
        let hash = hasher.hash(&password).await.unwrap();
        let client = self.pool.get().await.unwrap();
        let id = Uuid::new_v4();
        let user = sitrep_db::accounts::insert_user(&client, id, username, username, &hash).await.unwrap();
        // The person's own password, not a one-time one.
        sitrep_db::accounts::set_own_password(&client, id, &hash).await.unwrap();
        let roles: RoleSet = roles.iter().copied().collect();
        sitrep_db::accounts::insert_membership(&client, Uuid::new_v4(), &user, self.org(org), roles, None, None)
            .await
            .unwrap();
        TestUser { id, username: username.to_owned(), password }
    }

    /// A person's account as the secretariat's scope reaches it: what the database's
    /// changes of an account take (tests seed and tamper as the secretariat would).
    pub async fn person(&self, id: Uuid) -> sitrep_db::scope::InScope<sitrep_db::accounts::UserRow> {
        let client = self.pool.get().await.unwrap();
        sitrep_db::accounts::lock_user(&client, sitrep_domain::AdminScope::All, id).await.unwrap().expect("a person")
    }

    /// Gives the person one more membership, of `org` with `roles`, as the database would
    /// take it from the secretariat.
    pub async fn add_membership(&self, user: Uuid, org: Uuid, roles: &[Role]) -> sitrep_types::Membership {
        let client = self.pool.get().await.unwrap();
        let roles: RoleSet = roles.iter().copied().collect();
        let person = self.person(user).await;
        sitrep_db::accounts::insert_membership(&client, Uuid::new_v4(), &person, org, roles, None, None).await.unwrap()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn post_json(&self, path: &str, token: Option<&str>, body: &Value) -> Response {
        let mut req = self.client.post(self.url(path)).json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.unwrap()
    }

    pub async fn patch_json(&self, path: &str, token: &str, body: &Value) -> Response {
        self.client.patch(self.url(path)).bearer_auth(token).json(body).send().await.unwrap()
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        let mut req = self.client.get(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.unwrap()
    }

    pub async fn login_response(&self, username: &str, password: &str) -> Response {
        self.post_json("/api/v1/auth/login", None, &json!({"username": username, "password": password})).await
    }

    /// Logs in and returns the token pair as JSON.
    pub async fn login(&self, user: &TestUser) -> Value {
        let res = self.login_response(&user.username, &user.password).await;
        assert_eq!(res.status(), 200, "login of {}", user.username);
        res.json().await.unwrap()
    }

    /// Logs in and returns the access token.
    pub async fn token(&self, user: &TestUser) -> String {
        self.login(user).await["access_token"].as_str().unwrap().to_owned()
    }

    /// The server's active signing key, to mint tokens by hand.
    pub fn signing_key(&self) -> (String, SigningKey) {
        let dir = self.data_dir.join("keys");
        let path = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).max().unwrap();
        let kid = path.file_stem().unwrap().to_str().unwrap().to_owned();
        let key = SigningKey::from_pkcs8_pem(&std::fs::read_to_string(&path).unwrap()).unwrap();
        (kid, key)
    }

    /// Seals every committed access-log record into the chain now (the server's sealer
    /// does so within milliseconds; tests that read `access_log` must not race it).
    pub async fn seal_log(&self) {
        sitrep_db::access_log::seal_all(&mut self.pool.get().await.unwrap()).await.unwrap();
    }

    /// Makes every insert into the access log fail from now on, as a full disk or a
    /// broken table would.
    pub async fn refuse_log_inserts(&self) {
        self.pool
            .get()
            .await
            .unwrap()
            .batch_execute(
                "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'log refused'; END $$; \
                 CREATE TRIGGER refuse BEFORE INSERT ON access_log_pending FOR EACH ROW EXECUTE FUNCTION refuse();",
            )
            .await
            .unwrap();
    }

    /// Access-log records of one request, by its `X-Request-Id`.
    pub async fn audit_records(&self, request_id: &str) -> Vec<AuditRow> {
        self.seal_log().await;
        let client = self.pool.get().await.unwrap();
        let rows = client
            .query(
                "SELECT action, outcome, reason, http_status, actor_id, actor_name, organisation_id, object_type, object_id, \
                 object_ids, actor_type, client_addr::text FROM access_log WHERE request_id = $1 ORDER BY seq",
                &[&request_id],
            )
            .await
            .unwrap();
        rows.iter()
            .map(|r| AuditRow {
                action: r.get(0),
                outcome: r.get(1),
                reason: r.get(2),
                http_status: r.get(3),
                actor_id: r.get(4),
                actor_name: r.get(5),
                organisation_id: r.get(6),
                object_type: r.get(7),
                object_id: r.get(8),
                object_ids: r.get(9),
                actor_type: r.get(10),
                client_addr: r.get(11),
            })
            .collect()
    }

    /// The one access-log record of the request that produced `res`.
    pub async fn audit_of(&self, res: &Response) -> AuditRow {
        self.audit_of_id(&request_id(res)).await
    }

    /// The one access-log record of the request with this id.
    pub async fn audit_of_id(&self, id: &str) -> AuditRow {
        let mut rows = self.audit_records(id).await;
        assert_eq!(rows.len(), 1, "exactly one access-log record for request {id}: {rows:?}");
        rows.remove(0)
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        drop(handle.stop(false));
        let _ = std::fs::remove_dir_all(&self.data_dir);
        let name = database_name(&self.db_url).to_owned();
        let last = owned(|dbs| match dbs.get_mut(&name) {
            Some(users) if *users > 1 => {
                *users -= 1;
                false
            }
            Some(_) => dbs.remove(&name).is_some(),
            None => false,
        });
        // A failed test's database is kept to be looked at.
        if last && !std::thread::panicking() {
            drop_database(name);
        }
    }
}

fn owned<T>(f: impl FnOnce(&mut std::collections::HashMap<String, usize>) -> T) -> T {
    let mut guard = OWNED.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    f(guard.get_or_insert_with(Default::default))
}

/// The database's name in a URL of the test cluster.
fn database_name(url: &str) -> &str {
    let db = url.rsplit_once('/').map_or(url, |(_, db)| db);
    db.split_once('?').map_or(db, |(db, _)| db)
}

/// Drops a test database, closing the connections still open to it (the stopping
/// server's pool, a worker process). It runs on a thread of its own: `Drop` cannot await.
fn drop_database(name: String) {
    let dropped = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        runtime.block_on(async {
            let (client, connection) = tokio_postgres::connect(&admin_url(), NoTls).await?;
            tokio::spawn(connection);
            client.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await
        })?;
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
    })
    .join();
    if let Ok(Err(e)) = dropped {
        eprintln!("could not drop a test database: {e}");
    }
}

#[derive(Debug, Clone)]
pub struct AuditRow {
    pub action: String,
    pub outcome: String,
    pub reason: Option<String>,
    pub http_status: i16,
    pub actor_id: Option<Uuid>,
    pub actor_name: Option<String>,
    pub organisation_id: Option<Uuid>,
    pub object_type: Option<String>,
    pub object_id: Option<String>,
    pub object_ids: Option<Vec<Uuid>>,
    pub actor_type: String,
    pub client_addr: Option<String>,
}

pub fn request_id(res: &Response) -> String {
    res.headers().get("x-request-id").expect("X-Request-Id on every response").to_str().unwrap().to_owned()
}

/// Signs `claims` with `key` under `header`, as an attacker or a test would.
pub fn sign_jwt(key: &SigningKey, header: &Value, claims: &Value) -> String {
    use ed25519_dalek::Signer;
    let h = B64.encode(header.to_string());
    let c = B64.encode(claims.to_string());
    let sig = key.sign(format!("{h}.{c}").as_bytes());
    format!("{h}.{c}.{}", B64.encode(sig.to_bytes()))
}

/// Asserts a problem+json body and returns it.
pub async fn problem(res: Response, status: u16) -> Value {
    assert_eq!(res.status().as_u16(), status);
    let ct = res.headers().get("content-type").unwrap().to_str().unwrap().to_owned();
    assert_eq!(ct, "application/problem+json");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], status);
    assert!(body["request_id"].is_string());
    body
}

/// A test's own HTTPS server on loopback (a webhook receiver, a TAXII peer): a listener on
/// a free port, and a TLS 1.3/1.2 configuration under a new self-signed certificate kept in
/// `dir/name` (`cert` is its PEM file, for the client under test to trust).
pub struct OwnHttps {
    pub listener: std::net::TcpListener,
    pub port: u16,
    pub config: rustls::ServerConfig,
    pub cert: PathBuf,
}

impl OwnHttps {
    pub fn new(dir: &Path, name: &str) -> OwnHttps {
        let (cert, key) = sitrep_server::tls::self_signed(&dir.join(name)).unwrap();
        let certs = rustls_pemfile::certs(&mut std::fs::read(&cert).unwrap().as_slice())
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = rustls_pemfile::private_key(&mut std::fs::read(&key).unwrap().as_slice()).unwrap().unwrap();
        let config =
            rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(rustls::crypto::ring::default_provider()))
                .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(certs, key)
                .unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        OwnHttps { listener, port, config, cert }
    }
}
