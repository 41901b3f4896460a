//! An in-process HTTPS webhook receiver on 127.0.0.1 that records what it receives and
//! answers with the status it is told to.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};

#[derive(Debug, Clone)]
pub struct Received {
    pub id: String,
    pub timestamp: i64,
    pub signature: String,
    pub body: Vec<u8>,
}

pub struct Receiver {
    pub url: String,
    pub cert: PathBuf,
    pub received: Arc<Mutex<Vec<Received>>>,
    /// The status to answer; 302 also sends a Location.
    pub status: Arc<Mutex<u16>>,
    /// How long to wait before answering (a slow receiver).
    pub delay: Arc<Mutex<Duration>>,
    handle: actix_web::dev::ServerHandle,
}

impl Receiver {
    pub async fn start(dir: &std::path::Path) -> Receiver {
        let crate::helpers::OwnHttps { listener, port, config, cert } =
            crate::helpers::OwnHttps::new(dir, "receiver-tls");
        let received = Arc::new(Mutex::new(Vec::new()));
        let status = Arc::new(Mutex::new(200u16));
        let delay = Arc::new(Mutex::new(Duration::ZERO));
        let (r, s, d) = (received.clone(), status.clone(), delay.clone());
        let server = HttpServer::new(move || {
            let (r, s, d) = (r.clone(), s.clone(), d.clone());
            App::new().default_service(web::to(move |req: HttpRequest, body: web::Bytes| {
                let (r, s, d) = (r.clone(), s.clone(), d.clone());
                async move {
                    let header =
                        |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
                    r.lock().unwrap().push(Received {
                        id: header("webhook-id"),
                        timestamp: header("webhook-timestamp").parse().unwrap_or(0),
                        signature: header("webhook-signature"),
                        body: body.to_vec(),
                    });
                    let wait = *d.lock().unwrap();
                    if !wait.is_zero() {
                        tokio::time::sleep(wait).await;
                    }
                    let code = *s.lock().unwrap();
                    let mut res = HttpResponse::build(actix_web::http::StatusCode::from_u16(code).unwrap());
                    if code == 302 {
                        res.insert_header(("Location", "https://127.0.0.1:1/elsewhere"));
                    }
                    res.finish()
                }
            }))
        })
        .workers(1)
        .disable_signals()
        .listen_rustls_0_23(listener, config)
        .unwrap()
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Receiver { url: format!("https://127.0.0.1:{port}/hook"), cert, received, status, delay, handle }
    }

    pub fn count(&self) -> usize {
        self.received.lock().unwrap().len()
    }

    /// Waits (polling, at most 10 s) until `n` requests have arrived.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        for _ in 0..200 {
            if self.count() >= n {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.received.lock().unwrap().clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}
