//! Questions on a picture: threads between an asking organisation and the originator
//! (docs/threads.md). Who sees and writes a thread is `sitrep_domain::thread`, asked of
//! every thread read here; a thread a caller may not see does not exist for it (`404`,
//! absent from every list).

use actix_web::{HttpResponse, web};
use sitrep_db::GenericClient;
use sitrep_db::pictures;
use sitrep_db::threads::{self, ThreadRow};
use sitrep_domain::thread::{Refused, ThreadSight, may_ask, may_write, party, thread_sight};
use sitrep_domain::validation::TextRule;
use sitrep_domain::visibility::Viewer;
use sitrep_types::{CreateThreadMessage, MyThreads, Thread, ThreadList, ThreadMessage, ThreadOpenedAs, ThreadSummary};
use uuid::Uuid;

use crate::access_log::{self, RecordExt};
use crate::body::Json;
use crate::docs::{AuthFailures, BodyFailures, Conflict, Forbidden, NotFound, ServerFailures};
use crate::error::ApiError;
use crate::meta::RequestMeta;
use crate::principal::{Authenticated, Caller, Principal, ReadPictures};
use crate::state::AppState;
use crate::thread_messages::{THREAD_NOT_FOUND, one_thread, record, view, write_message};

endpoints! {
    "/pictures/{id}/threads" { GET "thread.list" => list_threads, POST "thread.ask" => ask }
    "/pictures/{id}/threads/{thread_id}" { GET "thread.view" => get_thread }
    "/pictures/{id}/threads/{thread_id}/messages" { POST "thread.message" => post_message }
    "/me/threads" { GET "thread.list_mine" => my_threads }
}

const PICTURE_NOT_FOUND: ApiError = ApiError::NotFound { code: "picture_not_found" };
/// The most threads `GET /me/threads` lists.
const MY_THREADS: i64 = 200;

fn refusal(r: Refused) -> ApiError {
    match r {
        Refused::OwnPicture => ApiError::conflict("own_picture", "The originator does not ask about its own picture."),
        Refused::NotPublished => {
            ApiError::conflict("not_published", "Questions are asked and answered on a published picture only.")
        }
        Refused::NotAParty => ApiError::Forbidden {
            code: "not_a_party",
            detail: "Only the asking organisation and the originator write in a thread.",
        },
    }
}

/// A message's text.
pub const BODY: TextRule = TextRule::lines(1, 4000);

fn check_body(body: &CreateThreadMessage) -> Result<(), ApiError> {
    BODY.check("body", &body.body).map_err(|e| ApiError::Invalid(e.into()))
}

/// The threads of a picture the caller sees: its own organisation's (or, for the
/// originator, every one), and for the secretariat every one (without the messages where
/// it sees the picture as metadata only). Reading them marks them read.
#[utoipa::path(
    get, path = "/api/v1/pictures/{id}/threads", tag = "threads",
    security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = ThreadList), AuthFailures, NotFound, ServerFailures)
)]
pub async fn list_threads(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<Authenticated>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let client = meta.client(&state.pool).await?;
    let v = Viewer::from(&caller.permissions);
    let row = pictures::find(&client, &v, id.into_inner(), false).await?.ok_or(PICTURE_NOT_FOUND)?;
    let seen: Vec<(ThreadRow, ThreadSight)> =
        threads::for_picture(&client, caller.user_id, caller.organisation_id, row.id)
            .await?
            .into_iter()
            .map(|t| {
                let sight = thread_sight(&v, &row.handling(), t.asking.id);
                (t, sight)
            })
            .filter(|(_, sight)| *sight != ThreadSight::None)
            .collect();
    let full: Vec<Uuid> = seen.iter().filter(|(_, s)| *s == ThreadSight::Full).map(|(t, _)| t.id).collect();
    let mut messages: std::collections::HashMap<Uuid, Vec<ThreadMessage>> = std::collections::HashMap::new();
    for (thread, m) in threads::messages(&client, &full).await? {
        messages.entry(thread).or_default().push(m);
    }
    let mut list = Vec::new();
    for (t, sight) in seen {
        let own = (sight == ThreadSight::Full).then(|| messages.remove(&t.id).unwrap_or_default());
        list.push(view(&client, &caller, &row, t, own).await?);
    }
    let ids = list.iter().map(|t| t.id).collect();
    let mut r = access_log::picture(&meta, &caller, &row).objects("thread", ids);
    r.object_id = None;
    r.reason = Some(format!("picture:{}", row.id));
    access_log::commit(&state, &meta, r).await?;
    Ok(HttpResponse::Ok().json(ThreadList { threads: list }))
}

/// Ask the originator about a published picture the caller reads: opens the caller's
/// organisation's thread on it (one per organisation and picture; a second question
/// continues it) with the question as a message.
#[utoipa::path(
    post, path = "/api/v1/pictures/{id}/threads", tag = "threads",
    security(("bearer" = [])), params(("id" = Uuid, Path)), request_body = CreateThreadMessage,
    responses((status = 201, body = Thread), AuthFailures, Forbidden, NotFound, Conflict, BodyFailures, ServerFailures)
)]
pub async fn ask(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<ReadPictures>,
    id: web::Path<Uuid>,
    body: Json<CreateThreadMessage>,
) -> Result<HttpResponse, ApiError> {
    check_body(&body.0)?;
    let mut client = meta.client(&state.pool).await?;
    let tx = client.transaction().await?;
    let v = Viewer::from(&caller.permissions);
    // Locked, so that a narrowing of the picture is either before this (and decides it)
    // or after it.
    let row = pictures::find(&tx, &v, id.into_inner(), true).await?.ok_or(PICTURE_NOT_FOUND)?;
    if !may_ask(&v, &row.handling()).map_err(refusal)? {
        return Err(PICTURE_NOT_FOUND);
    }
    let (thread, _) =
        threads::open(&tx, row.id, caller.organisation_id, caller.user_id, ThreadOpenedAs::Question).await?;
    let thread = write_message(&tx, &caller, &row, thread, &body.0.body).await?;
    access_log::write(&tx, &meta, record(&meta, &caller, &row, thread.id).status(201)).await?;
    tx.commit().await?;
    Ok(created(thread))
}

fn created(thread: Thread) -> HttpResponse {
    let location = format!("/api/v1/pictures/{}/threads/{}", thread.picture_id, thread.id);
    HttpResponse::Created().insert_header(("Location", location)).json(thread)
}

/// One thread of a picture, with its messages (reading it marks it read).
#[utoipa::path(
    get, path = "/api/v1/pictures/{id}/threads/{thread_id}", tag = "threads",
    security(("bearer" = [])), params(("id" = Uuid, Path), ("thread_id" = Uuid, Path)),
    responses((status = 200, body = Thread), AuthFailures, NotFound, ServerFailures)
)]
pub async fn get_thread(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<Authenticated>,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (id, thread) = path.into_inner();
    let client = meta.client(&state.pool).await?;
    let v = Viewer::from(&caller.permissions);
    let row = pictures::find(&client, &v, id, false).await?.ok_or(PICTURE_NOT_FOUND)?;
    let t = threads::find(&client, caller.user_id, caller.organisation_id, row.id, thread).await?;
    let Some((t, sight)) = t.map(|t| {
        let s = thread_sight(&v, &row.handling(), t.asking.id);
        (t, s)
    }) else {
        return Err(THREAD_NOT_FOUND);
    };
    if sight == ThreadSight::None {
        return Err(THREAD_NOT_FOUND);
    }
    let messages = if sight == ThreadSight::Full { Some(one_thread(&client, t.id).await?) } else { None };
    let view = view(&client, &caller, &row, t, messages).await?;
    access_log::commit(&state, &meta, record(&meta, &caller, &row, thread)).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Write in a thread: the asking organisation and the originator, while the picture is
/// published and they read it in full.
#[utoipa::path(
    post, path = "/api/v1/pictures/{id}/threads/{thread_id}/messages", tag = "threads",
    security(("bearer" = [])), params(("id" = Uuid, Path), ("thread_id" = Uuid, Path)),
    request_body = CreateThreadMessage,
    responses((status = 201, body = Thread), AuthFailures, Forbidden, NotFound, Conflict, BodyFailures, ServerFailures)
)]
pub async fn post_message(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<Authenticated>,
    path: web::Path<(Uuid, Uuid)>,
    body: Json<CreateThreadMessage>,
) -> Result<HttpResponse, ApiError> {
    check_body(&body.0)?;
    let (id, thread) = path.into_inner();
    let mut client = meta.client(&state.pool).await?;
    let tx = client.transaction().await?;
    let v = Viewer::from(&caller.permissions);
    let row = pictures::find(&tx, &v, id, true).await?.ok_or(PICTURE_NOT_FOUND)?;
    let t =
        threads::find(&tx, caller.user_id, caller.organisation_id, row.id, thread).await?.ok_or(THREAD_NOT_FOUND)?;
    if !may_write(&v, &row.handling(), t.asking.id).map_err(refusal)? {
        return Err(THREAD_NOT_FOUND);
    }
    let thread = write_message(&tx, &caller, &row, t.id, &body.0.body).await?;
    access_log::write(&tx, &meta, record(&meta, &caller, &row, thread.id).status(201)).await?;
    tx.commit().await?;
    Ok(created(thread))
}

/// The threads of the caller's organisation (asked by it, or on its pictures), most
/// recent activity first (at most 200), with the number of unread messages; for the
/// secretariat every thread, as it may see each.
#[utoipa::path(
    get, path = "/api/v1/me/threads", tag = "threads",
    security(("bearer" = [])),
    responses((status = 200, body = MyThreads), AuthFailures, ServerFailures)
)]
pub async fn my_threads(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<Authenticated>,
) -> Result<HttpResponse, ApiError> {
    let client = meta.client(&state.pool).await?;
    let mine = mine(&client, &caller).await?;
    let ids = mine.threads.iter().map(|t| t.id).collect();
    access_log::commit(&state, &meta, access_log::by(&meta, &caller).objects("thread", ids)).await?;
    Ok(HttpResponse::Ok().json(mine))
}

/// The caller's threads as `GET /me/threads` lists them.
pub async fn mine(c: &impl GenericClient, p: &Principal) -> Result<MyThreads, ApiError> {
    let v = Viewer::from(&p.permissions);
    let rows = threads::mine(c, p.user_id, p.organisation_id, v.secretariat, MY_THREADS).await?;
    let threads: Vec<ThreadSummary> = rows
        .into_iter()
        .filter_map(|r| {
            let h = r.handling();
            let sight = thread_sight(&v, &h, r.thread.asking.id);
            let is_party = party(&v, &h, r.thread.asking.id) && sight == ThreadSight::Full;
            (sight != ThreadSight::None).then_some(ThreadSummary {
                id: r.thread.id,
                picture_id: r.thread.picture_id,
                picture_reference: r.reference,
                asking_organisation: r.thread.asking,
                originator: r.originator,
                message_count: r.thread.message_count,
                last_message_at: r.thread.last_message_at,
                unread: if is_party { r.thread.unread } else { 0 },
            })
        })
        .collect();
    let unread = threads.iter().map(|t| t.unread).sum();
    Ok(MyThreads { threads, unread })
}
