//! First start: the demo organisations of the group (fictional member authorities, the
//! Election-VIRT network and the RAS contact point) and a
//! first secretariat account whose password is returned once, to be printed once.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sitrep_auth::PasswordHasher;
use sitrep_db::{GenericClient, Pool, accounts};
use sitrep_domain::RoleSet;
use sitrep_domain::account::{NewOrganisation, OrgCode, OrgName};
use sitrep_types::{LocalizedText, Reach, Role};
use uuid::Uuid;

use crate::demo;

/// The username of the first secretariat account.
pub const FIRST_ACCOUNT: &str = "secretariat";

/// `(code, fi, sv, en, reach)` of the demo organisations. Member authorities, one
/// Election-VIRT participant that is not a member (Valtori), and the RAS contact point,
/// modelled as a unit of the Ministry for Foreign Affairs (the real one is unverified).
/// The secretariat is the Ministry of Justice (OM), which chairs the group.
pub const DEMO_ORGANISATIONS: &[(&str, &str, &str, &str, Reach)] = &[
    ("OM", "oikeusministeriö", "justitieministeriet", "Ministry of Justice", Reach::Member),
    ("VNK", "valtioneuvoston kanslia", "statsrådets kansli", "Prime Minister's Office", Reach::Member),
    ("UM", "ulkoministeriö", "utrikesministeriet", "Ministry for Foreign Affairs", Reach::Member),
    (
        "TRAFICOM-NCSC",
        "Traficomin Kyberturvallisuuskeskus",
        "Traficoms Cybersäkerhetscenter",
        "Traficom National Cyber Security Centre",
        Reach::Member,
    ),
    ("SUPO", "Suojelupoliisi", "Skyddspolisen", "Finnish Security and Intelligence Service", Reach::Member),
    ("POL", "Poliisihallitus", "Polisstyrelsen", "National Police Board", Reach::Member),
    ("KRP", "Keskusrikospoliisi", "Centralkriminalpolisen", "National Bureau of Investigation", Reach::Member),
    (
        "DVV",
        "Digi- ja väestötietovirasto",
        "Myndigheten för digitalisering och befolkningsdata",
        "Digital and Population Data Services Agency",
        Reach::Member,
    ),
    ("ORK", "Oikeusrekisterikeskus", "Rättsregistercentralen", "Legal Register Centre", Reach::Member),
    ("VNTK", "Valtioneuvoston tilannekeskus", "Statsrådets lägescentral", "Government Situation Centre", Reach::Member),
    (
        "TK",
        "Turvallisuuskomitean sihteeristö",
        "Säkerhetskommitténs sekretariat",
        "Security Committee secretariat",
        Reach::Member,
    ),
    ("PV", "Puolustusvoimat", "Försvarsmakten", "Finnish Defence Forces", Reach::Member),
    (
        "VALTORI",
        "Valtion tieto- ja viestintätekniikkakeskus Valtori",
        "Statens center för informations- och kommunikationsteknik Valtori",
        "Government ICT Centre Valtori",
        Reach::Virt,
    ),
    (
        "UM-RAS",
        "ulkoministeriö, RAS-yhteyspiste",
        "utrikesministeriet, RAS-kontaktpunkt",
        "Ministry for Foreign Affairs, RAS contact point",
        Reach::RasContactPoint,
    ),
];

/// Inserts the demo organisations that are missing.
pub async fn seed_organisations(c: &impl GenericClient) -> anyhow::Result<usize> {
    let mut added = 0;
    for (code, fi, sv, en, reach) in DEMO_ORGANISATIONS {
        if accounts::find_organisation_by_code(c, code).await?.is_some() {
            continue;
        }
        let name = LocalizedText { fi: Some((*fi).into()), sv: Some((*sv).into()), en: Some((*en).into()) };
        let org = NewOrganisation {
            code: OrgCode::parse("code", code).map_err(|e| anyhow::anyhow!("{e:?}"))?,
            name: OrgName::parse("name", &name).map_err(|e| anyhow::anyhow!("{e}"))?,
            reach: *reach,
        };
        accounts::insert_organisation(c, Uuid::new_v4(), &org).await?;
        added += 1;
    }
    Ok(added)
}

/// What a first start created.
pub struct Bootstrapped {
    pub organisations_added: usize,
    /// Demo situation pictures seeded (first start only).
    pub pictures_added: usize,
    /// `(username, password)` of the first secretariat account, when created now.
    pub first_account: Option<(String, String)>,
}

/// Idempotent: seeds what is missing; creates the first account only when there are no
/// users at all. Several processes may run it at once.
pub async fn run(pool: &Pool, hasher: &PasswordHasher) -> anyhow::Result<Bootstrapped> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    accounts::lock_bootstrap(&tx).await?;
    let first_start = accounts::count_organisations(&tx).await? == 0;
    let no_users = accounts::count_users(&tx).await? == 0;
    let organisations_added = if first_start { seed_organisations(&tx).await? } else { 0 };
    let pictures_added = if first_start { demo::seed(&tx, hasher).await? } else { 0 };
    let mut first_account = None;
    if no_users {
        let om = accounts::find_organisation_by_code(&tx, "OM")
            .await?
            .ok_or_else(|| anyhow::anyhow!("organisation OM (the secretariat) is missing"))?;
        let password = first_password();
        let hash = hasher.hash(&password).await?;
        let id = Uuid::new_v4();
        let user = accounts::insert_user(&tx, id, FIRST_ACCOUNT, "Secretariat (first account)", &hash).await?;
        // The secretariat is at OM, a member authority: as a reader it sees what members
        // see, and the metadata of the rest.
        let roles: RoleSet = [Role::Secretariat, Role::Reader].into_iter().collect();
        accounts::insert_membership(&tx, Uuid::new_v4(), &user, om.id, roles, None, None).await?;
        first_account = Some((FIRST_ACCOUNT.to_owned(), password));
    }
    tx.commit().await?;
    Ok(Bootstrapped { organisations_added, pictures_added, first_account })
}

/// A random password for the first account (192 bits, base64url) that passes the rules
/// for passwords like any other; it must be changed at the first sign-in.
fn first_password() -> String {
    loop {
        let mut bytes = [0u8; 24];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let password = URL_SAFE_NO_PAD.encode(bytes);
        if sitrep_domain::password::check("password", &password, Some(FIRST_ACCOUNT)).is_ok() {
            return password;
        }
    }
}
