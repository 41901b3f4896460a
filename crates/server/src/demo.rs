//! Demo data for a first start: elections, fictional analysts (with random passwords that
//! are not printed: the secretariat sets one to use an account), and the fictional
//! scenarios of `data/demo.json` as published situation pictures across the tiers.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{Datelike, NaiveDate, Utc};
use rand::RngCore;
use serde::Deserialize;
use sitrep_auth::PasswordHasher;
use sitrep_db::{GenericClient, accounts, pictures, reference};
use sitrep_domain::RoleSet;
use sitrep_domain::picture::{CheckedContent, Deployment};
use sitrep_types::{ElectionType, PictureContent, Role, Status};
use uuid::Uuid;

const DEMO: &str = include_str!("../data/demo.json");

#[derive(Deserialize)]
struct Demo {
    elections: Vec<DemoElection>,
    users: Vec<DemoUser>,
    pictures: Vec<DemoPicture>,
}

#[derive(Deserialize)]
struct DemoElection {
    code: String,
    election_type: ElectionType,
    name_en: String,
    election_day: Option<NaiveDate>,
}

#[derive(Deserialize)]
struct DemoUser {
    username: String,
    display_name: String,
    organisation: String,
    roles: Vec<Role>,
}

#[derive(Deserialize)]
struct DemoPicture {
    originator: String,
    author: String,
    approver: String,
    election: Option<String>,
    status: Status,
    #[serde(default)]
    named: Vec<String>,
    content: serde_json::Value,
}

async fn org_id(c: &impl GenericClient, code: &str) -> anyhow::Result<Uuid> {
    Ok(accounts::find_organisation_by_code(c, code)
        .await?
        .ok_or_else(|| anyhow::anyhow!("demo: no organisation {code}"))?
        .id)
}

async fn user_id(c: &impl GenericClient, username: &str) -> anyhow::Result<Uuid> {
    let fold = sitrep_domain::account::Username::fold(username);
    let user = accounts::find_login_candidate(c, &fold, username).await?;
    Ok(user.ok_or_else(|| anyhow::anyhow!("demo: no user {username}"))?.id)
}

/// Seeds the demo data; returns the number of pictures.
pub async fn seed(c: &impl GenericClient, hasher: &PasswordHasher) -> anyhow::Result<usize> {
    let demo: Demo = serde_json::from_str(DEMO)?;
    for e in &demo.elections {
        if reference::find_election_by_code(c, &e.code).await?.is_none() {
            reference::insert_election(c, Uuid::new_v4(), &e.code, e.election_type, &e.name_en, e.election_day, false)
                .await?;
        }
    }
    for u in &demo.users {
        let mut bytes = [0u8; 24];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let hash = hasher.hash(&URL_SAFE_NO_PAD.encode(bytes)).await?;
        let id = Uuid::new_v4();
        let user = accounts::insert_user(c, id, &u.username, &u.display_name, &hash).await?;
        let roles: RoleSet = u.roles.iter().copied().collect();
        accounts::insert_membership(c, Uuid::new_v4(), &user, org_id(c, &u.organisation).await?, roles, None, None)
            .await?;
    }
    for p in &demo.pictures {
        let mut content = p.content.clone();
        if let Some(code) = &p.election {
            let election = reference::find_election_by_code(c, code)
                .await?
                .ok_or_else(|| anyhow::anyhow!("demo: no election {code}"))?;
            content["election_id"] = serde_json::json!(election.id);
        }
        let mut named = Vec::new();
        for code in &p.named {
            named.push(org_id(c, code).await?);
        }
        content["named_recipients"] = serde_json::json!(named);
        let content: PictureContent = serde_json::from_value(content)?;
        let checked = CheckedContent::check(content, Deployment::default())
            .map_err(|e| anyhow::anyhow!("demo picture {:?} is invalid: {e:?}", p.content["title"]["en"]))?;
        let id = Uuid::new_v4();
        let author = user_id(c, &p.author).await?;
        let approver = user_id(c, &p.approver).await?;
        let originator = org_id(c, &p.originator).await?;
        let year = Utc::now().year();
        pictures::create(c, id, year, originator, author, checked.content(), checked.severity()).await?;
        let approved_by = (approver != author).then_some(approver);
        pictures::set_revision_state(c, id, 1, sitrep_domain::lifecycle::RevisionState::Published, approved_by).await?;
        pictures::set_in_force(c, id, 1, Status::Published, checked.content(), checked.severity(), true).await?;
        if p.status != Status::Published {
            pictures::set_status(c, id, p.status, None).await?;
        }
    }
    Ok(demo.pictures.len())
}
