//! [`NetworkTransport`]: push and pull over HTTP, server events over a WebSocket.

use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt};
use serde::Serialize;
use tokio_tungstenite::tungstenite;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use super::{
    DEVICE_HEADER, EVENTS_PATH, ErrorBody, PULL_PATH, PUSH_PATH, PullRequest, PushRequest,
};
use crate::error::ErrorCode;
use crate::transport::{
    Bookmark, PendingOperation, PullResponse, PushResponse, ServerEvent, Transport, TransportError,
};

/// Timeouts and size bounds of a [`NetworkTransport`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NetworkOptions {
    /// Longest wait for a whole push or pull answer (default 15 s); past it the call fails
    /// as timed out (9520, retryable: it may or may not have been applied).
    pub request_timeout: Duration,
    /// Longest wait to open a connection (default 5 s).
    pub connect_timeout: Duration,
    /// Largest request body sent, in bytes (default 1 MiB, the server's default limit).
    pub max_request_bytes: usize,
    /// Largest answer read, in bytes (default 32 MiB); a larger one fails the call.
    pub max_response_bytes: usize,
    /// Largest event frame read, in bytes (default 1 MiB).
    pub max_event_bytes: usize,
    /// The event stream ends (and the engine reconnects) when nothing, not even a ping, came
    /// for this long (default 60 s; the server pings every 20 s).
    pub idle_timeout: Duration,
}

impl Default for NetworkOptions {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(15),
            connect_timeout: Duration::from_secs(5),
            max_request_bytes: 1 << 20,
            max_response_bytes: 32 << 20,
            max_event_bytes: 1 << 20,
            idle_timeout: Duration::from_secs(60),
        }
    }
}

impl NetworkOptions {
    /// Sets [`request_timeout`](Self::request_timeout).
    #[must_use]
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Sets [`connect_timeout`](Self::connect_timeout).
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets [`max_response_bytes`](Self::max_response_bytes).
    #[must_use]
    pub fn max_response_bytes(mut self, n: usize) -> Self {
        self.max_response_bytes = n;
        self
    }

    /// Sets [`max_request_bytes`](Self::max_request_bytes).
    #[must_use]
    pub fn max_request_bytes(mut self, n: usize) -> Self {
        self.max_request_bytes = n;
        self
    }

    /// Sets [`idle_timeout`](Self::idle_timeout).
    #[must_use]
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }
}

/// One device's session with a `timconv-server`, for the user its token names.
///
/// ```no_run
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// use timconv::transport::network::NetworkTransport;
/// use timconv::{ConversationManager, SqliteStoreOptions};
///
/// let token = "…"; // minted by the server's secret for "alice"
/// let transport = NetworkTransport::new("http://127.0.0.1:8787", token, "phone")?;
/// let phone = ConversationManager::builder()
///     .sqlite(SqliteStoreOptions::new().filename("phone.db"))
///     .self_user_id("alice")
///     .transport(transport)
///     .open()
///     .await?;
/// # Ok(())
/// # }
/// ```
///
/// Errors are classified for the sync engine: a connection that cannot be made or drops
/// is [`disconnected`](TransportError::disconnected) (retryable), a call that outlives
/// [`request_timeout`](NetworkOptions::request_timeout) is
/// [`timeout`](TransportError::timeout) (retryable), a 5xx or 429 answer is retryable with
/// the server's code, and any other refusal is not (401 as 6014, "not logged in"; others with
/// the code the server sent). Clones share the session.
#[derive(Clone)]
pub struct NetworkTransport {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    base: String,
    device: String,
    token: RwLock<String>,
    options: NetworkOptions,
}

impl std::fmt::Debug for NetworkTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetworkTransport")
            .field("base", &self.inner.base)
            .field("device", &self.inner.device)
            .finish_non_exhaustive()
    }
}

fn refused(message: impl Into<String>) -> TransportError {
    TransportError::refused(ErrorCode::InvalidParameters, message)
}

impl NetworkTransport {
    /// A session with the server at `base_url` (`http://host:port`), authenticated by
    /// `token`, as device `device`, with the default [`NetworkOptions`].
    pub fn new(base_url: &str, token: &str, device: &str) -> Result<Self, TransportError> {
        Self::with_options(base_url, token, device, NetworkOptions::default())
    }

    /// As [`new`](Self::new), with `options`. Refused (6017) if the URL is not `http://…`,
    /// or the token or device name cannot be sent as a header.
    pub fn with_options(
        base_url: &str,
        token: &str,
        device: &str,
        options: NetworkOptions,
    ) -> Result<Self, TransportError> {
        let base = base_url.trim_end_matches('/').to_owned();
        if !base.starts_with("http://") {
            return Err(refused(format!(
                "the server URL must start with http:// (got {base_url:?})"
            )));
        }
        check_header(&format!("Bearer {token}"))?;
        if device.is_empty() || device.len() > 128 {
            return Err(refused("a device name is 1..=128 bytes"));
        }
        check_header(device)?;
        let http = reqwest::Client::builder()
            .timeout(options.request_timeout)
            .connect_timeout(options.connect_timeout)
            .build()
            .map_err(|e| refused(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                base,
                device: device.to_owned(),
                token: RwLock::new(token.to_owned()),
                options,
            }),
        })
    }

    /// Replaces the token (say, before it expires); later calls use the new one.
    pub fn set_token(&self, token: &str) -> Result<(), TransportError> {
        check_header(&format!("Bearer {token}"))?;
        *self
            .inner
            .token
            .write()
            .unwrap_or_else(PoisonError::into_inner) = token.to_owned();
        Ok(())
    }

    /// The device name it sends.
    #[must_use]
    pub fn device(&self) -> &str {
        &self.inner.device
    }

    fn bearer(&self) -> String {
        let token = self
            .inner
            .token
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        format!("Bearer {token}")
    }

    /// POSTs `body` as JSON to `path` and reads a bounded JSON answer, decoded by `decode`.
    async fn call<B: Serialize, T>(
        &self,
        path: &str,
        body: &B,
        decode: fn(&[u8]) -> serde_json::Result<T>,
    ) -> Result<T, TransportError> {
        let options = &self.inner.options;
        let body = serde_json::to_vec(body)
            .map_err(|e| refused(format!("the request does not serialize: {e}")))?;
        if body.len() > options.max_request_bytes {
            return Err(refused(format!(
                "a request of {} bytes is over the limit of {}",
                body.len(),
                options.max_request_bytes
            )));
        }
        let mut response = self
            .inner
            .http
            .post(format!("{}{path}", self.inner.base))
            .header("authorization", self.bearer())
            .header(DEVICE_HEADER, &self.inner.device)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .map_err(classify)?;
        let status = response.status();
        if response
            .content_length()
            .is_some_and(|n| n > options.max_response_bytes as u64)
        {
            return Err(too_large(options.max_response_bytes));
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(classify)? {
            if bytes.len() + chunk.len() > options.max_response_bytes {
                return Err(too_large(options.max_response_bytes));
            }
            bytes.extend_from_slice(&chunk);
        }
        if status.is_success() {
            return decode(&bytes).map_err(|e| {
                TransportError::refused(
                    ErrorCode::ServerInternal,
                    format!("the server's answer does not decode: {e}"),
                )
            });
        }
        Err(status_error(status.as_u16(), &bytes))
    }
}

fn check_header(value: &str) -> Result<(), TransportError> {
    HeaderValue::from_str(value)
        .map(drop)
        .map_err(|_| refused("a token or device name with characters a header cannot carry"))
}

fn too_large(limit: usize) -> TransportError {
    TransportError::refused(
        ErrorCode::ServerInternal,
        format!("the server's answer is over {limit} bytes"),
    )
}

/// A failed HTTP exchange: timed out, or the connection failed or dropped.
fn classify(err: reqwest::Error) -> TransportError {
    if err.is_timeout() {
        TransportError::timeout(format!("no answer in time: {err}"))
    } else {
        TransportError::disconnected(format!("the connection failed: {err}"))
    }
}

/// A refusal or failure the server answered with `status`.
fn status_error(status: u16, body: &[u8]) -> TransportError {
    let parsed: Option<ErrorBody> = serde_json::from_slice(body).ok();
    let (code, message) = match parsed {
        Some(b) => (b.code, b.message),
        None => (
            ErrorCode::ServerInternal.as_i32(),
            String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned(),
        ),
    };
    let message = format!("HTTP {status}, code {code}: {message}");
    match status {
        401 => TransportError::refused(ErrorCode::NotLoggedIn, message),
        408 | 429 | 500..=599 => TransportError {
            code: ErrorCode::from_i32(code).unwrap_or(ErrorCode::ServerInternal),
            message,
            retryable: true,
        },
        _ => TransportError::refused(
            ErrorCode::from_i32(code).unwrap_or(ErrorCode::ServerInvalidParameters),
            message,
        ),
    }
}

impl Transport for NetworkTransport {
    fn push(
        &self,
        ops: Vec<PendingOperation>,
    ) -> BoxFuture<'_, Result<PushResponse, TransportError>> {
        async move {
            self.call(PUSH_PATH, &PushRequest { ops }, |bytes| {
                serde_json::from_slice::<PushResponse>(bytes)
            })
            .await
        }
        .boxed()
    }

    fn pull(
        &self,
        since: Option<Bookmark>,
        limit: usize,
    ) -> BoxFuture<'_, Result<PullResponse, TransportError>> {
        async move {
            let request = PullRequest {
                since,
                limit: Some(limit),
            };
            self.call(PULL_PATH, &request, super::decode::pull_response)
                .await
        }
        .boxed()
    }

    fn connect(&self) -> BoxFuture<'_, Result<BoxStream<'static, ServerEvent>, TransportError>> {
        async move {
            let options = &self.inner.options;
            let url = format!(
                "ws://{}{EVENTS_PATH}",
                self.inner.base.trim_start_matches("http://")
            );
            let mut request = url
                .into_client_request()
                .map_err(|e| refused(format!("bad server URL: {e}")))?;
            let headers = request.headers_mut();
            let bearer = HeaderValue::from_str(&self.bearer())
                .map_err(|_| refused("the token cannot be sent as a header"))?;
            let device = HeaderValue::from_str(&self.inner.device)
                .map_err(|_| refused("the device name cannot be sent as a header"))?;
            headers.insert("authorization", bearer);
            headers.insert(DEVICE_HEADER, device);
            let config = tungstenite::protocol::WebSocketConfig::default()
                .max_message_size(Some(options.max_event_bytes))
                .max_frame_size(Some(options.max_event_bytes));
            let connecting =
                tokio_tungstenite::connect_async_with_config(request, Some(config), true);
            let (socket, _) = tokio::time::timeout(options.connect_timeout, connecting)
                .await
                .map_err(|_| TransportError::timeout("the event stream did not open in time"))?
                .map_err(|e| match e {
                    tungstenite::Error::Http(response) => {
                        let body = response.body().as_deref().unwrap_or_default();
                        status_error(response.status().as_u16(), body)
                    }
                    other => TransportError::disconnected(format!(
                        "the event stream did not open: {other}"
                    )),
                })?;
            let idle = options.idle_timeout;
            let events = futures::stream::unfold(socket, move |mut socket| async move {
                loop {
                    let frame = match tokio::time::timeout(idle, socket.next()).await {
                        Err(_) => {
                            tracing::debug!("network: the event stream went quiet; reconnecting");
                            return None;
                        }
                        Ok(None | Some(Err(_))) => return None,
                        Ok(Some(Ok(frame))) => frame,
                    };
                    match frame {
                        tungstenite::Message::Text(text) => {
                            match serde_json::from_str::<ServerEvent>(&text) {
                                Ok(event) => return Some((event, socket)),
                                // An event of a later protocol version: not for this client.
                                Err(err) => {
                                    tracing::debug!(error = %err, "network: unknown event skipped");
                                }
                            }
                        }
                        tungstenite::Message::Close(_) => return None,
                        // Pings are answered by the socket itself.
                        _ => {}
                    }
                }
            });
            Ok(events.boxed())
        }
        .boxed()
    }
}
