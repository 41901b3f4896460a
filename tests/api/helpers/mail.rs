//! A real SMTP server on loopback for the notification tests: `tests/api/smtp_sink.py`
//! (aiosmtpd, installed by `deploy/test`), with STARTTLS under a throwaway certificate
//! and a password, writing each message it accepts to a folder as JSON. One server
//! serves the whole test run ([`shared`]); tests tell their messages apart by recipient
//! addresses of their own. A test that needs the relay down and then up starts its own
//! ([`Sink::start`]) on a port it chose beforehand.

use std::io::BufRead;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use sitrep_server::Settings;
use tokio::sync::OnceCell;

pub const USER: &str = "sitrep-test";
pub const PASSWORD: &str = "sink-password-not-secret";

pub struct Sink {
    pub port: u16,
    pub folder: PathBuf,
    /// The server's certificate (PEM), which the relay client must trust.
    pub cert: PathBuf,
    _child: Child,
}

static SHARED: OnceCell<Sink> = OnceCell::const_new();

/// The SMTP server shared by the tests of this run.
pub async fn shared() -> &'static Sink {
    SHARED.get_or_init(|| async { Sink::start(free_port()) }).await
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A throwaway certificate for 127.0.0.1 and localhost, with its key, in a fresh folder.
pub struct TestCertificate {
    pub dir: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

pub fn certificate() -> TestCertificate {
    let dir = std::env::temp_dir().join(format!("sitrep-smtp-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let c = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, c.cert.pem()).unwrap();
    std::fs::write(&key, c.key_pair.serialize_pem()).unwrap();
    TestCertificate { dir, cert, key }
}

impl Sink {
    /// Starts a server on `port` and waits until it accepts connections. It stops when
    /// this process ends (its standard input closes).
    pub fn start(port: u16) -> Sink {
        Sink::start_with(port, certificate())
    }

    /// Starts a server on `port` with a certificate made beforehand.
    pub fn start_with(port: u16, c: TestCertificate) -> Sink {
        let python = std::env::var("SITREP_TEST_SMTP_PYTHON").expect(
            "SITREP_TEST_SMTP_PYTHON is not set: run the tests with deploy/test, which installs aiosmtpd for them",
        );
        let TestCertificate { dir, cert, key } = c;
        let folder = dir.join("messages");
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/api/smtp_sink.py");
        let mut child = Command::new(python)
            .arg(script)
            .arg(port.to_string())
            .arg(&folder)
            .arg(&cert)
            .arg(&key)
            .env("SMTP_SINK_USER", USER)
            .env("SMTP_SINK_PASSWORD", PASSWORD)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the SMTP test server starts");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "ready", "the SMTP test server did not start (is aiosmtpd installed?)");
        Sink { port, folder, cert, _child: child }
    }

    /// Points a server under test at this relay, with a short retry schedule.
    pub fn configure(&self, s: &mut Settings) {
        configure(s, self.port, &self.cert);
    }

    /// Every message that has arrived for `address` so far.
    pub fn messages_to(&self, address: &str) -> Vec<Mail> {
        let Ok(entries) = std::fs::read_dir(&self.folder) else { return Vec::new() };
        entries
            .filter_map(|e| {
                let path = e.ok()?.path();
                (path.extension()? == "json").then_some(path)
            })
            .filter_map(|p| serde_json::from_str::<Value>(&std::fs::read_to_string(p).ok()?).ok())
            .map(Mail)
            .filter(|m| m.recipients().iter().any(|r| r.eq_ignore_ascii_case(address)))
            .collect()
    }

    /// Waits (at most 20 s) until `n` messages have arrived for `address`, and returns them.
    pub async fn wait_for(&self, address: &str, n: usize) -> Vec<Mail> {
        for _ in 0..400 {
            let got = self.messages_to(address);
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{n} message(s) for {address} did not arrive; got {}", self.messages_to(address).len());
    }
}

/// Points a server under test at the relay on `port` whose certificate is `cert`.
pub fn configure(s: &mut Settings, port: u16, cert: &std::path::Path) {
    let n = &mut s.notifications;
    n.smtp.host = Some("127.0.0.1".into());
    n.smtp.port = Some(port);
    n.smtp.username = Some(USER.into());
    n.smtp.password = Some(PASSWORD.to_owned().into());
    n.smtp.root_certificates = vec![cert.to_path_buf()];
    n.smtp.timeout_secs = 5;
    n.from = "Sitrep <sitrep@test.example>".into();
    n.message_domain = "test.example".into();
    n.console_url = "https://sitrep.test.example/app/".into();
    n.poll_ms = 100;
    // Overdue acknowledgements looked for on every pass, not every 30 s as in production.
    n.escalation_interval_secs = 0;
    // Retries about every 0.3 s for a while: a relay down for a few seconds is retried
    // within the test's patience.
    n.retry_schedule_secs = vec![1; 30];
    n.retry_scale = 0.3;
}

/// One message as the SMTP server received it.
#[derive(Debug, Clone)]
pub struct Mail(pub Value);

impl Mail {
    pub fn recipients(&self) -> Vec<String> {
        self.0["rcpt"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect()
    }

    /// A header, decoded.
    pub fn header(&self, name: &str) -> Option<String> {
        self.0["headers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h[0].as_str().unwrap().eq_ignore_ascii_case(name))
            .map(|h| h[1].as_str().unwrap().to_owned())
    }

    pub fn text(&self) -> String {
        self.0["text"].as_str().unwrap_or_default().to_owned()
    }

    pub fn html(&self) -> String {
        self.0["html"].as_str().unwrap_or_default().to_owned()
    }

    /// Everything the message says, decoded and raw, to search for what must not be there.
    pub fn everything(&self) -> String {
        format!(
            "{}\n{}\n{}\n{}",
            self.header("subject").unwrap_or_default(),
            self.text(),
            self.html(),
            self.0["raw"].as_str().unwrap_or_default()
        )
    }
}

/// An address of this test alone (the SMTP server is shared by the run).
pub fn address(who: &str) -> String {
    format!("{who}.{}@example.org", &uuid::Uuid::new_v4().simple().to_string()[..12])
}

/// The token in a confirmation message (the end of its link).
pub fn token_in(mail: &Mail) -> String {
    let text = mail.text();
    let at = text.find("#/confirm-email/").expect("a confirmation link") + "#/confirm-email/".len();
    text[at..].split_whitespace().next().unwrap().to_owned()
}

/// Sets a person's preferences with `address`, and confirms the address with the token
/// of the message the relay received.
pub async fn opt_in(app: &super::TestApp, sink: &Sink, token: &str, address: &str, mut prefs: Value) {
    prefs["email"] = serde_json::json!(address);
    let path = app.url("/api/v1/me/notifications");
    let res = app.client.put(path).bearer_auth(token).json(&prefs).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let mail = sink.wait_for(address, 1).await;
    let body = serde_json::json!({"token": token_in(&mail[0])});
    assert_eq!(app.post_json("/api/v1/email-confirmations", None, &body).await.status(), 204);
}
