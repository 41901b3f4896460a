//! Tools of the benchmarks, kept out of the production binary: seeding the access log
//! with synthetic chained records (`sitrep-seed-access-log`, used by `deploy/bench-audit`
//! and `deploy/bench-verify`, and by the tests of a long chain).

use sitrep_db::access_log::{AccessRecord, ActorType, Outcome};
use uuid::Uuid;

/// Appends `count` synthetic records to the chain, 20,000 per transaction by binary COPY
/// (`sitrep_db::access_log::append_bulk`: the digest and link code of the writer and the
/// sealer). Never on a real log: the records are made up.
pub async fn seed_access_log(url: &str, count: u64) -> anyhow::Result<()> {
    use rand::Rng;
    let pool = sitrep_db::pool(url, &sitrep_db::PoolOptions { max_connections: 1, ..Default::default() })?;
    let mut client = pool.get().await?;
    let actors: Vec<Uuid> = (0..1000).map(|_| Uuid::new_v4()).collect();
    let orgs: Vec<Uuid> = (0..20).map(|_| Uuid::new_v4()).collect();
    let actions = ["me.view", "organisation.list", "user.view", "auth.login", "auth.refresh", "user.list"];
    let mut rng = rand::thread_rng();
    let mut done = 0u64;
    while done < count {
        let n = (count - done).min(20_000);
        let records: Vec<AccessRecord> = (0..n)
            .map(|_| {
                let actor = rng.gen_range(0..actors.len());
                let denied = rng.gen_ratio(1, 50);
                AccessRecord {
                    request_id: Uuid::now_v7().to_string(),
                    actor_type: ActorType::User,
                    actor_id: Some(actors[actor]),
                    actor_name: Some(format!("user{actor}")),
                    organisation_id: Some(orgs[actor % orgs.len()]),
                    membership_id: Some(Uuid::new_v4()),
                    roles: vec!["reader"],
                    action: actions[rng.gen_range(0..actions.len())].to_owned(),
                    object_type: Some("user"),
                    object_id: Some(actors[rng.gen_range(0..actors.len())].to_string()),
                    object_revision: None,
                    object_ids: None,
                    tier: None,
                    tlp: None,
                    outcome: if denied { Outcome::Denied } else { Outcome::Allowed },
                    reason: denied.then(|| "forbidden".to_owned()),
                    http_status: if denied { 403 } else { 200 },
                    client_addr: Some(std::net::IpAddr::from([
                        10,
                        0,
                        u8::try_from(actor / 250).unwrap_or(u8::MAX),
                        u8::try_from(actor % 250).unwrap_or(u8::MAX),
                    ])),
                }
            })
            .collect();
        sitrep_db::access_log::append_bulk(&mut client, &records).await?;
        done += n;
    }
    Ok(())
}
