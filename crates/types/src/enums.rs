//! Closed vocabularies of situation pictures (docs/pictures.md, "Model"), as wire enums.

use serde::{Deserialize, Serialize};

/// Declares a wire enum with its snake_case names, `as_str`, `parse` and `ALL`.
macro_rules! vocabulary {
    ($(#[doc = $doc:literal])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[doc = $doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $(#[serde(rename = $text)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            pub fn parse(s: &str) -> Option<$name> {
                match s {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        // Written by hand: the derive does not see the `serde(rename)` of a variant made
        // by a macro, and would document the Rust names instead of the wire values.
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                let doc: &str = concat!($($doc, "\n"),*);
                let description = doc.lines().map(str::trim).collect::<Vec<_>>().join(" ");
                utoipa::openapi::schema::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .description((!description.is_empty()).then_some(description))
                    .enum_values(Some([$($text),+]))
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {
            fn name() -> std::borrow::Cow<'static, str> {
                std::borrow::Cow::Borrowed(stringify!($name))
            }
        }
    };
}

vocabulary!(
    /// What kind of situation picture this is.
    Kind { Alert = "alert", Update = "update", PeriodicOverview = "periodic_overview", Assessment = "assessment", Advisory = "advisory" }
);
vocabulary!(
    /// Lifecycle: `draft` → `in_review` → `published` → `superseded` | `withdrawn` | `closed`.
    Status { Draft = "draft", InReview = "in_review", Published = "published", Superseded = "superseded", Withdrawn = "withdrawn", Closed = "closed" }
);
vocabulary!(
    /// The group's three situation pictures.
    Domain { InformationInfluence = "information_influence", Hybrid = "hybrid", Cyber = "cyber" }
);
vocabulary!(
    /// Working languages of the texts.
    Lang { Fi = "fi", Sv = "sv", En = "en" }
);
vocabulary!(
    /// Impact on the conduct of elections, or on public confidence in them.
    Impact { None = "none", Minor = "minor", Moderate = "moderate", Significant = "significant", Severe = "severe", Unknown = "unknown" }
);
vocabulary!(
    /// Severity; derived from the larger impact unless overridden with a reason.
    Severity { Low = "low", Medium = "medium", High = "high", Critical = "critical" }
);
vocabulary!(
    /// Urgency; sets the acknowledgement deadline (immediate 1 h, priority 4 h).
    Urgency { Routine = "routine", Priority = "priority", Immediate = "immediate" }
);
vocabulary!(
    /// How the situation is expected to develop.
    Outlook { Escalating = "escalating", Stable = "stable", DeEscalating = "de_escalating", Unknown = "unknown" }
);
vocabulary!(
    /// Admiralty source reliability, A (reliable) to F (cannot be judged).
    SourceReliability { A = "A", B = "B", C = "C", D = "D", E = "E", F = "F" }
);
vocabulary!(
    /// Admiralty information credibility, 1 (confirmed) to 6 (cannot be judged).
    Credibility { C1 = "1", C2 = "2", C3 = "3", C4 = "4", C5 = "5", C6 = "6" }
);
vocabulary!(
    /// Phase of the election the picture concerns.
    ElectionPhase {
        PreCampaign = "pre_campaign", CandidateNomination = "candidate_nomination", Campaign = "campaign",
        AdvanceVoting = "advance_voting", ElectionDay = "election_day", CountingResults = "counting_results",
        ConfirmationComplaints = "confirmation_complaints", PostElection = "post_election",
    }
);
vocabulary!(
    /// Geographic scope.
    GeoScope {
        National = "national", Constituency = "constituency", Region = "region", WellbeingCounty = "wellbeing_county",
        Municipality = "municipality", Abroad = "abroad", EuWide = "eu_wide", ForeignCountry = "foreign_country",
    }
);
vocabulary!(
    /// Who or what is affected.
    Target {
        ElectionAuthority = "election_authority", ElectionInformationSystem = "election_information_system",
        ResultsService = "results_service", VoterRegister = "voter_register", PollingStations = "polling_stations",
        AdvanceVotingAbroad = "advance_voting_abroad", VotersGeneral = "voters_general",
        VoterSegmentLanguage = "voter_segment_language", VoterSegmentOther = "voter_segment_other",
        Candidates = "candidates", Parties = "parties", Media = "media", Platforms = "platforms",
        ElectionOfficials = "election_officials",
    }
);
vocabulary!(
    /// Suspected actor type (no names of real groups).
    ActorType {
        State = "state", StateLinked = "state_linked", StateAligned = "state_aligned", Hacktivist = "hacktivist",
        Criminal = "criminal", DomesticIndividual = "domestic_individual", DomesticGroup = "domestic_group", Unknown = "unknown",
    }
);
vocabulary!(
    /// Confidence in the attribution, kept apart from information credibility.
    AttributionConfidence { None = "none", Low = "low", Moderate = "moderate", High = "high" }
);
vocabulary!(
    /// Traffic Light Protocol 2.0. `WHITE` is not accepted: send `CLEAR`.
    Tlp { Clear = "CLEAR", Green = "GREEN", Amber = "AMBER", AmberStrict = "AMBER+STRICT", Red = "RED" }
);
vocabulary!(
    /// Who receives the picture from the service (docs/pictures.md, "Who sees what");
    /// cumulative: each tier includes the audience of the one before it.
    Tier { Named = "named", Group = "group", GroupVirt = "group_virt", GroupVirtRas = "group_virt_ras", Public = "public" }
);
vocabulary!(
    /// Legal handling class. `TL_III`–`TL_I` are always refused; `TL_IV` only where the
    /// deployment is accredited.
    Classification {
        UnclassifiedPublic = "unclassified_public", UnclassifiedSecret = "unclassified_secret",
        TlIv = "TL_IV", TlIii = "TL_III", TlIi = "TL_II", TlI = "TL_I",
    }
);
vocabulary!(
    /// Kinds of indicator.
    IndicatorType {
        Domain = "domain", Url = "url", Ipv4 = "ipv4", Ipv6 = "ipv6", EmailAddress = "email_address",
        EmailSubject = "email_subject", SmsSenderId = "sms_sender_id", PhoneNumber = "phone_number",
        SocialAccount = "social_account", Hashtag = "hashtag", FileSha256 = "file_sha256", ImagePhash = "image_phash",
        TextFingerprint = "text_fingerprint", TelegramChannel = "telegram_channel",
    }
);
vocabulary!(
    /// Where an indicator was seen.
    Platform {
        X = "x", Facebook = "facebook", Instagram = "instagram", Tiktok = "tiktok", Telegram = "telegram",
        Youtube = "youtube", Vk = "vk", Web = "web", Sms = "sms", Email = "email", Other = "other",
    }
);
vocabulary!(
    /// Where a source's information came from.
    SourceType {
        OwnMonitoring = "own_monitoring", MemberAuthority = "member_authority", ElectionOfficial = "election_official",
        PlatformReport = "platform_report", Osint = "osint", Media = "media", CitizenReport = "citizen_report",
        Ras = "ras", ForeignPartner = "foreign_partner", Vendor = "vendor",
    }
);
vocabulary!(
    /// Who a recommended action is for.
    ActionAudience {
        MemberAuthorities = "member_authorities", ElectionVirt = "election_virt",
        CentralElectionBoards = "central_election_boards", PartiesCandidates = "parties_candidates",
        Public = "public", Platforms = "platforms", Media = "media",
    }
);
vocabulary!(
    /// EU FIMI toolbox response category.
    ResponseCategory {
        SituationalAwareness = "situational_awareness", ResilienceBuilding = "resilience_building",
        DisruptionRegulation = "disruption_regulation", ExternalAction = "external_action",
    }
);
vocabulary!(
    /// How a picture relates to another.
    Relation { Supersedes = "supersedes", FollowUpOf = "follow_up_of", DuplicateOf = "duplicate_of", PartOfCampaign = "part_of_campaign" }
);
vocabulary!(
    /// A recipient's acknowledgement.
    AckKind { Received = "received", Actioning = "actioning", NoAction = "no_action", NeedMoreInfo = "need_more_info" }
);
vocabulary!(
    /// The RAS contact point's decision on forwarding a picture to the Rapid Alert System.
    Disposition {
        NotReleased = "not_released", SharedForAwareness = "shared_for_awareness",
        AlertProposed = "alert_proposed", AlertRaised = "alert_raised",
    }
);
vocabulary!(
    /// Kinds of election.
    ElectionType {
        Parliamentary = "parliamentary", Presidential = "presidential", EuropeanParliament = "european_parliament",
        Municipal = "municipal", County = "county", AdvisoryReferendum = "advisory_referendum",
        AlandLegislative = "aland_legislative", AlandMunicipal = "aland_municipal",
    }
);
