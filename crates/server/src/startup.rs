//! Building the application: pool, migrations, keys, TLS, and the HTTP server. Tests
//! use the same `Application::build` on port 0.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use secrecy::ExposeSecret;
use sitrep_api::{ApiError, AppState};
use sitrep_auth::{KeySet, PasswordHasher, SealKey, TokenService};

use crate::checkpoint::CheckpointSigner;
use crate::config::Settings;
use crate::tls;

pub struct Application {
    port: u16,
    https: bool,
    server: actix_web::dev::Server,
    /// Turned `true` when shutdown begins (live streams end, the worker stops claiming).
    shutdown: Arc<tokio::sync::watch::Sender<bool>>,
    worker: Option<tokio::task::JoinHandle<()>>,
    /// The notification worker (when an SMTP relay is configured).
    mailer: Option<tokio::task::JoinHandle<()>>,
    /// The TAXII peer worker.
    peers: Option<tokio::task::JoinHandle<()>>,
    /// The sealer, and what tells it to seal the rest and stop (after the requests and the
    /// worker are done, so their records are sealed too).
    sealer: tokio::task::JoinHandle<()>,
    seal_stop: tokio::sync::watch::Sender<bool>,
    grace: Duration,
}

/// Stops the application gracefully: live streams end, the listener closes, requests in
/// flight finish (at most `http.shutdown_timeout_secs`), the delivery worker settles what
/// it is sending and stops.
#[derive(Clone)]
pub struct Stopper {
    server: actix_web::dev::ServerHandle,
    shutdown: Arc<tokio::sync::watch::Sender<bool>>,
}

impl Stopper {
    pub async fn stop(&self) {
        self.shutdown.send_replace(true);
        self.server.stop(true).await;
    }
}

/// Creates what the processes of one deployment must share, if missing: the token signing
/// key, the TOTP seal key, the checkpoint key, the attachments' key-encryption key and (in `self_signed` mode) the certificate. `sitrep bootstrap`
/// calls it, so that several processes started together find one key, not one each.
pub fn prepare_data_dir(settings: &Settings) -> anyhow::Result<()> {
    KeySet::load_or_create(&settings.keys_dir())?;
    SealKey::load_or_create(&settings.totp_seal_key_file())?;
    CheckpointSigner::load_or_create(&settings.checkpoint_key_file())?;
    SealKey::load_or_create(&settings.attachment_key_file())?;
    tls::server_config(settings)?;
    Ok(())
}

impl Application {
    /// Connects, migrates, loads or creates keys and certificate, binds the listener.
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        let url = settings.database_url()?.expose_secret().to_owned();
        let target = sitrep_db::connect::Target::parse(&url)?;
        tracing::info!(tls = %target.checks, "database.url");
        let applied = sitrep_db::migrate::run(settings.migration_url()?.expose_secret())
            .await
            .map_err(|e| e.context("migrating through database.migration_url (or database.url)"))?;
        if !applied.is_empty() {
            tracing::info!(migrations = ?applied, "applied migrations");
        }
        let options = sitrep_db::PoolOptions {
            max_connections: settings.database.max_connections,
            wait_timeout: Duration::from_millis(settings.database.wait_timeout_ms),
            statement_timeout: Duration::from_millis(settings.database.statement_timeout_ms),
            read_only: false,
            random_page_cost: settings.database.random_page_cost,
        };
        let pool = sitrep_db::pool(&url, &options)?;
        // The background tasks (sealer, delivery worker, checkpoints) get connections of
        // their own: request load never makes the sealer wait for one, and their
        // connections are driven by this runtime, not by an HTTP worker's, which ends
        // (cutting every connection it opened) when the server stops, before the final
        // seal and the worker's last settlements.
        let background = sitrep_db::pool(&url, &sitrep_db::PoolOptions { max_connections: 3, ..options.clone() })?;
        // The access-log records of reads and refusals, several to a commit: on a
        // connection of their own, so that requests waiting for their record never hold
        // up the connection that writes it.
        let recorder = sitrep_db::access_log::recorder::Recorder::start(sitrep_db::pool(
            &url,
            &sitrep_db::PoolOptions { max_connections: 1, ..options.clone() },
        )?);
        let read_pool = match settings.read_url()? {
            Some(read_url) => {
                let read_options = sitrep_db::PoolOptions {
                    max_connections: settings.database.read_max_connections.unwrap_or(options.max_connections),
                    read_only: true,
                    ..options.clone()
                };
                let checks = sitrep_db::connect::Target::parse(read_url.expose_secret())?.checks;
                tracing::info!(tls = %checks, "list and search reads go to database.read_url");
                Some(sitrep_db::pool(read_url.expose_secret(), &read_options)?)
            }
            None => None,
        };
        let tokens = TokenService::from_dir(&settings.keys_dir(), settings.auth.tokens.clone())?;
        spawn_key_reload(tokens.clone(), Duration::from_secs(settings.auth.tokens.key_reload_secs));
        let seal = SealKey::load_or_create(&settings.totp_seal_key_file())?;
        let hasher = PasswordHasher::new(&settings.auth.password)?;
        let checkpoints = CheckpointSigner::load_or_create(&settings.checkpoint_key_file())?;
        if settings.access_log.checkpoint_interval_secs > 0 {
            checkpoints
                .clone()
                .spawn_periodic(background.clone(), Duration::from_secs(settings.access_log.checkpoint_interval_secs));
        }
        let d = &settings.delivery;
        let mut extra_roots = Vec::new();
        for path in &d.extra_root_certificates {
            extra_roots.push(std::fs::read(path)?);
        }
        let webhooks = sitrep_delivery::client::WebhookClient::new(&sitrep_delivery::client::ClientOptions {
            allow_private: d.allow_private_targets,
            extra_roots: extra_roots.clone(),
            timeout: Duration::from_secs(d.timeout_secs),
        })?;
        let mut state =
            AppState::new(pool, recorder, tokens, hasher, seal, settings.auth.login.clone(), webhooks.clone())
                .map_err(anyhow::Error::msg)?;
        state.checkpoint_key = Some(checkpoints.public());
        if let Some(issuer) = &settings.auth.totp_issuer {
            state.totp_issuer = issuer.clone();
        }
        state.read_pool = read_pool;
        state.tl_iv_accredited = settings.pictures.tl_iv_accredited;
        state.time_zone = settings.console.time_zone.clone();
        state.events = Some(sitrep_db::events::listen(target));
        state.trusted_proxies =
            sitrep_api::proxy::TrustedProxies::parse(&settings.http.trusted_proxies).map_err(anyhow::Error::msg)?;
        state.attachments = Some(sitrep_api::attachments::Store::open(
            &settings.attachment_dir(),
            SealKey::load_or_create(&settings.attachment_key_file())?,
            settings.attachments.clone(),
        )?);
        let shutdown = state.shutdown.clone();
        let hub = sitrep_api::live::Hub::start(
            state.pool.clone(),
            state.cursors.clone(),
            Duration::from_secs(settings.http.stream_heartbeat_secs),
            state.login.roles_needing_totp(),
        )
        .await
        .map_err(|e| anyhow::anyhow!("live streams: {e}"))?;
        if let Some(wake) = state.events.clone() {
            tokio::spawn(hub.clone().run(wake, shutdown.subscribe()));
        }
        state.live = Some(hub);
        let worker = d.worker.then(|| {
            let worker = sitrep_delivery::worker::Worker::new(background.clone(), webhooks, d.clone());
            tokio::spawn(worker.run(state.events.clone(), shutdown.subscribe()))
        });
        let n = &settings.notifications;
        let mailer = match sitrep_delivery::notify::transport(&n.smtp)? {
            Some(transport) if n.worker => {
                // Connections of its own: a relay that is slow to answer never holds up the
                // sealer or the webhook worker.
                let pool = sitrep_db::pool(&url, &sitrep_db::PoolOptions { max_connections: 2, ..options.clone() })?;
                let mailer = sitrep_delivery::notify::Mailer::new(pool, transport, n.clone());
                Some(tokio::spawn(mailer.run(state.events.clone(), shutdown.subscribe())))
            }
            _ => None,
        };
        let (seal_stop, sealing) = tokio::sync::watch::channel(false);
        let every = Duration::from_millis(settings.access_log.seal_interval_ms.max(1));
        let sealer = tokio::spawn(crate::sealer::run(background, every, sealing));
        let peer_stop = shutdown.subscribe();
        let state = web::Data::new(state);
        // TAXII peers obey the webhooks' outbound rules (delivery.allow_private_targets,
        // delivery.extra_root_certificates).
        let peers = settings.peers.worker.then(|| {
            let pool = sitrep_db::pool(&url, &sitrep_db::PoolOptions { max_connections: 2, ..options.clone() })?;
            let worker = sitrep_api::peers::PeerWorker::new(
                state.clone(),
                pool,
                settings.peers.clone(),
                d.allow_private_targets,
                extra_roots,
            );
            anyhow::Ok(tokio::spawn(worker.run(peer_stop)))
        });
        let peers = peers.transpose()?;

        let listener = TcpListener::bind(settings.listen)?;
        let port = listener.local_addr()?.port();
        let tls = tls::server_config(&settings)?;
        let https = tls.is_some();
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .app_data(web::PathConfig::default().error_handler(|_, _| ApiError::not_found("not_found").into()))
                .wrap(from_fn(sitrep_api::meta::envelope))
                .configure(sitrep_api::configure)
                .default_service(web::to(sitrep_api::no_route))
        })
        .disable_signals()
        .shutdown_timeout(settings.http.shutdown_timeout_secs)
        .client_request_timeout(Duration::from_secs(10));
        if let Some(workers) = settings.http.workers {
            server = server.workers(workers);
        }
        let server = match tls {
            Some(config) => server.listen_rustls_0_23(listener, config)?,
            None => server.listen(listener)?,
        };
        let grace = Duration::from_secs(settings.http.shutdown_timeout_secs);
        Ok(Application { port, https, server: server.run(), shutdown, worker, mailer, peers, sealer, seal_stop, grace })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn is_https(&self) -> bool {
        self.https
    }

    /// A handle to the HTTP server alone (tests stop it abruptly with it).
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Stops everything gracefully (what SIGTERM does).
    pub fn stopper(&self) -> Stopper {
        Stopper { server: self.server.handle(), shutdown: self.shutdown.clone() }
    }

    /// Serves until stopped (`Stopper::stop`, or the handle), finishing in-flight
    /// requests; then lets the delivery worker settle what it is sending and stop, and seals
    /// the access log.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let served = self.server.await;
        self.shutdown.send_replace(true);
        if let Some(worker) = self.worker {
            match tokio::time::timeout(self.grace, worker).await {
                Ok(_) => {}
                Err(_) => tracing::warn!(
                    "the delivery worker did not stop in time; its leases expire after delivery.lease_secs"
                ),
            }
        }
        if let Some(peers) = self.peers
            && tokio::time::timeout(self.grace, peers).await.is_err()
        {
            tracing::warn!("the TAXII peer worker did not stop in time; its peers' leases expire");
        }
        if let Some(mailer) = self.mailer
            && tokio::time::timeout(self.grace, mailer).await.is_err()
        {
            tracing::warn!(
                "the notification worker did not stop in time; its leases expire after notifications.lease_secs"
            );
        }
        self.seal_stop.send_replace(true);
        // Last, so the records of the requests and deliveries above are in the chain.
        if tokio::time::timeout(self.grace, self.sealer).await.is_err() {
            tracing::warn!("the access-log sealer did not finish in time; the next start seals what is left");
        }
        served
    }
}

/// Re-reads the signing keys now and then, so keys rotated by another process (or by
/// `sitrep keys rotate`) start verifying here, and retired ones stop.
fn spawn_key_reload(tokens: TokenService, every: Duration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.tick().await;
        loop {
            tick.tick().await;
            if let Err(e) = tokens.reload() {
                tracing::error!(error = %e, "reloading the signing keys failed; keeping the keys loaded");
            }
        }
    });
}
