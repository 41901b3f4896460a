//! `GET /pictures/summary`: the board's timeline and region table in one read — the
//! published pictures the caller reads in full, counted in the database by domain,
//! window and severity and by area code and severity (docs/console.md, "Timeline").

use actix_web::{HttpResponse, web};
use chrono::{Days, NaiveDate, NaiveTime, TimeZone, Utc};
use serde::Deserialize;
use sitrep_db::pictures::{self, SummaryFilter};
use sitrep_db::reference;
use sitrep_domain::charts::{self, SUMMARY_MAX_DAYS};
use sitrep_domain::visibility::Viewer;
use sitrep_types::PictureSummary;
use utoipa::IntoParams;
use uuid::Uuid;

use crate::access_log::{self, RecordExt};
use crate::body::Query;
use crate::docs::{AuthFailures, QueryFailures, ServerFailures};
use crate::error::ApiError;
use crate::meta::RequestMeta;
use crate::principal::{Authenticated, Caller};
use crate::state::AppState;

/// The days counted when no window is asked for: the last fortnight.
pub const DEFAULT_DAYS: u64 = 14;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SummaryQuery {
    /// The first local day counted, `YYYY-MM-DD` (default: 13 days before `to`).
    pub from: Option<NaiveDate>,
    /// The last local day counted (default: today in the deployment's time zone). At most
    /// 92 days from `from` to `to`.
    pub to: Option<NaiveDate>,
    /// Count the pictures of this election over the windows of its calendar instead of by
    /// day (not with `from` or `to`; the election must have an election day).
    pub election: Option<Uuid>,
    /// Count pictures whose `valid_until` has passed too (default false, as in the list).
    pub include_expired: Option<bool>,
}

/// Counts of the published pictures the caller reads in full — exactly those that
/// `GET /pictures?status=published` shows it with their severity — by domain, window and
/// severity and by area code and severity (no code: national). Windows are the
/// deployment's local days (the last 14 by default, at most 92) or the windows of an
/// election's calendar. Pictures the secretariat sees only as metadata are not counted:
/// their domains, severity and areas are not shown to it. One access-log record per call.
#[utoipa::path(
    get, path = "/api/v1/pictures/summary", tag = "pictures",
    security(("bearer" = [])), params(SummaryQuery),
    responses((status = 200, body = PictureSummary), AuthFailures, QueryFailures, ServerFailures)
)]
pub async fn picture_summary(
    state: web::Data<AppState>,
    meta: RequestMeta,
    caller: Caller<Authenticated>,
    query: Query<SummaryQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.0;
    let tz = crate::documents::zone(&state.time_zone);
    let mut client = meta.client(&state.pool).await?;
    let (windows, scope) = match q.election {
        Some(id) => {
            if q.from.is_some() || q.to.is_some() {
                return Err(ApiError::invalid("election", "conflict", "an election or from/to, not both"));
            }
            let election = reference::get_election(&client, id)
                .await?
                .ok_or_else(|| ApiError::invalid("election", "not_found", "no such election"))?;
            let phases = election
                .phases
                .ok_or_else(|| ApiError::invalid("election", "no_calendar", "the election has no election day"))?;
            (charts::phase_windows(&phases), format!("election:{id}"))
        }
        None => {
            let to = q.to.unwrap_or_else(|| Utc::now().with_timezone(&tz).date_naive());
            let from = match q.from {
                Some(from) => from,
                None => to
                    .checked_sub_days(Days::new(DEFAULT_DAYS - 1))
                    .ok_or_else(|| ApiError::invalid("to", "invalid_value", "out of range"))?,
            };
            if from > to {
                return Err(ApiError::invalid("from", "after_to", "from is after to"));
            }
            if (to - from).num_days() + 1 > SUMMARY_MAX_DAYS {
                return Err(ApiError::invalid("from", "window_too_long", "at most 92 days from from to to"));
            }
            (charts::day_windows(from, to), format!("{from}..{to}"))
        }
    };
    // The windows' first and last local days as instants (open ends stay open).
    let start = |d: NaiveDate| {
        let midnight = d.and_time(NaiveTime::MIN);
        tz.from_local_datetime(&midnight).earliest().map_or_else(|| midnight.and_utc(), |t| t.with_timezone(&Utc))
    };
    let (first, last) = charts::span(&windows);
    let filter = SummaryFilter {
        time_zone: tz.name().to_owned(),
        election: q.election,
        from: first.map(start),
        until: last.and_then(|d| d.succ_opt()).map(start),
        include_expired: q.include_expired.unwrap_or(false),
    };
    // On the primary: a narrowing takes effect at once (a replica's aggregate could not be
    // filtered picture by picture afterwards, as the list's page is).
    let counted = pictures::summary(&mut client, &Viewer::from(&caller.permissions), &filter).await?;
    let summary = PictureSummary {
        time_zone: filter.time_zone,
        election: q.election,
        by_domain: charts::by_window(&windows, &counted.days),
        by_area: charts::by_area(&counted.areas),
        windows,
        pictures: counted.pictures,
    };
    access_log::commit(&state, &meta, access_log::by(&meta, &caller).object("picture_summary", scope)).await?;
    Ok(HttpResponse::Ok().json(summary))
}
