//! The collections: one read-only collection per tier the caller reads, and the inbox.

use sitrep_stix::ids::{self};
use sitrep_types::{TaxiiCollection, Tier};
use uuid::Uuid;

use crate::error::ApiError;
use crate::principal::Principal;
use crate::taxii::{COLLECTION_NOT_FOUND, STIX_MEDIA_TYPE, TaxiiError, tiers, writes_inbox};

pub(super) fn collection(tier: Tier) -> TaxiiCollection {
    let (title, description) = match tier {
        Tier::Named => ("Named recipients", "Pictures for the originator and the organisations they name"),
        Tier::Group => ("Cooperation group", "Pictures for every member organisation of the cooperation group"),
        Tier::GroupVirt => ("Group and Election-VIRT", "Pictures for the group and the Election-VIRT organisations"),
        Tier::GroupVirtRas => {
            ("Group, Election-VIRT and RAS", "Pictures for the group, Election-VIRT and the RAS contact point")
        }
        Tier::Public => ("Public", "Pictures releasable outside the group"),
    };
    TaxiiCollection {
        id: ids::collection(tier),
        title: title.into(),
        description: Some(description.into()),
        alias: tier.as_str().into(),
        can_read: true,
        can_write: false,
        media_types: vec![STIX_MEDIA_TYPE.into()],
    }
}

/// The tier of collection `id`, if the caller reads it; otherwise `404`.
pub(super) fn tier_of(p: &Principal, id: &str) -> Result<Tier, TaxiiError> {
    let id = Uuid::parse_str(id).map_err(|_| COLLECTION_NOT_FOUND)?;
    if own_inbox(p, id) {
        return Err(TaxiiError::Api(ApiError::Forbidden {
            code: "collection_not_readable",
            detail: "The inbox is write-only: what is posted becomes drafts, read through the REST API.",
        }));
    }
    tiers(p).into_iter().find(|t| ids::collection(*t) == id).ok_or(COLLECTION_NOT_FOUND)
}

/// `id` is the inbox of the caller's organisation and the caller may write to it.
pub(super) fn own_inbox(p: &Principal, id: Uuid) -> bool {
    id == ids::inbox(p.organisation_id) && writes_inbox(p)
}
