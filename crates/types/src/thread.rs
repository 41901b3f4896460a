//! Questions on a picture: threads between an asking organisation and the originator.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::picture::Originator;

/// `POST /api/v1/pictures/{id}/threads` and `POST …/threads/{thread_id}/messages`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateThreadMessage {
    /// 1 to 4000 characters; line breaks allowed, other control characters not.
    #[schema(min_length = 1, max_length = 4000)]
    pub body: String,
}

/// How a thread was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ThreadOpenedAs {
    /// By a `need_more_info` acknowledgement (its note is the first message).
    NeedMoreInfo,
    /// By a question.
    Question,
}

impl ThreadOpenedAs {
    pub fn as_str(self) -> &'static str {
        match self {
            ThreadOpenedAs::NeedMoreInfo => "need_more_info",
            ThreadOpenedAs::Question => "question",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "need_more_info" => Some(ThreadOpenedAs::NeedMoreInfo),
            "question" => Some(ThreadOpenedAs::Question),
            _ => None,
        }
    }
}

/// One message of a thread. Messages are never changed or deleted.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ThreadMessage {
    pub id: Uuid,
    /// The picture's revision in force when it was written.
    pub revision: i32,
    pub author_id: Uuid,
    pub organisation: Originator,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

/// A thread on a picture between `asking_organisation` and the picture's originator.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Thread {
    pub id: Uuid,
    pub picture_id: Uuid,
    pub asking_organisation: Originator,
    pub opened_as: ThreadOpenedAs,
    pub created_at: DateTime<Utc>,
    pub message_count: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_message_at: Option<DateTime<Utc>>,
    /// Messages of the other party written after the caller last read the thread (for a
    /// party; the secretariat's count is always 0).
    pub unread: i64,
    /// The messages, oldest first; left out for the secretariat where it sees the picture
    /// as metadata only (a thread is under the picture's TLP).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub messages: Option<Vec<ThreadMessage>>,
}

/// `GET /api/v1/pictures/{id}/threads`: the threads of a picture the caller sees.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ThreadList {
    pub threads: Vec<Thread>,
}

/// A thread the caller's organisation is a party to, for the console's list of questions.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ThreadSummary {
    pub id: Uuid,
    pub picture_id: Uuid,
    pub picture_reference: String,
    pub asking_organisation: Originator,
    pub originator: Originator,
    pub message_count: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_message_at: Option<DateTime<Utc>>,
    pub unread: i64,
}

/// `GET /api/v1/me/threads`: the caller's organisation's threads, most recent first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MyThreads {
    pub threads: Vec<ThreadSummary>,
    /// Unread messages over all of them.
    pub unread: i64,
}
