//! Acknowledgements and release decisions on pictures; elections and communities.

use actix_web::{HttpResponse, web};
use sitrep_db::pictures::{self, PictureRow};
use sitrep_db::reference;
use sitrep_domain::Invalid;
use sitrep_domain::validation::TextRule;
use sitrep_domain::visibility::{Sight, Viewer, insider, sight};
use sitrep_types::{
    AcknowledgementStatus, Community, CreateAcknowledgement, CreateCommunity, CreateElection, CreateReleaseDecision,
    Election, Reach, ReleaseDecision, Status, Techniques, UpdateElection,
};
use uuid::Uuid;

use crate::access_log::{self, RecordExt};
use crate::body::Json;
use crate::docs::{AuthFailures, BodyFailures, Conflict, Forbidden, NotFound, ServerFailures};
use crate::error::ApiError;
use crate::meta::RequestMeta;
use crate::principal::{Authenticated, Caller, Principal, ReadPictures, SecretariatOnly};
use crate::state::AppState;

endpoints! {
    "/pictures/{id}/acknowledgements" {
        GET "acknowledgement.list" => list_acknowledgements,
        POST "acknowledgement.create" => acknowledge,
    }
    "/pictures/{id}/release-decisions" {
        GET "release_decision.list" => list_release_decisions,
        POST "release_decision.create" => record_release_decision,
    }
    "/elections" { GET "election.list" => list_elections, POST "election.create" => create_election }
    "/elections/{id}" { GET "election.view" => get_election, PATCH "election.update" => update_election }
    "/communities" { GET "community.list" => list_communities, POST "community.create" => create_community }
    "/techniques" { GET "technique.list" => list_techniques }
}

const NOT_FOUND: ApiError = ApiError::NotFound { code: "picture_not_found" };

fn sight_of(p: &Principal, row: &PictureRow) -> Sight {
    sight(&Viewer::from(&p.permissions), &row.handling())
}

fn note(field: &str, note: &Option<String>, rule: TextRule) -> Result<(), ApiError> {
    if let Some(n) = note {
        rule.check(field, n).map_err(|e| ApiError::Invalid(e.into()))?;
    }
    Ok(())
}

fn answer<'a>(p: &Principal, row: &PictureRow, note: Option<&'a str>) -> reference::Answer<'a> {
    reference::Answer {
        picture: row.id,
        revision: row.revision,
        organisation: p.organisation_id,
        user: p.user_id,
        note,
    }
}

/// Acknowledge a published picture on behalf of the caller's organisation (a recipient).
#[utoipa::path(
    post, path = "/api/v1/pictures/{id}/acknowledgements", tag = "pictures",
    security(("bearer" = [])), params(("id" = Uuid, Path)), request_body = CreateAcknowledgement,
    responses((status = 201, body = AcknowledgementStatus), AuthFailures, Forbidden, NotFound, Conflict, BodyFailures, ServerFailures)
)]
pub async fn acknowledge(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<ReadPictures>,
    id: web::Path<Uuid>,
    body: Json<CreateAcknowledgement>,
) -> Result<HttpResponse, ApiError> {
    note("note", &body.0.note, ACKNOWLEDGEMENT_NOTE)?;
    let mut client = meta.client(&state.pool).await?;
    let tx = client.transaction().await?;
    let v = Viewer::from(&caller.permissions);
    // Needing more information writes in the organisation's thread: the picture is locked
    // as for a question, so that a narrowing is either before it (and decides it) or
    // after it, and two messages at once do not both take the thread's last place.
    let asks = body.0.kind == sitrep_types::AckKind::NeedMoreInfo;
    let row = pictures::find(&tx, &v, id.into_inner(), asks).await?.ok_or(NOT_FOUND)?;
    if sight_of(&caller, &row) != Sight::Full {
        return Err(NOT_FOUND);
    }
    if row.originator_id == caller.organisation_id {
        return Err(ApiError::Conflict {
            code: "own_picture",
            detail: "The originator does not acknowledge its own picture.".into(),
        });
    }
    if row.status != Status::Published {
        return Err(ApiError::Conflict {
            code: "not_published",
            detail: "Only a published picture is acknowledged.".into(),
        });
    }
    let answer = answer(&caller, &row, body.0.note.as_deref());
    reference::insert_acknowledgement(&tx, Uuid::new_v4(), &answer, body.0.kind).await?;
    // Needing more information opens (or continues) the organisation's question thread
    // with the originator, its note the first message (docs/threads.md).
    let note = body.0.note.as_deref();
    let thread = if asks {
        Some(crate::thread_messages::open_for_acknowledgement(&tx, &caller, &row, note).await?)
    } else {
        None
    };
    let originator = [row.originator_id];
    let kind = sitrep_db::events::EventType::Acknowledged;
    sitrep_db::events::append(&tx, kind, row.id, row.revision, row.tier, row.tlp, Some(&originator)).await?;
    let status = ack_status(&tx, &caller, &row).await?;
    access_log::write(&tx, &meta, access_log::picture(&meta, &caller, &row).status(201)).await?;
    // The thread opened or written in is in the log as a question's is.
    if let Some(thread) = thread {
        access_log::write(&tx, &meta, crate::thread_messages::record(&meta, &caller, &row, thread).status(201)).await?;
    }
    tx.commit().await?;
    Ok(HttpResponse::Created().json(status))
}

async fn ack_status(
    c: &impl sitrep_db::GenericClient,
    p: &Principal,
    row: &PictureRow,
) -> Result<AcknowledgementStatus, ApiError> {
    let insider = insider(&Viewer::from(&p.permissions), row.originator_id);
    let scope = if insider { None } else { Some(p.organisation_id) };
    let mut acknowledgements = reference::acknowledgements(c, row.id, scope).await?;
    // A note is under the picture's TLP (a `need_more_info` note is the first message of
    // the organisation's thread): the secretariat, where it sees the picture as metadata
    // only, sees who acknowledged, how and when, and no note.
    if sight_of(p, row) != Sight::Full {
        for a in acknowledgements.iter_mut().filter(|a| a.organisation.id != p.organisation_id) {
            a.note = None;
        }
    }
    let (deadline, pending) = reference::pending_recipients(c, row.id).await?;
    let late = deadline.is_some_and(|d| d < chrono::Utc::now());
    let overdue =
        if insider { late && !pending.is_empty() } else { late && pending.iter().any(|o| o.id == p.organisation_id) };
    Ok(AcknowledgementStatus { deadline, acknowledgements, pending: insider.then_some(pending), overdue })
}

/// A picture's acknowledgements and deadline. The originator and the secretariat see
/// every recipient and who is still pending; others see their own organisation's.
#[utoipa::path(
    get, path = "/api/v1/pictures/{id}/acknowledgements", tag = "pictures",
    security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = AcknowledgementStatus), AuthFailures, NotFound, ServerFailures)
)]
pub async fn list_acknowledgements(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<Authenticated>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let client = meta.client(&state.pool).await?;
    let row =
        pictures::find(&client, &Viewer::from(&caller.permissions), id.into_inner(), false).await?.ok_or(NOT_FOUND)?;
    let status = ack_status(&client, &caller, &row).await?;
    access_log::commit(&state, &meta, access_log::picture(&meta, &caller, &row)).await?;
    Ok(HttpResponse::Ok().json(status))
}

/// Record the RAS contact point's release decision on a picture it reads.
#[utoipa::path(
    post, path = "/api/v1/pictures/{id}/release-decisions", tag = "pictures",
    security(("bearer" = [])), params(("id" = Uuid, Path)), request_body = CreateReleaseDecision,
    responses((status = 201, body = ReleaseDecision), AuthFailures, Forbidden, NotFound, Conflict, BodyFailures, ServerFailures)
)]
pub async fn record_release_decision(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<ReadPictures>,
    id: web::Path<Uuid>,
    body: Json<CreateReleaseDecision>,
) -> Result<HttpResponse, ApiError> {
    note("note", &body.0.note, RELEASE_NOTE)?;
    if caller.permissions.reach != Reach::RasContactPoint {
        return Err(ApiError::Forbidden {
            code: "not_ras_contact_point",
            detail: "Only the RAS contact point records release decisions.",
        });
    }
    let mut client = meta.client(&state.pool).await?;
    let tx = client.transaction().await?;
    let row =
        pictures::find(&tx, &Viewer::from(&caller.permissions), id.into_inner(), false).await?.ok_or(NOT_FOUND)?;
    if sight_of(&caller, &row) != Sight::Full {
        return Err(NOT_FOUND);
    }
    if row.status != Status::Published {
        return Err(ApiError::Conflict {
            code: "not_published",
            detail: "Only a published picture is released.".into(),
        });
    }
    let decision_id = Uuid::new_v4();
    let answer = answer(&caller, &row, body.0.note.as_deref());
    reference::insert_release_decision(&tx, decision_id, &answer, body.0.disposition).await?;
    let decision = reference::release_decisions(&tx, row.id).await?.into_iter().find(|d| d.id == decision_id);
    let decision = decision.ok_or_else(|| ApiError::Internal(anyhow::anyhow!("release decision vanished")))?;
    access_log::write(&tx, &meta, access_log::picture(&meta, &caller, &row).status(201)).await?;
    tx.commit().await?;
    Ok(HttpResponse::Created().json(decision))
}

/// Release decisions on a picture: for the originator, the secretariat and the RAS
/// contact point.
#[utoipa::path(
    get, path = "/api/v1/pictures/{id}/release-decisions", tag = "pictures",
    security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = Vec<ReleaseDecision>), AuthFailures, NotFound, ServerFailures)
)]
pub async fn list_release_decisions(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<Authenticated>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let client = meta.client(&state.pool).await?;
    let row =
        pictures::find(&client, &Viewer::from(&caller.permissions), id.into_inner(), false).await?.ok_or(NOT_FOUND)?;
    let entitled = insider(&Viewer::from(&caller.permissions), row.originator_id)
        || (caller.permissions.reach == Reach::RasContactPoint && sight_of(&caller, &row) == Sight::Full);
    if !entitled {
        return Err(NOT_FOUND);
    }
    let decisions = reference::release_decisions(&client, row.id).await?;
    access_log::commit(&state, &meta, access_log::picture(&meta, &caller, &row)).await?;
    Ok(HttpResponse::Ok().json(decisions))
}

/// An election's or a community's code, as the OpenAPI document states it.
pub const CODE_PATTERN: &str = "^[A-Z][A-Z0-9-]{2,31}$";
/// An election's or a community's English name.
pub const NAME: TextRule = TextRule::line(1, 200);
/// A community's description.
pub const DESCRIPTION: TextRule = TextRule::lines(1, 1000);
/// An acknowledgement's note.
pub const ACKNOWLEDGEMENT_NOTE: TextRule = TextRule::lines(1, 1000);
/// A release decision's note.
pub const RELEASE_NOTE: TextRule = TextRule::lines(1, 2000);

fn check_code(field: &str, code: &str) -> Result<(), ApiError> {
    let ok = (3..=32).contains(&code.len())
        && code.starts_with(|c: char| c.is_ascii_uppercase())
        && code.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(field, "invalid_value", "3–32 of A-Z, 0-9 and '-', starting with a letter"))
    }
}

fn check_name(field: &str, name: &str) -> Result<(), ApiError> {
    NAME.check(field, name).map_err(|e: Invalid| ApiError::Invalid(e.into()))
}

/// Elections, newest first (with their derived voting windows).
#[utoipa::path(
    get, path = "/api/v1/elections", tag = "reference",
    security(("bearer" = [])), responses((status = 200, body = Vec<Election>), AuthFailures, ServerFailures)
)]
pub async fn list_elections(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<Authenticated>,
) -> Result<HttpResponse, ApiError> {
    let client = meta.client(&state.pool).await?;
    let items = reference::elections(&client).await?;
    let ids = items.iter().map(|e| e.id).collect();
    access_log::commit(&state, &meta, access_log::by(&meta, &caller).objects("election", ids)).await?;
    Ok(HttpResponse::Ok().json(items))
}

/// Create an election (secretariat).
#[utoipa::path(
    post, path = "/api/v1/elections", tag = "reference",
    security(("bearer" = [])), request_body = CreateElection,
    responses((status = 201, body = Election), AuthFailures, Forbidden, Conflict, BodyFailures, ServerFailures)
)]
pub async fn create_election(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<SecretariatOnly>,
    body: Json<CreateElection>,
) -> Result<HttpResponse, ApiError> {
    let e = body.0;
    check_code("code", &e.code)?;
    check_name("name_en", &e.name_en)?;
    let mut client = meta.client(&state.pool).await?;
    let tx = client.transaction().await?;
    let id = Uuid::new_v4();
    let election =
        reference::insert_election(&tx, id, &e.code, e.election_type, &e.name_en, e.election_day, e.hourly_digest)
            .await
            .map_err(ApiError::on_unique("election_code_taken", "An election with that code exists."))?;
    access_log::write(&tx, &meta, access_log::by(&meta, &caller).object("election", id).status(201)).await?;
    tx.commit().await?;
    Ok(HttpResponse::Created().json(election))
}

/// One election.
#[utoipa::path(
    get, path = "/api/v1/elections/{id}", tag = "reference",
    security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = Election), AuthFailures, NotFound, ServerFailures)
)]
pub async fn get_election(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<Authenticated>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let client = meta.client(&state.pool).await?;
    let e = reference::get_election(&client, id).await?.ok_or(ApiError::not_found("election_not_found"))?;
    access_log::commit(&state, &meta, access_log::by(&meta, &caller).object("election", id)).await?;
    Ok(HttpResponse::Ok().json(e))
}

/// Rename an election or set its day (secretariat).
#[utoipa::path(
    patch, path = "/api/v1/elections/{id}", tag = "reference",
    security(("bearer" = [])), params(("id" = Uuid, Path)), request_body = UpdateElection,
    responses((status = 200, body = Election), AuthFailures, Forbidden, NotFound, BodyFailures, ServerFailures)
)]
pub async fn update_election(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<SecretariatOnly>,
    id: web::Path<Uuid>,
    body: Json<UpdateElection>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    if let Some(name) = &body.0.name_en {
        check_name("name_en", name)?;
    }
    let mut client = meta.client(&state.pool).await?;
    let tx = client.transaction().await?;
    let e = reference::update_election(&tx, id, body.0.name_en.as_deref(), body.0.election_day, body.0.hourly_digest)
        .await?
        .ok_or(ApiError::not_found("election_not_found"))?;
    access_log::write(&tx, &meta, access_log::by(&meta, &caller).object("election", id)).await?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(e))
}

/// Communities that TLP:GREEN pictures may name.
#[utoipa::path(
    get, path = "/api/v1/communities", tag = "reference",
    security(("bearer" = [])), responses((status = 200, body = Vec<Community>), AuthFailures, ServerFailures)
)]
pub async fn list_communities(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<Authenticated>,
) -> Result<HttpResponse, ApiError> {
    let client = meta.client(&state.pool).await?;
    let items = reference::communities(&client).await?;
    access_log::commit(&state, &meta, access_log::by(&meta, &caller)).await?;
    Ok(HttpResponse::Ok().json(items))
}

/// Create a community (secretariat).
#[utoipa::path(
    post, path = "/api/v1/communities", tag = "reference",
    security(("bearer" = [])), request_body = CreateCommunity,
    responses((status = 201, body = Community), AuthFailures, Forbidden, Conflict, BodyFailures, ServerFailures)
)]
pub async fn create_community(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<SecretariatOnly>,
    body: Json<CreateCommunity>,
) -> Result<HttpResponse, ApiError> {
    let c = body.0;
    check_code("code", &c.code)?;
    check_name("name_en", &c.name_en)?;
    if let Some(d) = &c.description {
        DESCRIPTION.check("description", d).map_err(|e| ApiError::Invalid(e.into()))?;
    }
    let mut client = meta.client(&state.pool).await?;
    let tx = client.transaction().await?;
    let community = reference::insert_community(&tx, &c.code, &c.name_en, c.description.as_deref())
        .await
        .map_err(ApiError::on_unique("community_code_taken", "A community with that code exists."))?;
    access_log::write(&tx, &meta, access_log::by(&meta, &caller).object("community", &c.code).status(201)).await?;
    tx.commit().await?;
    Ok(HttpResponse::Created().json(community))
}

/// The DISARM and ATT&CK techniques pictures may name: the pinned lists, their versions,
/// and the STIX id TAXII exports each under (DISARM's own where its STIX bundle has the
/// technique; MITRE's for ATT&CK).
#[utoipa::path(
    get, path = "/api/v1/techniques", tag = "reference",
    security(("bearer" = [])), responses((status = 200, body = Techniques), AuthFailures, ServerFailures)
)]
pub async fn list_techniques(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<Authenticated>,
) -> Result<HttpResponse, ApiError> {
    access_log::commit(&state, &meta, access_log::by(&meta, &caller)).await?;
    Ok(HttpResponse::Ok().json(sitrep_stix::disarm::techniques()))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Whatever the document's code pattern allows, the check takes.
        #[test]
        fn every_code_the_pattern_allows_is_taken(
            code in proptest::string::string_regex(CODE_PATTERN.trim_start_matches('^').trim_end_matches('$')).unwrap(),
        ) {
            prop_assert!(check_code("code", &code).is_ok(), "{:?}", code);
        }
    }

    #[test]
    fn what_the_code_pattern_refuses_the_check_refuses_at_the_edges() {
        let pattern = regex::Regex::new(CODE_PATTERN).unwrap();
        for c in ["AB", "1AB", "abc", "A_B", &"A".repeat(33)] {
            assert!(!pattern.is_match(c) && check_code("code", c).is_err(), "{c:?}");
        }
    }
}
