//! The visibility rule twice, held together: the pure function in the domain crate and
//! the SQL predicate every query uses must agree on every (viewer, picture) pair of
//! randomly generated worlds stored in PostgreSQL.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use sitrep_domain::visibility::{Handling, Sight, Viewer, sight, tier_rank};
use sitrep_types::{PictureContent, Reach, Role, Status, Tier};
use uuid::Uuid;

use crate::helpers::TestApp;

#[derive(Debug, Clone)]
struct World {
    reaches: Vec<Reach>,
    /// (originator index, status, tier, named recipient indices)
    pictures: Vec<(usize, Status, Tier, Vec<usize>)>,
    /// (organisation index, reads pictures, secretariat)
    viewers: Vec<(usize, bool, bool)>,
}

fn world() -> impl Strategy<Value = World> {
    let reach = prop_oneof![Just(Reach::Member), Just(Reach::Virt), Just(Reach::RasContactPoint)];
    (2usize..6).prop_flat_map(move |n| {
        let status = proptest::sample::select(Status::ALL.to_vec());
        let tier = proptest::sample::select(Tier::ALL.to_vec());
        let picture = (0..n, status, tier, proptest::collection::vec(0..n, 0..3));
        let viewer = (0..n, any::<bool>(), any::<bool>());
        (
            proptest::collection::vec(reach.clone(), n),
            proptest::collection::vec(picture, 1..25),
            proptest::collection::vec(viewer, 1..8),
        )
            .prop_map(|(reaches, pictures, viewers)| World { reaches, pictures, viewers })
    })
}

async fn check(app: &TestApp, author: Uuid, content: &PictureContent, w: &World) -> Result<(), String> {
    let client = app.pool.get().await.unwrap();
    client.batch_execute("TRUNCATE picture_revisions, pictures CASCADE").await.unwrap();
    let mut orgs = Vec::new();
    for reach in &w.reaches {
        orgs.push(
            app.seed_org(&format!("W-{}", Uuid::new_v4().simple().to_string()[..8].to_uppercase()), *reach).await,
        );
    }
    let mut stored = Vec::new();
    for (i, (origin, status, tier, named)) in w.pictures.iter().enumerate() {
        let id = Uuid::new_v4();
        let named: Vec<Uuid> = named.iter().map(|n| orgs[*n]).collect();
        client
            .execute(
                "INSERT INTO pictures (id, reference, originator_id, created_by, status, revision, tier, tier_rank, tlp, \
                   named_recipients, kind, is_exercise, primary_domain, domains, severity, urgency, classification) \
                 VALUES ($1, $2, $3, $4, $5, 1, $6, $7, 'AMBER', $8, 'alert', false, 'cyber', '{cyber}', 'low', \
                   'routine', 'unclassified_public')",
                &[&id, &format!("W-{i}-{id}"), &orgs[*origin], &author, &status.as_str(), &tier.as_str(), &tier_rank(*tier), &named],
            )
            .await
            .unwrap();
        sitrep_db::pictures::insert_revision(&client, id, 1, "published", content, author).await.unwrap();
        stored.push((id, orgs[*origin], *status, *tier, named));
    }
    let all: Vec<Uuid> = stored.iter().map(|s| s.0).collect();
    for (org, reads, secretariat) in &w.viewers {
        let v = Viewer {
            organisation: orgs[*org],
            reach: w.reaches[*org],
            reads_pictures: *reads,
            secretariat: *secretariat,
        };
        let full = sitrep_db::pictures::visible_ids(&client, &v, &all).await.unwrap();
        for (id, originator, status, tier, named) in &stored {
            let want = sight(&v, &Handling { originator: *originator, status: *status, tier: *tier, named });
            let sql_full = full.contains(id);
            let sql_any = sitrep_db::pictures::find(&client, &v, *id, false).await.unwrap().is_some();
            let got = match (sql_full, sql_any) {
                (true, _) => Sight::Full,
                (false, true) => Sight::Metadata,
                (false, false) => Sight::None,
            };
            if got != want {
                return Err(format!("viewer {v:?} picture {status:?}/{tier:?}: SQL {got:?}, function {want:?}"));
            }
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sql_predicate_and_the_visibility_function_agree_on_every_pair() {
    let app = TestApp::spawn().await;
    let author = app.seed_user("w.author", "A", &[Role::Author]).await;
    let content: PictureContent = serde_json::from_value(crate::pictures::content("group", "AMBER")).unwrap();
    let handle = tokio::runtime::Handle::current();
    let mut runner = TestRunner::new(Config { cases: 24, failure_persistence: None, ..Config::default() });
    let result = tokio::task::block_in_place(|| {
        runner.run(&world(), |w| handle.block_on(check(&app, author.id, &content, &w)).map_err(TestCaseError::fail))
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}
