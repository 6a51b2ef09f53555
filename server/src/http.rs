//! The HTTP and WebSocket API (docs/SYNC.md, "The network protocol").
//!
//! | method and path | who | body → answer |
//! |---|---|---|
//! | `POST /v1/push` | a device | `{"ops": [...]}` → the push answer |
//! | `POST /v1/pull` | a device | `{"since": bookmark or null, "limit": n}` → a page or `too_far_behind` |
//! | `GET /v1/events` | a device | WebSocket: server events as JSON text frames |
//! | `POST /admin/v1/deliver` | the admin | `{"user", "conversation", "message"}` → `{"stored": bool}` |
//! | `POST /admin/v1/deliver_many` | the admin | `{"user", "messages": [{"conversation", "message"}, ...]}` → `{"stored": n}` |
//! | `POST /admin/v1/forget_history` | the admin | `{"user"}` → `{"version": n}` |
//! | `GET /v1/health` | anyone | `{"ok": true}` |
//!
//! A device sends `Authorization: Bearer <token>` (see [`auth`](crate::auth)) and names itself
//! with `timconv-device: <name>`; the admin sends `Authorization: Bearer <admin secret>`.
//! Every refusal is a JSON body `{"code": n, "message": "..."}` with a 4xx status, and
//! changes nothing; a 503 (code 50004) means the database failed and the call may be retried.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::extract::ws::{Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures::StreamExt;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use timconv::transport::network::{
    DEVICE_HEADER, EVENTS_PATH, ErrorBody, PULL_PATH, PUSH_PATH, PullRequest, PushRequest,
};
use timconv::transport::{Bookmark, PendingOperation, PullResponse, ServerEvent};
use timconv::{ConversationId, ErrorCode, Message};
use tokio::sync::watch;

use crate::auth::{AuthError, now_secs};
use crate::db::{DbError, PullJson};
use crate::{App, hints::Subscription};

/// Longest device name, in bytes.
const MAX_DEVICE_BYTES: usize = 128;
/// Longest operation ID, in bytes.
const MAX_OP_ID_BYTES: usize = 128;

/// A refused request: status, code and message.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    code: i32,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: impl Into<i32>, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.into(),
            message: message.into(),
        }
    }

    fn bad(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code.as_i32(), message)
    }
}

impl From<AuthError> for ApiError {
    fn from(err: AuthError) -> Self {
        tracing::debug!(error = %err, "refused a token");
        Self::new(StatusCode::UNAUTHORIZED, err.code(), err.to_string())
    }
}

impl From<DbError> for ApiError {
    fn from(err: DbError) -> Self {
        match err {
            DbError::Refused(e) => Self::bad(e.code, e.message),
            other => {
                tracing::warn!(error = %other, "a request failed in the database");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    ErrorCode::ServerInternal.as_i32(),
                    "the database failed; try again",
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            code: self.code,
            message: self.message,
        };
        json(self.status, &body)
    }
}

fn json<T: Serialize>(status: StatusCode, value: &T) -> Response {
    json_then(status, value, |_| {})
}

/// As [`json`], with `finish` given the serialized bytes before they are sent.
fn json_then<T: Serialize>(
    status: StatusCode,
    value: &T,
    finish: impl FnOnce(&mut Vec<u8>),
) -> Response {
    match serde_json::to_vec(value) {
        Ok(mut bytes) => {
            finish(&mut bytes);
            (
                status,
                [(header::CONTENT_TYPE, "application/json")],
                Body::from(bytes),
            )
                .into_response()
        }
        Err(err) => {
            tracing::warn!(error = %err, "an answer did not serialize");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

type ApiResult = Result<Response, ApiError>;

/// The routes, over `app`.
pub(crate) fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/v1/health", get(health))
        .route(PUSH_PATH, post(push))
        .route(PULL_PATH, post(pull))
        .route(EVENTS_PATH, get(events))
        .route("/admin/v1/deliver", post(deliver))
        .route("/admin/v1/deliver_many", post(deliver_many))
        .route("/admin/v1/forget_history", post(forget_history))
        .fallback(|| async {
            ApiError::new(
                StatusCode::NOT_FOUND,
                ErrorCode::ServerInvalidParameters.as_i32(),
                "no such endpoint",
            )
        })
        .with_state(app)
}

async fn health() -> Response {
    json(StatusCode::OK, &serde_json::json!({"ok": true}))
}

fn bearer(headers: &HeaderMap) -> Result<&str, AuthError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or(AuthError::Missing)?
        .to_str()
        .map_err(|_| AuthError::Malformed)?;
    value
        .strip_prefix("Bearer ")
        .map(str::trim)
        .ok_or(AuthError::Malformed)
}

/// The user a device request acts for.
fn user(app: &App, headers: &HeaderMap) -> Result<String, ApiError> {
    Ok(app.keys.verify(bearer(headers)?, now_secs())?)
}

fn device(headers: &HeaderMap) -> Result<String, ApiError> {
    let Some(value) = headers.get(DEVICE_HEADER) else {
        return Ok("default".to_owned());
    };
    match value.to_str() {
        Ok(name) if !name.is_empty() && name.len() <= MAX_DEVICE_BYTES => Ok(name.to_owned()),
        _ => Err(ApiError::bad(
            ErrorCode::ServerInvalidParameters,
            format!("the {DEVICE_HEADER} header must be 1..={MAX_DEVICE_BYTES} bytes of text"),
        )),
    }
}

/// A user ID named by the admin: as a token could name it.
fn check_user(user: &str) -> Result<(), ApiError> {
    if user.is_empty() || user.len() > crate::auth::MAX_USER_ID_BYTES {
        return Err(ApiError::bad(
            ErrorCode::ServerInvalidParameters,
            format!("a user ID is 1..={} bytes", crate::auth::MAX_USER_ID_BYTES),
        ));
    }
    Ok(())
}

fn admin(app: &App, headers: &HeaderMap) -> Result<(), ApiError> {
    if app.keys.is_admin(bearer(headers)?) {
        Ok(())
    } else {
        Err(AuthError::BadSignature.into())
    }
}

/// Reads a JSON body of at most the configured size: 413 past it, 400 (6027) if it is not
/// JSON, 400 (50002) if it is JSON of the wrong shape (an unknown operation kind, say).
async fn read<T: DeserializeOwned>(
    app: &App,
    headers: &HeaderMap,
    body: Body,
) -> Result<T, ApiError> {
    let limit = app.options.max_body_bytes;
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::ServerInvalidParameters.as_i32(),
            format!("the body is over {limit} bytes"),
        )
    };
    // Past the limit the rest is read and dropped (up to a bound), so that the client, still
    // sending, gets the answer rather than a reset connection.
    let drain_limit = limit.saturating_mul(8).max(16 << 20);
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > drain_limit) {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    let mut seen = 0usize;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::bad(
                ErrorCode::ServerInvalidParameters,
                format!("reading the body: {e}"),
            )
        })?;
        seen = seen.saturating_add(chunk.len());
        if seen > drain_limit {
            break;
        }
        if seen <= limit {
            bytes.extend_from_slice(&chunk);
        }
    }
    if seen > limit {
        return Err(too_large());
    }
    let value: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad(ErrorCode::InvalidJson, format!("malformed JSON: {e}")))?;
    serde_json::from_value(value).map_err(|e| {
        ApiError::bad(
            ErrorCode::ServerInvalidParameters,
            format!("unexpected body: {e}"),
        )
    })
}

/// Checks a push's shape: how many operations and conversations, and that each operation ID
/// is short and appears once.
fn check_push(app: &App, ops: &[PendingOperation]) -> Result<(), ApiError> {
    let max = app.options.max_ops_per_push;
    if ops.len() > max {
        return Err(ApiError::bad(
            ErrorCode::BatchSize,
            format!("{} operations in one push (at most {max})", ops.len()),
        ));
    }
    let named: usize = ops.iter().map(|p| p.op.conversations().len()).sum();
    let max_named = max.saturating_mul(app.db.limits().max_batch);
    if named > max_named {
        return Err(ApiError::bad(
            ErrorCode::BatchSize,
            format!("{named} conversations named in one push (at most {max_named})"),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for p in ops {
        if p.id.0.is_empty() || p.id.0.len() > MAX_OP_ID_BYTES {
            return Err(ApiError::bad(
                ErrorCode::ServerInvalidParameters,
                format!("operation IDs are 1..={MAX_OP_ID_BYTES} bytes"),
            ));
        }
        if !seen.insert(&p.id) {
            return Err(ApiError::bad(
                ErrorCode::ServerInvalidParameters,
                format!("operation ID {} appears twice in one push", p.id),
            ));
        }
    }
    Ok(())
}

async fn push(State(app): State<Arc<App>>, headers: HeaderMap, body: Body) -> ApiResult {
    let user = user(&app, &headers)?;
    let device = device(&headers)?;
    let request: PushRequest = read(&app, &headers, body).await?;
    check_push(&app, &request.ops)?;
    let (answer, version) = app.db.push(&user, &device, &request.ops).await?;
    if let Some(version) = version {
        app.hub
            .publish(&user, Some(&device), version, &ServerEvent::Changed);
    }
    Ok(json(StatusCode::OK, &answer))
}

async fn pull(State(app): State<Arc<App>>, headers: HeaderMap, body: Body) -> ApiResult {
    let user = user(&app, &headers)?;
    let request: PullRequest = read(&app, &headers, body).await?;
    let since = match &request.since {
        None => None,
        Some(b) => match app.keys.open_bookmark(&user, &b.0) {
            Some(version) => Some(Bookmark(version.to_string())),
            None => {
                return Err(ApiError::bad(
                    ErrorCode::ServerInvalidParameters,
                    "a bookmark this server did not give to this user",
                ));
            }
        },
    };
    let limit = request
        .limit
        .unwrap_or(app.options.max_page)
        .clamp(1, app.options.max_page);
    let answer = app.db.pull_json(&user, since.as_ref(), limit).await?;
    let PullJson::Page(page) = answer else {
        return Ok(json(StatusCode::OK, &PullResponse::TooFarBehind));
    };
    let version: u64 = page.bookmark.0.parse().unwrap_or_default();
    Ok(page_body(
        &PageFields {
            pull: "page",
            bookmark: app.keys.sign_bookmark(&user, version),
            has_more: page.has_more,
        },
        &page.changes,
    ))
}

/// A pull page's fields but its changes: those of [`PullResponse::Page`].
#[derive(Serialize)]
struct PageFields {
    pull: &'static str,
    bookmark: String,
    has_more: bool,
}

/// A pull page as JSON: `fields` with `changes`, a JSON array already, as one more key. The
/// changes are not encoded again (each conversation's view is sent as it was stored).
fn page_body(fields: &PageFields, changes: &str) -> Response {
    json_then(StatusCode::OK, fields, |body| {
        // `{...}` → `{...,"changes":[...]}`
        body.pop();
        body.reserve(changes.len() + 13);
        body.extend_from_slice(b",\"changes\":");
        body.extend_from_slice(changes.as_bytes());
        body.push(b'}');
    })
}

async fn events(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> ApiResult {
    let user = user(&app, &headers)?;
    let device = device(&headers)?;
    let version = app
        .db
        .versions(std::slice::from_ref(&user))
        .await?
        .first()
        .map_or(0, |(_, v)| *v);
    let subscription = app.hub.subscribe(&user, &device, version);
    let ping = app.options.ping_interval;
    let stop = app.stop.clone();
    Ok(upgrade
        .max_message_size(16 * 1024)
        .on_upgrade(move |socket| stream_events(socket, subscription, ping, stop)))
}

/// Sends a device its events until it leaves, its subscription ends, or the server stops;
/// pings it now and then so that both ends notice a dead connection.
async fn stream_events(
    mut socket: WebSocket,
    mut subscription: Subscription,
    ping: std::time::Duration,
    mut stop: watch::Receiver<bool>,
) {
    let mut ticker = tokio::time::interval(ping);
    ticker.tick().await;
    loop {
        tokio::select! {
            event = subscription.events.recv() => {
                let Some(event) = event else { break };
                let Ok(text) = serde_json::to_string(&event) else { continue };
                if socket.send(WsMessage::Text(text.into())).await.is_err() {
                    break;
                }
            }
            incoming = socket.recv() => match incoming {
                Some(Ok(WsMessage::Close(_))) | Some(Err(_)) | None => break,
                // Pongs and anything a client says are not needed.
                Some(Ok(_)) => {}
            },
            _ = ticker.tick() => {
                if socket.send(WsMessage::Ping(Default::default())).await.is_err() {
                    break;
                }
            }
            _ = stop.changed() => break,
        }
    }
    let _ = socket.send(WsMessage::Close(None)).await;
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeliverRequest {
    user: String,
    conversation: ConversationId,
    message: Message,
}

async fn deliver(State(app): State<Arc<App>>, headers: HeaderMap, body: Body) -> ApiResult {
    admin(&app, &headers)?;
    let request: DeliverRequest = read(&app, &headers, body).await?;
    check_user(&request.user)?;
    let stored = app
        .db
        .deliver(&request.user, &request.conversation, &request.message)
        .await?;
    if let Some(version) = stored {
        let event = ServerEvent::Message {
            conversation: request.conversation,
            message: request.message,
        };
        app.hub.publish(&request.user, None, version, &event);
    }
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({"stored": stored.is_some()}),
    ))
}

/// Most messages in one `deliver_many`.
const MAX_DELIVER_MANY: usize = 1000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Delivery {
    conversation: ConversationId,
    message: Message,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeliverManyRequest {
    user: String,
    messages: Vec<Delivery>,
}

/// Several messages for one user in one transaction; the user's devices hear "changed" once
/// and pull them (a delivery of one message each would push each).
async fn deliver_many(State(app): State<Arc<App>>, headers: HeaderMap, body: Body) -> ApiResult {
    admin(&app, &headers)?;
    let request: DeliverManyRequest = read(&app, &headers, body).await?;
    check_user(&request.user)?;
    if request.messages.len() > MAX_DELIVER_MANY {
        return Err(ApiError::bad(
            ErrorCode::BatchSize,
            format!(
                "{} messages in one delivery (at most {MAX_DELIVER_MANY})",
                request.messages.len()
            ),
        ));
    }
    let messages: Vec<(ConversationId, Message)> = request
        .messages
        .into_iter()
        .map(|d| (d.conversation, d.message))
        .collect();
    let (stored, versions) = app.db.deliver_many(&request.user, &messages).await?;
    if let Some(versions) = versions {
        app.hub
            .publish(&request.user, None, versions, &ServerEvent::Changed);
    }
    Ok(json(StatusCode::OK, &serde_json::json!({"stored": stored})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserRequest {
    user: String,
}

async fn forget_history(State(app): State<Arc<App>>, headers: HeaderMap, body: Body) -> ApiResult {
    admin(&app, &headers)?;
    let request: UserRequest = read(&app, &headers, body).await?;
    check_user(&request.user)?;
    let versions = app.db.forget_history(&request.user).await?;
    app.hub
        .publish(&request.user, None, versions, &ServerEvent::Changed);
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({"version": versions.1}),
    ))
}
