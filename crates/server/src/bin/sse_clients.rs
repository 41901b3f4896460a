//! Load client of `deploy/bench-delivery`: opens N live streams (SSE over HTTPS) with one
//! token, prints `connected` once every stream has its `: connected` comment, then, after
//! a line on stdin, waits for one event on every stream and prints
//! `received <got>/<n> p50 <s>s max <s>s`: the time from the event's `created_at` (its
//! transaction, on the same machine's clock) to its arrival on each stream.
//!
//! `sse-clients <host> <port> <token> <n> <ca.pem>`

// Its standard output is its interface with the benchmark script.
#![allow(clippy::print_stdout)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Mutex, Semaphore};
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

/// Handshakes in flight at once (the server's accept queue is finite).
const CONNECTING: usize = 16;

struct Shared {
    connected: AtomicUsize,
    latencies: Mutex<Vec<f64>>,
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, host, port, token, n, ca] = args.as_slice() else {
        bail!("usage: sse-clients <host> <port> <token> <n> <ca.pem>");
    };
    let port: u16 = port.parse()?;
    let n: usize = n.parse()?;
    let mut roots = RootCertStore::empty();
    let pem = std::fs::read(ca).context("reading the CA certificate")?;
    for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
        roots.add(cert?)?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = TlsConnector::from(Arc::new(config));
    let name = ServerName::try_from(host.clone())?;
    let request = format!(
        "GET /api/v1/stream HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n"
    );
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(async move {
        let shared = Arc::new(Shared { connected: AtomicUsize::new(0), latencies: Mutex::new(Vec::new()) });
        let gate = Arc::new(Semaphore::new(CONNECTING));
        let mut tasks = Vec::with_capacity(n);
        for _ in 0..n {
            let (connector, name, request) = (connector.clone(), name.clone(), request.clone());
            let (shared, gate, addr) = (shared.clone(), gate.clone(), (host.clone(), port));
            tasks.push(tokio::spawn(async move {
                if let Err(e) = stream(&connector, name, &addr, &request, &shared, &gate).await {
                    eprintln!("stream: {e:#}");
                }
            }));
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(600);
        while shared.connected.load(Ordering::Relaxed) < n {
            if tokio::time::Instant::now() > deadline {
                println!("only {} of {n} streams connected", shared.connected.load(Ordering::Relaxed));
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        println!("connected");
        tokio::task::spawn_blocking(|| std::io::stdin().read_line(&mut String::new())).await??;
        let all = futures_util::future::join_all(tasks);
        let _ = tokio::time::timeout(Duration::from_secs(60), all).await;
        let mut got = shared.latencies.lock().await.clone();
        got.sort_by(f64::total_cmp);
        match (got.get(got.len() / 2), got.last()) {
            (Some(p50), Some(max)) => println!("received {}/{n} p50 {p50:.3}s max {max:.3}s", got.len()),
            _ => println!("received 0/{n}"),
        }
        Ok::<_, anyhow::Error>(())
    })
}

/// One stream: open it (at most `CONNECTING` opening at once, again after a refusal such
/// as a `503` under the opening rush), then read until the first event and note its delay.
async fn stream(
    connector: &TlsConnector,
    name: ServerName<'static>,
    addr: &(String, u16),
    request: &str,
    shared: &Shared,
    gate: &Semaphore,
) -> anyhow::Result<()> {
    let mut failures = 0;
    let (mut tls, mut buffer) = loop {
        let permit = gate.acquire().await?;
        match open(connector, name.clone(), addr, request).await {
            Ok(opened) => {
                drop(permit);
                shared.connected.fetch_add(1, Ordering::Relaxed);
                break opened;
            }
            Err(e) if failures < 50 => {
                failures += 1;
                drop(permit);
                eprintln!("open: {e:#}; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => return Err(e),
        }
    };
    let mut chunk = [0u8; 1024];
    loop {
        while let Some(end) = buffer.windows(2).position(|w| w == b"\n\n") {
            let block: Vec<u8> = buffer.drain(..end + 2).collect();
            let block = String::from_utf8_lossy(&block);
            if let Some(data) = block.lines().find_map(|l| l.strip_prefix("data: ")) {
                let now = Utc::now();
                let created = data
                    .split("\"created_at\":\"")
                    .nth(1)
                    .and_then(|rest| rest.split('"').next())
                    .and_then(|at| DateTime::parse_from_rfc3339(at).ok())
                    .context("an event without created_at")?;
                let delay = (now - created.with_timezone(&Utc)).num_microseconds().unwrap_or(0) as f64 / 1e6;
                shared.latencies.lock().await.push(delay);
                return Ok(());
            }
        }
        buffer.shrink_to(1024);
        let read = tls.read(&mut chunk).await?;
        if read == 0 {
            bail!("the server closed the stream");
        }
        buffer.extend_from_slice(&chunk[..read]);
    }
}

/// Connects, sends the request and reads until the stream's `: connected` comment; returns
/// the connection and what was read after that comment.
async fn open(
    connector: &TlsConnector,
    name: ServerName<'static>,
    addr: &(String, u16),
    request: &str,
) -> anyhow::Result<(tokio_rustls::client::TlsStream<TcpStream>, Vec<u8>)> {
    let tcp = TcpStream::connect((addr.0.as_str(), addr.1)).await?;
    let mut tls = connector.connect(name, tcp).await?;
    tls.write_all(request.as_bytes()).await?;
    let mut buffer: Vec<u8> = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let read = tokio::time::timeout_at(deadline, tls.read(&mut chunk)).await.context("no answer in 30 s")??;
        if read == 0 {
            bail!("closed before the stream began: {}", String::from_utf8_lossy(&buffer).lines().next().unwrap_or(""));
        }
        buffer.extend_from_slice(&chunk[..read]);
        if let Some(at) = buffer.windows(13).position(|w| w == b": connected\n\n") {
            buffer.drain(..at + 13);
            return Ok((tls, buffer));
        }
        if buffer.starts_with(b"HTTP/1.1 ")
            && !buffer.starts_with(b"HTTP/1.1 200")
            && buffer.windows(4).any(|w| w == b"\r\n\r\n")
        {
            bail!("refused: {}", String::from_utf8_lossy(&buffer).lines().next().unwrap_or(""));
        }
    }
}
