//! Reading the live event stream (`/api/v1/stream`) in tests: opening it and reading
//! its events.

use crate::helpers::TestApp;
use serde_json::Value;
use std::time::Duration;

/// Reads SSE frames until `want` events arrived or 10 s passed; returns `(id, type, data)`.
pub async fn read_events(res: &mut reqwest::Response, want: usize) -> Vec<(String, String, Value)> {
    let mut buffer = String::new();
    let mut events = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while events.len() < want {
        let chunk = match tokio::time::timeout_at(deadline, res.chunk()).await {
            Ok(Ok(Some(c))) => c,
            _ => break,
        };
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let field = |name: &str| block.lines().find_map(|l| l.strip_prefix(name)).map(str::to_owned);
            if let (Some(id), Some(kind), Some(data)) = (field("id: "), field("event: "), field("data: ")) {
                events.push((id, kind, serde_json::from_str(&data).unwrap()));
            }
        }
    }
    events
}

pub async fn open(app: &TestApp, token: &str, last: Option<&str>) -> reqwest::Response {
    let mut req = app.client.get(app.url("/api/v1/stream")).bearer_auth(token);
    if let Some(id) = last {
        req = req.header("last-event-id", id);
    }
    let res = req.send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    res
}
