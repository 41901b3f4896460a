//! TLS to the database: the test cluster serves TLS with a certificate from a throwaway CA
//! made here, and the service's `sslmode` is honoured — `verify-full` checks the chain and
//! the host name, `verify-ca` the chain only, `require` encrypts without checking, and a
//! role that the cluster admits only over TLS is refused in plain text.

use std::path::PathBuf;
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use tokio::sync::OnceCell;

use crate::helpers::pictures::{cast, content, published};
use crate::helpers::{TestApp, admin, as_service_role, fresh_database, test_settings};

/// The role `deploy/test` admits over TLS only (`hostssl`), never in plain text.
const TLS_ONLY_ROLE: &str = "sitrep_tls_test";

struct Authority {
    /// The CA that signed the cluster's certificate (for 127.0.0.1 and localhost).
    ca: PathBuf,
    /// A CA that signed nothing the cluster shows.
    other_ca: PathBuf,
}

static TLS: OnceCell<Authority> = OnceCell::const_new();

fn new_ca(name: &str) -> (rcgen::Certificate, KeyPair) {
    let mut params = CertificateParams::new(Vec::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    let key = KeyPair::generate().unwrap();
    (params.self_signed(&key).unwrap(), key)
}

fn write_temp(name: &str, pem: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("sitrep-test-{}-{name}", uuid::Uuid::new_v4().simple()));
    std::fs::write(&path, pem).unwrap();
    path
}

/// Writes `pem` into the cluster's data folder as a file of the cluster's OS user, mode
/// 0600 (PostgreSQL refuses a key others can read). The tests run as that user, or as root.
fn write_server_file(dir: &std::path::Path, name: &str, pem: &str) -> String {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let owner = std::fs::metadata(dir).unwrap();
    let path = dir.join(name);
    let _ = std::fs::remove_file(&path);
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path).unwrap();
    std::io::Write::write_all(&mut file, pem.as_bytes()).unwrap();
    std::os::unix::fs::chown(&path, Some(owner.uid()), Some(owner.gid())).unwrap();
    path.to_str().unwrap().to_owned()
}

/// Turns TLS on in the test cluster with a certificate of a CA made for this run (once per
/// run; a cluster kept from an earlier run gets the new certificate).
async fn authority() -> &'static Authority {
    TLS.get_or_init(|| async {
        let (ca, ca_key) = new_ca("Sitrep test database CA");
        let (other, _) = new_ca("Some other CA");
        let server_key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, "sitrep test cluster");
        let server = params.signed_by(&server_key, &ca, &ca_key).unwrap();
        let client = admin().await;
        let dir: String = client.query_one("SHOW data_directory", &[]).await.unwrap().get(0);
        let dir = std::path::Path::new(&dir);
        let cert_file = write_server_file(dir, "sitrep-test-server.crt", &server.pem());
        let key_file = write_server_file(dir, "sitrep-test-server.key", &server_key.serialize_pem());
        client.batch_execute(&format!("ALTER SYSTEM SET ssl_cert_file = '{cert_file}'")).await.unwrap();
        client.batch_execute(&format!("ALTER SYSTEM SET ssl_key_file = '{key_file}'")).await.unwrap();
        client.batch_execute("ALTER SYSTEM SET ssl = on").await.unwrap();
        client.batch_execute("SELECT pg_reload_conf()").await.unwrap();
        client
            .batch_execute(&format!(
                "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{TLS_ONLY_ROLE}') THEN \
                 CREATE ROLE {TLS_ONLY_ROLE} LOGIN; END IF; END $$"
            ))
            .await
            .unwrap();
        let authority =
            Authority { ca: write_temp("db-ca.pem", &ca.pem()), other_ca: write_temp("other-ca.pem", &other.pem()) };
        // The postmaster reloads on its own time: wait until new connections show the new
        // certificate.
        let probe = with_params(&crate::helpers::database_url("postgres"), "sslmode=verify-full", &authority.ca);
        for attempt in 0.. {
            match sitrep_db::connect::Target::parse(&probe).unwrap().connect().await {
                Ok(_) => break,
                Err(e) if attempt < 100 => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("the cluster does not serve the new certificate: {e:#}"),
            }
        }
        authority
    })
    .await
}

/// `url` with `params` and the root certificate `root`.
fn with_params(url: &str, params: &str, root: &std::path::Path) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    sitrep_db::connect::with_root_cert(&format!("{url}{sep}{params}"), root).unwrap()
}

/// The same database reached as `host` (resolved by `hostaddr=127.0.0.1`): a name the
/// cluster's certificate does not carry.
fn as_host(url: &str, host: &str) -> String {
    url.replacen("@127.0.0.1:", &format!("@{host}:"), 1)
}

/// An error with its causes, as the service's log shows them.
fn chain(error: &tokio_postgres::Error) -> String {
    let mut text = error.to_string();
    let mut cause = std::error::Error::source(error);
    while let Some(e) = cause {
        text.push_str(&format!(": {e}"));
        cause = e.source();
    }
    text
}

/// Whether this connection is encrypted, from the server's side.
async fn encrypted(client: &tokio_postgres::Client) -> bool {
    client.query_one("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", &[]).await.unwrap().get(0)
}

/// Starts the service with its URLs (serving and migrating) changed by `change`, and
/// returns why it refused to start.
async fn build_error(change: impl Fn(&str) -> String, root: Option<PathBuf>) -> String {
    let db = fresh_database().await;
    let dir = std::env::temp_dir().join(format!("sitrep-test-{}", uuid::Uuid::new_v4().simple()));
    let mut settings = test_settings(&db, &dir);
    settings.database.url = Some(change(&as_service_role(&db)).into());
    settings.database.migration_url = Some(change(&db).into());
    settings.database.ssl_root_cert = root;
    match sitrep_server::Application::build(settings).await {
        Ok(_) => panic!("the service started"),
        Err(e) => format!("{e:#}"),
    }
}

#[tokio::test]
async fn the_service_reaches_its_database_with_verify_full_and_every_connection_is_encrypted() {
    let tls = authority().await;
    let ca = tls.ca.clone();
    let app = TestApp::spawn_with(move |s| {
        for url in [&mut s.database.url, &mut s.database.migration_url] {
            let plain: String = secrecy::ExposeSecret::expose_secret(url.as_ref().unwrap()).to_owned();
            *url = Some(format!("{plain}?sslmode=verify-full").into());
        }
        s.database.ssl_root_cert = Some(ca);
    })
    .await;
    let cast = cast(&app).await;
    let id = published(&app, &cast, &content("group", "AMBER")).await;
    let res = app.get(&format!("/api/v1/pictures/{id}"), Some(&cast.b_reader)).await;
    assert_eq!(res.status(), 200);
    let db = app.pool.get().await.unwrap();
    let row = db
        .query_one(
            "SELECT count(*), count(*) FILTER (WHERE s.ssl) FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) \
             WHERE a.datname = current_database() AND a.application_name = 'sitrep' AND a.usename = 'sitrep_app'",
            &[],
        )
        .await
        .unwrap();
    let (all, encrypted): (i64, i64) = (row.get(0), row.get(1));
    assert!(all >= 2, "the service's pools are connected ({all})");
    assert_eq!(encrypted, all, "every connection of the service is TLS");
}

#[tokio::test]
async fn verify_full_refuses_a_server_whose_certificate_names_another_host_and_verify_ca_accepts_it() {
    let tls = authority().await;
    let elsewhere = |url: &str| format!("{}?hostaddr=127.0.0.1", as_host(url, "db.sitrep.invalid"));
    let error = build_error(|url| format!("{}&sslmode=verify-full", elsewhere(url)), Some(tls.ca.clone())).await;
    assert!(error.contains("TLS") && error.contains("not valid for name"), "a clear refusal: {error}");
    assert!(!error.contains("sitrep_test@"), "the URL is never in the error: {error}");
    let elsewhere = elsewhere(&as_service_role(&fresh_database().await));
    // The chain alone is what verify-ca checks: the same server is accepted.
    let (client, connection) =
        sitrep_db::connect::Target::parse(&with_params(&elsewhere, "sslmode=verify-ca", &tls.ca))
            .unwrap()
            .connect()
            .await
            .unwrap();
    tokio::spawn(connection);
    assert!(encrypted(&client).await);
}

#[tokio::test]
async fn verify_full_and_verify_ca_refuse_a_server_signed_by_another_ca() {
    let tls = authority().await;
    let error = build_error(|url| format!("{url}?sslmode=verify-full"), Some(tls.other_ca.clone())).await;
    let db = as_service_role(&fresh_database().await);
    assert!(error.contains("TLS") && error.contains("UnknownIssuer"), "a clear refusal: {error}");
    let verify_ca = with_params(&db, "sslmode=verify-ca", &tls.other_ca);
    let error = sitrep_db::connect::Target::parse(&verify_ca).unwrap().connect().await.map(|_| ()).unwrap_err();
    assert!(chain(&error).contains("UnknownIssuer"), "{}", chain(&error));
    // As in libpq, a root certificate makes `require` check the chain too.
    let require = with_params(&db, "sslmode=require", &tls.other_ca);
    assert!(sitrep_db::connect::Target::parse(&require).unwrap().connect().await.is_err());
}

#[tokio::test]
async fn require_encrypts_without_a_root_certificate_and_disable_does_not() {
    authority().await;
    let db = as_service_role(&fresh_database().await);
    for (mode, tls) in [("require", true), ("prefer", true), ("disable", false)] {
        let pool = sitrep_db::pool(&format!("{db}?sslmode={mode}"), &Default::default()).unwrap();
        let client = pool.get().await.unwrap();
        assert_eq!(encrypted(&client).await, tls, "sslmode={mode}");
    }
}

#[tokio::test]
async fn a_role_admitted_only_over_tls_is_refused_in_plain_text_and_let_in_with_verify_full() {
    let tls = authority().await;
    let db = fresh_database().await.replacen("sitrep_test@", &format!("{TLS_ONLY_ROLE}@"), 1);
    let plain = sitrep_db::connect::Target::parse(&format!("{db}?sslmode=disable")).unwrap();
    let error = plain.connect().await.map(|_| ()).unwrap_err();
    assert!(chain(&error).contains("no encryption"), "refused by pg_hba: {}", chain(&error));
    let (client, connection) = sitrep_db::connect::Target::parse(&with_params(&db, "sslmode=verify-full", &tls.ca))
        .unwrap()
        .connect()
        .await
        .unwrap();
    tokio::spawn(connection);
    assert!(encrypted(&client).await);
}

/// Someone in the middle answers "no TLS" to the client's TLS request and relays the rest.
/// With a root certificate configured (`database.ssl_root_cert`) and no `sslmode` in the
/// URL, the service insists on TLS: it refuses to connect rather than talk plain text
/// while its log says the certificate chain is checked.
#[tokio::test]
async fn a_configured_root_certificate_is_never_downgraded_to_plain_text_by_someone_in_the_middle() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let tls = authority().await;
    let db = as_service_role(&fresh_database().await);
    let real_port: u16 = db.split("@127.0.0.1:").nth(1).unwrap().split('/').next().unwrap().parse().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_port = listener.local_addr().unwrap().port();
    let relay = tokio::spawn(async move {
        loop {
            let Ok((mut client, _)) = listener.accept().await else { return };
            tokio::spawn(async move {
                let mut first = [0u8; 8];
                if client.read_exact(&mut first).await.is_err() {
                    return;
                }
                let Ok(mut server) = tokio::net::TcpStream::connect(("127.0.0.1", real_port)).await else { return };
                // SSLRequest: length 8, code 80877103.
                if first == [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f] {
                    let _ = client.write_all(b"N").await;
                } else {
                    let _ = server.write_all(&first).await;
                }
                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
            });
        }
    });
    let url = db.replacen(&format!("@127.0.0.1:{real_port}"), &format!("@127.0.0.1:{proxy_port}"), 1);
    let url = sitrep_db::connect::with_root_cert(&url, &tls.ca).unwrap();
    let target = sitrep_db::connect::Target::parse(&url).unwrap();
    assert!(target.checks >= sitrep_db::connect::Checks::Chain, "{}", target.checks);
    match target.connect().await {
        Err(_) => {}
        Ok((client, conn)) => {
            tokio::spawn(conn);
            assert!(encrypted(&client).await, "plain text although '{}' was reported", target.checks);
        }
    }
    relay.abort();
}
