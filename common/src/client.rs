//! Typed async HTTP client of the Pressluft API, used by the TUI, the tests and Rust scripts.
//! Authenticates with the session token as `Authorization: Bearer`.

use crate::types::*;
use futures_util::{Stream, StreamExt};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::time::Duration;

/// What went wrong talking to the server.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with an error body.
    #[error("{code}: {message} (HTTP {status})")]
    Api {
        status: u16,
        code: String,
        message: String,
    },
    /// The server could not be reached or the answer could not be read.
    #[error("cannot reach the Pressluft server at {url}: {source}")]
    Transport {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    /// The answer was not what the contract says.
    #[error("unexpected answer from the server: {0}")]
    Protocol(String),
}

impl ClientError {
    /// The stable error code of an API error.
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }
}

pub type Result<T> = std::result::Result<T, ClientError>;

#[derive(Clone)]
pub struct Client {
    base: String,
    http: reqwest::Client,
    token: Option<String>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl Client {
    /// A client for the server at `base_url` (e.g. `http://127.0.0.1:8080`).
    pub fn new(base_url: &str) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .build()
            .unwrap_or_default();
        Client {
            base: base_url.trim_end_matches('/').to_string(),
            http,
            token: None,
        }
    }

    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let mut rb = self
            .http
            .request(method, self.url(path))
            .timeout(Duration::from_secs(60));
        if let Some(t) = &self.token {
            rb = rb.bearer_auth(t);
        }
        rb
    }

    async fn send(&self, rb: reqwest::RequestBuilder) -> Result<reqwest::Response> {
        let resp = rb.send().await.map_err(|e| ClientError::Transport {
            url: self.base.clone(),
            source: e,
        })?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        match serde_json::from_str::<ErrorBody>(&text) {
            Ok(b) => Err(ClientError::Api {
                status,
                code: b.code,
                message: b.message,
            }),
            Err(_) => Err(ClientError::Api {
                status,
                code: "http_error".into(),
                message: format!(
                    "HTTP {status}: {}",
                    text.chars().take(200).collect::<String>()
                ),
            }),
        }
    }

    async fn json<T: DeserializeOwned>(&self, resp: reqwest::Response) -> Result<T> {
        let bytes = resp.bytes().await.map_err(|e| ClientError::Transport {
            url: self.base.clone(),
            source: e,
        })?;
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Protocol(e.to_string()))
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        let resp = self.send(self.request(Method::GET, path)).await?;
        self.json(resp).await
    }

    async fn post<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> Result<T> {
        let resp = self
            .send(self.request(Method::POST, path).json(body))
            .await?;
        self.json(resp).await
    }

    /// Logs in and keeps the session token for later calls.
    pub async fn login(&mut self, email: &str, password: &str) -> Result<LoginResponse> {
        let body = LoginRequest {
            email: email.to_string(),
            password: password.to_string(),
        };
        let resp = self
            .send(self.http.post(self.url("/api/login")).json(&body))
            .await?;
        let token = resp
            .headers()
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(session_cookie_value)
            .ok_or_else(|| ClientError::Protocol("login answer without session_token".into()))?;
        let out: LoginResponse = self.json(resp).await?;
        self.token = Some(token);
        Ok(out)
    }

    pub async fn logout(&self) -> Result<SuccessResponse> {
        self.post("/api/logout", &serde_json::json!({})).await
    }

    pub async fn nodes(&self) -> Result<Vec<Node>> {
        self.get("/api/nodes").await
    }

    pub async fn register_node(&self, req: &RegisterNode) -> Result<Node> {
        self.post("/api/nodes", req).await
    }

    pub async fn sites(&self) -> Result<Vec<Site>> {
        self.get("/api/sites").await
    }

    pub async fn site(&self, id: &str) -> Result<Site> {
        self.get(&format!("/api/sites/{id}")).await
    }

    pub async fn register_site(&self, req: &RegisterSite) -> Result<Site> {
        self.post("/api/sites", req).await
    }

    pub async fn site_environments(&self, site_id: &str) -> Result<Vec<Environment>> {
        self.get(&format!("/api/sites/{site_id}/environments"))
            .await
    }

    pub async fn register_environment(
        &self,
        site_id: &str,
        req: &RegisterEnvironment,
    ) -> Result<Environment> {
        self.post(&format!("/api/sites/{site_id}/environments"), req)
            .await
    }

    pub async fn environment(&self, id: &str) -> Result<Environment> {
        self.get(&format!("/api/environments/{id}")).await
    }

    pub async fn backups(&self, environment_id: &str) -> Result<Vec<Backup>> {
        self.get(&format!("/api/environments/{environment_id}/backups"))
            .await
    }

    pub async fn create_backup(
        &self,
        environment_id: &str,
        scope: BackupScope,
    ) -> Result<JobAccepted> {
        self.post(
            &format!("/api/environments/{environment_id}/backups"),
            &CreateBackupRequest {
                backup_scope: scope,
            },
        )
        .await
    }

    pub async fn restore(&self, environment_id: &str, backup_id: &str) -> Result<JobAccepted> {
        self.post(
            &format!("/api/environments/{environment_id}/restore"),
            &RestoreRequest {
                backup_id: backup_id.to_string(),
            },
        )
        .await
    }

    pub async fn restore_preflight(
        &self,
        environment_id: &str,
        backup_id: &str,
    ) -> Result<PreflightResponse> {
        self.post(
            &format!("/api/environments/{environment_id}/restore/preflight"),
            &RestoreRequest {
                backup_id: backup_id.to_string(),
            },
        )
        .await
    }

    pub async fn reset_site(&self, id: &str) -> Result<Site> {
        self.post(&format!("/api/sites/{id}/reset"), &serde_json::json!({}))
            .await
    }

    pub async fn reset_environment(&self, id: &str) -> Result<Environment> {
        self.post(
            &format!("/api/environments/{id}/reset"),
            &serde_json::json!({}),
        )
        .await
    }

    pub async fn jobs(&self) -> Result<Vec<Job>> {
        self.get("/api/jobs").await
    }

    pub async fn job(&self, id: &str) -> Result<Job> {
        self.get(&format!("/api/jobs/{id}")).await
    }

    pub async fn cancel_job(&self, id: &str) -> Result<CancelResponse> {
        self.post(&format!("/api/jobs/{id}/cancel"), &serde_json::json!({}))
            .await
    }

    pub async fn metrics(&self) -> Result<Metrics> {
        self.get("/api/metrics").await
    }

    /// Polls the job until it reaches a terminal status or `timeout` passes.
    pub async fn wait_job(&self, id: &str, timeout: Duration) -> Result<Job> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let job = self.job(id).await?;
            if job.status.is_terminal() {
                return Ok(job);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(ClientError::Protocol(format!(
                    "job {id} still {} after {timeout:?}",
                    job.status
                )));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Streams the job's events (Server-Sent Events) from after `last_event_id`; the stream ends
    /// after the terminal status event or when the server closes it.
    pub async fn job_events(
        &self,
        id: &str,
        last_event_id: Option<i64>,
    ) -> Result<impl Stream<Item = Result<JobEvent>> + Send + 'static> {
        let mut rb = self
            .http
            .get(self.url(&format!("/api/jobs/{id}/events")))
            .header("Accept", "text/event-stream");
        if let Some(t) = &self.token {
            rb = rb.bearer_auth(t);
        }
        if let Some(last) = last_event_id {
            rb = rb.header("Last-Event-ID", last.to_string());
        }
        let resp = self.send(rb).await?;
        if resp.status() != StatusCode::OK {
            return Err(ClientError::Protocol(format!(
                "event stream answered {}",
                resp.status()
            )));
        }
        let base = self.base.clone();
        let bytes = resp.bytes_stream();
        let stream = futures_util::stream::unfold(
            (bytes.boxed(), SseParser::default(), false, base),
            |(mut bytes, mut parser, done, base)| async move {
                if done {
                    return None;
                }
                loop {
                    if let Some(data) = parser.next_data() {
                        let item = serde_json::from_str::<JobEvent>(&data)
                            .map_err(|e| ClientError::Protocol(format!("bad event: {e}")));
                        let end = matches!(&item, Ok(ev) if ev.is_terminal());
                        return Some((item, (bytes, parser, end, base)));
                    }
                    match bytes.next().await {
                        Some(Ok(chunk)) => parser.push(&chunk),
                        Some(Err(e)) => {
                            let err = ClientError::Transport {
                                url: base.clone(),
                                source: e,
                            };
                            return Some((Err(err), (bytes, parser, true, base)));
                        }
                        None => return None,
                    }
                }
            },
        );
        Ok(stream)
    }
}

/// The value of a `session_token=...; ...` Set-Cookie header.
fn session_cookie_value(header: &str) -> Option<String> {
    let first = header.split(';').next()?.trim();
    let value = first.strip_prefix("session_token=")?;
    (!value.is_empty()).then(|| value.to_string())
}

/// Minimal Server-Sent Events parser: collects `data:` lines until a blank line.
#[derive(Default)]
struct SseParser {
    buf: String,
}

impl SseParser {
    fn push(&mut self, chunk: &[u8]) {
        self.buf.push_str(&String::from_utf8_lossy(chunk));
    }

    fn next_data(&mut self) -> Option<String> {
        loop {
            let normalized = self.buf.replace("\r\n", "\n");
            self.buf = normalized;
            let end = self.buf.find("\n\n")?;
            let block: String = self.buf.drain(..end + 2).collect();
            let data: Vec<&str> = block
                .lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .map(|l| l.strip_prefix(' ').unwrap_or(l))
                .collect();
            if !data.is_empty() {
                return Some(data.join("\n"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_parser_joins_data_lines_and_skips_comments() {
        let mut p = SseParser::default();
        p.push(b": keepalive\n\nid: 3\nevent: job\ndata: {\"a\":\n");
        assert_eq!(p.next_data(), None);
        p.push(b"data: 1}\n\n");
        assert_eq!(p.next_data().as_deref(), Some("{\"a\":\n1}"));
        assert_eq!(p.next_data(), None);
    }
}
