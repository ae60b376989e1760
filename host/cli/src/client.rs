//! The CLI's API client: base URL and token from flags or `GATEHOUSE_URL` / `GATEHOUSE_TOKEN`;
//! API errors are shown as the server's message (and field), never as a raw body dump.

use anyhow::{Context, anyhow, bail};
use reqwest::{Method, StatusCode};
use serde_json::Value;

#[derive(clap::Args, Clone, Debug)]
pub struct Connection {
    /// Server base URL.
    #[arg(
        long,
        env = "GATEHOUSE_URL",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    pub url: String,
    /// API key or bootstrap credential.
    #[arg(long, env = "GATEHOUSE_TOKEN", hide_env_values = true, global = true)]
    pub token: Option<String>,
    /// Print raw JSON instead of a summary.
    #[arg(long, global = true)]
    pub json: bool,
}

pub struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
    pub json: bool,
}

impl Client {
    pub fn new(conn: &Connection) -> anyhow::Result<Self> {
        let token = conn.token.clone().filter(|t| !t.is_empty()).ok_or_else(|| {
            anyhow!("no credential: pass --token or set GATEHOUSE_TOKEN (the bootstrap credential printed by `gatehouse serve`, or an API key)")
        })?;
        url::Url::parse(&conn.url).with_context(|| format!("--url `{}` is not a URL", conn.url))?;
        let http = reqwest::Client::builder()
            .user_agent(concat!("gatehouse-cli/", env!("CARGO_PKG_VERSION")))
            .timeout(std::time::Duration::from_secs(60))
            .build()?;
        Ok(Self {
            http,
            base: conn.url.trim_end_matches('/').to_owned(),
            token,
            json: conn.json,
        })
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let bytes = self.raw(method, path, body).await?;
        if bytes.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&bytes).context("the server answered with invalid JSON")
    }

    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Vec<u8>> {
        let mut request = self.request(method, path);
        if let Some(body) = body {
            request = request.json(&body);
        }
        self.send(request).await
    }

    /// POSTs `bytes` as they are (a plugin package), allowing `timeout`, and parses the JSON
    /// answer; errors read like every other call's.
    pub async fn upload(
        &self,
        path: &str,
        content_type: &str,
        bytes: Vec<u8>,
        timeout: std::time::Duration,
    ) -> anyhow::Result<Value> {
        let request = self
            .request(Method::POST, path)
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(bytes)
            .timeout(timeout);
        let answer = self.send(request).await?;
        serde_json::from_slice(&answer).context("the server answered with invalid JSON")
    }

    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
    }

    /// Sends `request`; a non-2xx answer becomes an error with the server's message, the field
    /// it names, the request id and a hint.
    async fn send(&self, request: reqwest::RequestBuilder) -> anyhow::Result<Vec<u8>> {
        let response = request.send().await.with_context(|| {
            format!(
                "cannot reach Gatehouse at {} (is it running? check --url)",
                self.base
            )
        })?;
        let status = response.status();
        let request_id = response
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = response
            .bytes()
            .await
            .context("reading the response")?
            .to_vec();
        if status.is_success() {
            return Ok(bytes);
        }
        let detail: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let message = detail["error"]["message"]
            .as_str()
            .unwrap_or("(no message)");
        let field = detail["error"]["field"]
            .as_str()
            .map(|f| format!(" [field: {f}]"))
            .unwrap_or_default();
        let hint = match status {
            StatusCode::UNAUTHORIZED => "\n  check --token / GATEHOUSE_TOKEN",
            _ => "",
        };
        let id = request_id
            .map(|id| format!(" (request {id})"))
            .unwrap_or_default();
        bail!("{} {message}{field}{id}{hint}", status.as_u16())
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> anyhow::Result<Value> {
        self.call(Method::DELETE, path, None).await
    }

    /// Prints `value` as JSON (`--json`) or through `summary`.
    pub fn show(&self, value: &Value, summary: impl FnOnce(&Value)) {
        if self.json {
            println!(
                "{}",
                serde_json::to_string_pretty(value).unwrap_or_default()
            );
        } else {
            summary(value);
        }
    }

    /// Fetches every page of a list endpoint.
    pub async fn list_all(&self, path: &str) -> anyhow::Result<Vec<Value>> {
        let mut all = Vec::new();
        let mut after: Option<String> = None;
        let sep = if path.contains('?') { '&' } else { '?' };
        loop {
            let page_path = match &after {
                Some(cursor) => format!("{path}{sep}limit=100&after={cursor}"),
                None => format!("{path}{sep}limit=100"),
            };
            let page = self.get(&page_path).await?;
            all.extend(page["data"].as_array().cloned().unwrap_or_default());
            match page["list_metadata"]["after"].as_str() {
                Some(next) => after = Some(next.to_owned()),
                None => return Ok(all),
            }
        }
    }
}

/// `value[key]` as text, `-` when absent.
pub fn text(value: &Value, key: &str) -> String {
    match &value[key] {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}
