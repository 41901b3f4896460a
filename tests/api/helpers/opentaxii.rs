//! OpenTAXII 0.9.3, EclecticIQ's production TAXII 2.1 server, as a peer of the tests: on a
//! database of its own in the test cluster, served over HTTPS on loopback by gunicorn,
//! set up and filled through `deploy/lib/opentaxii.sh` (the script the benchmark uses).
//! `deploy/test` installs it and names its virtual environment in
//! `SITREP_TEST_OPENTAXII_VENV`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use uuid::Uuid;

use crate::helpers::taxii::ACCEPT;

/// A running OpenTAXII with one collection; stopped (its folder removed) when dropped.
pub struct OpenTaxii {
    /// `https://127.0.0.1:<port>/taxii2/<api root id>/`
    pub api_root: String,
    pub collection_id: String,
    /// Its administrator's name and password (HTTP Basic).
    pub user: String,
    pub password: String,
    /// The PEM of its self-signed certificate.
    pub cert_pem: String,
    dir: PathBuf,
    child: Child,
    client: reqwest::Client,
    token: String,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/lib/opentaxii.sh")
}

fn venv() -> String {
    std::env::var("SITREP_TEST_OPENTAXII_VENV").expect(
        "SITREP_TEST_OPENTAXII_VENV is not set: run the tests with deploy/test, which installs OpenTAXII for them",
    )
}

/// Runs `deploy/lib/opentaxii.sh ARGS` and returns its standard output.
fn run(args: &[&str]) -> String {
    let out = Command::new("bash")
        .arg(script())
        .args(args)
        .env("OPENTAXII_VENV", venv())
        .stdin(Stdio::null())
        .output()
        .expect("deploy/lib/opentaxii.sh runs");
    assert!(
        out.status.success(),
        "deploy/lib/opentaxii.sh {} failed: {}",
        args.first().unwrap(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

impl OpenTaxii {
    /// Sets up a new OpenTAXII with a collection holding `objects` (in this order of
    /// `date_added`) and starts it.
    pub async fn start(objects: &[Value]) -> OpenTaxii {
        let db = format!("sitrep_test_opentaxii_{}", Uuid::new_v4().simple());
        super::admin().await.batch_execute(&format!("CREATE DATABASE {db}")).await.unwrap();
        let dir = std::env::temp_dir().join(format!("sitrep-test-{db}"));
        std::fs::create_dir_all(&dir).unwrap();
        // Removed if anything below fails (it holds the token secret).
        let mut guard = Removed(Some(dir.clone()));
        let d = dir.to_str().unwrap().to_owned();
        run(&["configure", &d, &super::database_url(&db)]);
        let (user, password) = ("peer".to_owned(), format!("opentaxii-{}", Uuid::new_v4().simple()));
        let setup: Value =
            serde_json::from_str(&run(&["setup", &d, &user, &password, "election-week", "election-week"])).unwrap();
        let root = setup["api_root_id"].as_str().unwrap().to_owned();
        let collection_id = setup["collection_id"].as_str().unwrap().to_owned();
        let token = setup["token"].as_str().unwrap().to_owned();
        let file = dir.join("objects.jsonl");
        std::fs::write(&file, objects.iter().map(|o| format!("{o}\n")).collect::<String>()).unwrap();
        let loaded = run(&["load", &d, &collection_id, file.to_str().unwrap()]);
        assert_eq!(loaded.trim(), objects.len().to_string(), "OpenTAXII loaded every object");

        let (cert, key) = sitrep_server::tls::self_signed(&dir.join("tls")).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let log = std::fs::File::create(dir.join("serve.log")).unwrap();
        let child = Command::new("bash")
            .arg(script())
            .args(["serve", &d, &port.to_string(), cert.to_str().unwrap(), key.to_str().unwrap()])
            .env("OPENTAXII_VENV", venv())
            .env("OPENTAXII_WORKERS", "2")
            // gunicorn stops with this test process, even one killed before it stops it.
            .env("OPENTAXII_STOP_WITH_PARENT", "1")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("OpenTAXII starts");
        let cert_pem = std::fs::read_to_string(&cert).unwrap();
        let client = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(cert_pem.as_bytes()).unwrap())
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap();
        guard.0 = None;
        let mut taxii = OpenTaxii {
            api_root: format!("https://127.0.0.1:{port}/taxii2/{root}/"),
            collection_id,
            user,
            password,
            cert_pem,
            dir,
            child,
            client,
            token,
        };
        for _ in 0..300 {
            if let Ok(res) =
                taxii.client.get(format!("https://127.0.0.1:{port}/taxii2/")).header("accept", ACCEPT).send().await
                && res.status() == 200
            {
                return taxii;
            }
            if let Some(status) = taxii.child.try_wait().unwrap() {
                panic!("OpenTAXII stopped ({status}): {}", taxii.log());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("OpenTAXII did not answer in 30 s: {}", taxii.log());
    }

    /// Its server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("serve.log")).unwrap_or_default()
    }

    /// The URL of the collection's `objects/` resource.
    pub fn objects_url(&self) -> String {
        format!("{}collections/{}/objects/", self.api_root, self.collection_id)
    }

    /// Adds `objects` as a TAXII client does (`POST …/objects/`) and returns the status.
    pub async fn post(&self, objects: &[Value]) -> Value {
        let res = self
            .client
            .post(self.objects_url())
            .bearer_auth(&self.token)
            .header("accept", ACCEPT)
            .header("content-type", ACCEPT)
            .body(serde_json::json!({ "objects": objects }).to_string())
            .send()
            .await
            .unwrap();
        let status = res.status();
        let body = res.text().await.unwrap();
        assert_eq!(status, 202, "OpenTAXII refused the POST: {body}\n{}", self.log());
        serde_json::from_str(&body).unwrap()
    }

    /// Every object the collection holds, as a TAXII client pages it.
    pub async fn objects(&self) -> Vec<Value> {
        let mut all = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let mut req = self.client.get(self.objects_url()).bearer_auth(&self.token).header("accept", ACCEPT);
            if let Some(n) = &next {
                req = req.query(&[("next", n)]);
            }
            let res = req.send().await.unwrap();
            let status = res.status();
            let body = res.text().await.unwrap();
            let page: Value = serde_json::from_str(&body)
                .unwrap_or_else(|e| panic!("OpenTAXII answered {status}, not JSON ({e}): {body}\n{}", self.log()));
            all.extend(page["objects"].as_array().cloned().unwrap_or_default());
            match page["next"].as_str() {
                Some(n) if page["more"] == true => next = Some(n.to_owned()),
                _ => return all,
            }
        }
    }
}

/// A folder removed when dropped, unless taken out first.
struct Removed(Option<PathBuf>);

impl Drop for Removed {
    fn drop(&mut self) {
        if let Some(dir) = self.0.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

impl Drop for OpenTaxii {
    fn drop(&mut self) {
        // SIGTERM to gunicorn's master (the script `exec`s it), which stops its workers.
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
