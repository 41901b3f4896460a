//! Prometheus metrics: requests by route, method and status, their latency, and — read
//! when scraped — pool usage, the outbox and delivery backlogs and the access-log chain head.
//! `GET /metrics` (sysadmin).

use std::time::Duration;

use actix_web::{HttpResponse, web};
use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry, TextEncoder};

use crate::error::ApiError;
use crate::principal::{Caller, Sysadmin};
use crate::state::AppState;

#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    gauges: Vec<(&'static str, IntGauge)>,
}

impl Metrics {
    pub fn new() -> Result<Metrics, prometheus::Error> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new("sitrep_http_requests_total", "HTTP requests by route pattern, method and status"),
            &["route", "method", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "sitrep_http_request_duration_seconds",
                "HTTP request latency by route pattern and method",
            )
            .buckets(vec![0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0]),
            &["route", "method"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        let mut gauges = Vec::new();
        for (name, help) in [
            ("sitrep_db_pool_size", "Connections open in this process's pool"),
            ("sitrep_db_pool_available", "Idle connections in this process's pool"),
            ("sitrep_db_pool_waiting", "Requests waiting for a connection"),
            ("sitrep_db_read_pool_size", "Connections open in this process's replica pool (database.read_url)"),
            ("sitrep_db_read_pool_available", "Idle connections in this process's replica pool"),
            ("sitrep_outbox_backlog", "Outbox events not yet fanned out to every webhook subscription"),
            ("sitrep_outbox_oldest_seconds", "Age of the oldest event not yet fanned out"),
            ("sitrep_deliveries_pending", "Webhook deliveries waiting to be sent or retried"),
            ("sitrep_deliveries_oldest_due_seconds", "How long the oldest due delivery has been waiting"),
            ("sitrep_deliveries_failed", "Deliveries that exhausted their retries"),
            ("sitrep_subscriptions_failing", "Subscriptions marked failing"),
            ("sitrep_access_log_head_seq", "Sequence number of the access log's chain head"),
            ("sitrep_access_log_unsealed", "Access-log records written but not yet sealed into the chain"),
            ("sitrep_access_log_unsealed_oldest_milliseconds", "Age of the oldest access-log record not yet sealed"),
            (
                "sitrep_login_accounts_at_ceiling",
                "Accounts whose failed sign-ins in the current window reached auth.login.account_ceiling",
            ),
        ] {
            let g = IntGauge::new(name, help)?;
            registry.register(Box::new(g.clone()))?;
            gauges.push((name, g));
        }
        Ok(Metrics { registry, requests, latency, gauges })
    }

    /// Counts one request (called by the envelope middleware).
    pub fn observe(&self, route: &str, method: &str, status: u16, elapsed: Duration) {
        self.requests.with_label_values(&[route, method, &status.to_string()]).inc();
        self.latency.with_label_values(&[route, method]).observe(elapsed.as_secs_f64());
    }

    fn set(&self, name: &str, value: i64) {
        if let Some((_, g)) = self.gauges.iter().find(|(n, _)| *n == name) {
            g.set(value);
        }
    }
}

/// Prometheus text exposition (sysadmin only; scrape with a bearer token).
#[utoipa::path(
    get, path = "/metrics", tag = "health",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Prometheus text format", content_type = "text/plain; version=0.0.4", body = String),
        crate::docs::AuthFailures, crate::docs::Forbidden, crate::docs::ServerFailures
    )
)]
pub async fn metrics(state: web::Data<AppState>, _caller: Caller<Sysadmin>) -> Result<HttpResponse, ApiError> {
    let m = &state.metrics;
    let status = state.pool.status();
    m.set("sitrep_db_pool_size", status.size as i64);
    m.set("sitrep_db_pool_available", status.available as i64);
    m.set("sitrep_db_pool_waiting", status.waiting as i64);
    if let Some(read) = &state.read_pool {
        let status = read.status();
        m.set("sitrep_db_read_pool_size", status.size as i64);
        m.set("sitrep_db_read_pool_available", status.available as i64);
    }
    let client = state.pool.get().await?;
    let g = sitrep_db::ops::gauges(&client).await?;
    m.set("sitrep_outbox_backlog", g.outbox_backlog);
    // Ages in whole seconds (milliseconds): a float-to-int `as` saturates, which is what a
    // gauge wants.
    #[allow(clippy::cast_possible_truncation)]
    let whole = |f: f64| f.round() as i64;
    m.set("sitrep_outbox_oldest_seconds", whole(g.outbox_oldest_secs));
    m.set("sitrep_deliveries_pending", g.deliveries_pending);
    m.set("sitrep_deliveries_oldest_due_seconds", whole(g.deliveries_oldest_due_secs));
    m.set("sitrep_deliveries_failed", g.deliveries_failed);
    m.set("sitrep_subscriptions_failing", g.subscriptions_failing);
    m.set("sitrep_access_log_head_seq", g.access_log_head_seq);
    m.set("sitrep_access_log_unsealed", g.access_log_unsealed);
    m.set("sitrep_access_log_unsealed_oldest_milliseconds", whole(g.access_log_unsealed_age_secs * 1000.0));
    let throttle = state.login.throttle();
    let at_ceiling = sitrep_db::sessions::accounts_over_ceiling(
        &client,
        i32::try_from(throttle.account_ceiling).unwrap_or(i32::MAX),
        throttle.window_secs as i64,
    )
    .await?;
    m.set("sitrep_login_accounts_at_ceiling", at_ceiling);
    let mut body = Vec::new();
    TextEncoder::new().encode(&m.registry.gather(), &mut body).map_err(|e| ApiError::Internal(e.into()))?;
    Ok(HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(body))
}
