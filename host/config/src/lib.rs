//! Gatehouse configuration: embedded defaults, then `gatehouse.toml`, then `GATEHOUSE_*`
//! environment variables. Every key is listed in [`KEYS`] with its type and help text; an
//! unknown key in the file is refused (with a suggestion), and every value is validated with a
//! message that names the key and says how to fix it.

use std::{
    collections::BTreeMap,
    fmt,
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use url::Url;

/// The environment-variable prefix: key `database_url` is `GATEHOUSE_DATABASE_URL`.
pub const ENV_PREFIX: &str = "GATEHOUSE_";
pub const DEFAULT_FILE: &str = "gatehouse.toml";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Text,
    Bool,
    Integer,
    /// Comma-separated in the environment, an array in the file.
    List,
}

pub struct Key {
    pub name: &'static str,
    pub kind: Kind,
    pub default: &'static str,
    pub help: &'static str,
}

const fn key(name: &'static str, kind: Kind, default: &'static str, help: &'static str) -> Key {
    Key {
        name,
        kind,
        default,
        help,
    }
}

/// Every configuration key. The file uses these names; the environment uses them upper-cased
/// with the `GATEHOUSE_` prefix.
pub const KEYS: &[Key] = &[
    key(
        "listen",
        Kind::Text,
        "127.0.0.1:8080",
        "address the HTTP server binds to",
    ),
    key(
        "public_url",
        Kind::Text,
        "",
        "external base URL (default http://<listen>); used in links, the OIDC issuer and redirect URIs",
    ),
    key(
        "data_dir",
        Kind::Text,
        "./data",
        "directory for the SQLite database, the dev master key and caches",
    ),
    key(
        "database_url",
        Kind::Text,
        "",
        "sqlite://path or postgres://user:pass@host/db (default: SQLite in data_dir)",
    ),
    key(
        "database_schema",
        Kind::Text,
        "gatehouse",
        "PostgreSQL schema holding Gatehouse's tables",
    ),
    key(
        "database_max_connections",
        Kind::Integer,
        "10",
        "connection pool size",
    ),
    key(
        "auto_migrate",
        Kind::Bool,
        "true",
        "apply database migrations when `serve` starts",
    ),
    key(
        "master_key_file",
        Kind::Text,
        "",
        "file with the master key(s) encrypting secrets at rest (default: generated into data_dir on first dev start)",
    ),
    key(
        "bootstrap_token",
        Kind::Text,
        "",
        "bootstrap admin credential to use instead of a generated one (e.g. from a Kubernetes secret)",
    ),
    key("log_format", Kind::Text, "text", "text or json"),
    key(
        "log_level",
        Kind::Text,
        "info",
        "tracing filter, e.g. info or gatehouse=debug,info",
    ),
    key(
        "max_body_bytes",
        Kind::Integer,
        "1048576",
        "largest accepted request body",
    ),
    key(
        "zitadel_url",
        Kind::Text,
        "",
        "base URL of a real ZITADEL; empty = the embedded development emulator",
    ),
    key(
        "zitadel_pat_file",
        Kind::Text,
        "",
        "file holding a ZITADEL personal access token",
    ),
    key(
        "zitadel_key_file",
        Kind::Text,
        "",
        "ZITADEL service-user key file (JSON) for the JWT profile grant",
    ),
    key(
        "admin_org_id",
        Kind::Text,
        "",
        "ZITADEL organization whose members may sign in to the portal (default with the embedded emulator: its default organization; empty with a real ZITADEL = admin sign-in off)",
    ),
    key(
        "admin_session_lifetime",
        Kind::Text,
        "12h",
        "how long a portal sign-in lasts at most",
    ),
    key(
        "admin_session_idle_timeout",
        Kind::Text,
        "1h",
        "a portal session unused this long ends",
    ),
    key(
        "egress_allow",
        Kind::List,
        "",
        "hosts and CIDRs outbound requests may reach even though they are private/loopback",
    ),
    key(
        "egress_require_https",
        Kind::Bool,
        "false",
        "refuse plain-http webhook endpoints",
    ),
    key(
        "ca_bundle",
        Kind::Text,
        "",
        "PEM file of extra CA certificates trusted for outbound TLS",
    ),
    key(
        "events_retention_days",
        Kind::Integer,
        "30",
        "days events are kept (minimum 30)",
    ),
    key(
        "plugin_dir",
        Kind::Text,
        "",
        "directory for compiled plugin caches (default data_dir/plugins)",
    ),
    key(
        "webhook_retry_schedule",
        Kind::List,
        "5s,5m,30m,2h,5h,10h,10h",
        "delays between delivery attempts after the first",
    ),
    key(
        "webhook_disable_after",
        Kind::Text,
        "5d",
        "disable an endpoint that failed continuously this long",
    ),
    key(
        "webhook_timeout",
        Kind::Text,
        "15s",
        "per-attempt delivery timeout",
    ),
    key(
        "workers",
        Kind::Bool,
        "true",
        "run background workers (delivery, sync, retention) in this process",
    ),
];

/// Environment variables with our prefix that are not configuration keys (CLI client and test
/// settings); they are not reported as typos.
pub const NON_CONFIG_ENV: &[&str] = &["TOKEN", "URL", "CONFIG", "PLUGIN_KEY_PASSWORD"];

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("{path} is not valid TOML: {reason}")]
    Syntax { path: String, reason: String },
    #[error("{source_name}: unknown key `{key}`{hint}")]
    UnknownKey {
        source_name: String,
        key: String,
        hint: String,
    },
    #[error("{source_name}: `{key}` {problem}")]
    Invalid {
        source_name: String,
        key: String,
        problem: String,
    },
}

/// Where a value came from, for messages.
#[derive(Clone, Debug)]
enum Origin {
    Default,
    File(String),
    Env(String),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Default => f.write_str("default"),
            Self::File(path) => f.write_str(path),
            Self::Env(var) => write!(f, "environment variable {var}"),
        }
    }
}

#[derive(Clone, Debug)]
enum Raw {
    Text(String),
    Bool(bool),
    Integer(i64),
    List(Vec<String>),
}

/// Validated settings.
#[derive(Clone, Debug)]
pub struct Settings {
    pub listen: SocketAddr,
    pub public_url: Url,
    pub data_dir: PathBuf,
    pub database_url: String,
    pub database_schema: String,
    pub database_max_connections: u32,
    pub auto_migrate: bool,
    pub master_key_file: PathBuf,
    /// True when `master_key_file` was not configured: a key is generated on first start.
    pub master_key_is_default: bool,
    pub bootstrap_token: Option<String>,
    pub log_format: LogFormat,
    pub log_level: String,
    pub max_body_bytes: usize,
    pub zitadel: ZitadelTarget,
    pub egress_allow: Vec<EgressAllow>,
    pub egress_require_https: bool,
    pub ca_bundle: Option<PathBuf>,
    pub events_retention: Duration,
    pub plugin_dir: PathBuf,
    pub webhook_retry_schedule: Vec<Duration>,
    pub webhook_disable_after: Duration,
    pub webhook_timeout: Duration,
    pub workers: bool,
    /// The organization whose members may sign in to the portal through the IdP; `None` uses
    /// the embedded emulator's default organization (and turns admin sign-in off with a real
    /// ZITADEL).
    pub admin_org_id: Option<String>,
    /// Absolute lifetime of a portal session.
    pub admin_session_lifetime: Duration,
    /// A portal session unused this long ends.
    pub admin_session_idle_timeout: Duration,
    /// Which file was read, if any.
    pub file: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ZitadelTarget {
    /// No ZITADEL configured: mount the embedded emulator.
    Embedded,
    External {
        url: Url,
        credentials: ZitadelCredentials,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ZitadelCredentials {
    PatFile(PathBuf),
    KeyFile(PathBuf),
}

/// One `egress_allow` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EgressAllow {
    /// A host name, lowercase, without a trailing dot; `*.name` for every subdomain of `name`.
    Host(String),
    Network(ipnet::IpNet),
}

/// Loads settings from `file` (or `gatehouse.toml` in the working directory if it exists) and
/// the process environment.
pub fn load(file: Option<&Path>) -> Result<Settings, ConfigError> {
    let env: Vec<(String, String)> = std::env::vars().collect();
    load_from(file, &env)
}

/// Like [`load`] with an explicit environment (tests).
pub fn load_from(file: Option<&Path>, env: &[(String, String)]) -> Result<Settings, ConfigError> {
    let mut values: BTreeMap<&'static str, (Raw, Origin)> = BTreeMap::new();
    for key in KEYS {
        values.insert(key.name, (default_raw(key), Origin::Default));
    }

    let explicit = file.map(Path::to_path_buf).or_else(|| {
        env.iter()
            .find(|(k, _)| k == "GATEHOUSE_CONFIG")
            .map(|(_, v)| PathBuf::from(v))
    });
    let path = match explicit {
        Some(path) => Some(path),
        None => Some(PathBuf::from(DEFAULT_FILE)).filter(|p| p.exists()),
    };
    if let Some(path) = &path {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
            path: name.clone(),
            reason: e.to_string(),
        })?;
        let table: toml::Table =
            text.parse()
                .map_err(|e: toml::de::Error| ConfigError::Syntax {
                    path: name.clone(),
                    reason: e.message().to_owned(),
                })?;
        for (name_in_file, value) in table {
            let key = find_key(&name_in_file).ok_or_else(|| ConfigError::UnknownKey {
                source_name: name.clone(),
                key: name_in_file.clone(),
                hint: suggestion(&name_in_file),
            })?;
            let raw = from_toml(key, &value).map_err(|problem| ConfigError::Invalid {
                source_name: name.clone(),
                key: key.name.into(),
                problem,
            })?;
            values.insert(key.name, (raw, Origin::File(name.clone())));
        }
    }

    for (var, value) in env {
        let Some(suffix) = var.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        if NON_CONFIG_ENV.contains(&suffix) || suffix.starts_with("TEST_") {
            continue;
        }
        let lower = suffix.to_ascii_lowercase();
        let Some(key) = find_key(&lower) else {
            return Err(ConfigError::UnknownKey {
                source_name: format!("environment variable {var}"),
                key: lower.clone(),
                hint: suggestion(&lower),
            });
        };
        let raw = from_env(key, value).map_err(|problem| ConfigError::Invalid {
            source_name: format!("environment variable {var}"),
            key: key.name.into(),
            problem,
        })?;
        values.insert(key.name, (raw, Origin::Env(var.clone())));
    }

    Resolver { values }.settings(path)
}

fn find_key(name: &str) -> Option<&'static Key> {
    KEYS.iter().find(|k| k.name == name)
}

fn suggestion(name: &str) -> String {
    let best = KEYS
        .iter()
        .map(|k| (edit_distance(name, k.name), k.name))
        .min_by_key(|(d, _)| *d)
        .filter(|(d, _)| *d <= 3);
    match best {
        Some((_, close)) => format!(" (did you mean `{close}`?)"),
        None => " (run `gatehouse config keys` to list valid keys)".into(),
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

fn default_raw(key: &Key) -> Raw {
    match key.kind {
        Kind::Text => Raw::Text(key.default.into()),
        Kind::Bool => Raw::Bool(key.default == "true"),
        Kind::Integer => Raw::Integer(key.default.parse().expect("integer default")),
        Kind::List => Raw::List(split_list(key.default)),
    }
}

fn split_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn from_toml(key: &Key, value: &toml::Value) -> Result<Raw, String> {
    match (key.kind, value) {
        (Kind::Text, toml::Value::String(s)) => Ok(Raw::Text(s.clone())),
        (Kind::Bool, toml::Value::Boolean(b)) => Ok(Raw::Bool(*b)),
        (Kind::Integer, toml::Value::Integer(i)) => Ok(Raw::Integer(*i)),
        (Kind::List, toml::Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| "must be an array of strings".to_owned())
            })
            .collect::<Result<_, _>>()
            .map(Raw::List),
        (Kind::List, toml::Value::String(s)) => Ok(Raw::List(split_list(s))),
        (kind, _) => Err(format!("must be {}", kind_name(kind))),
    }
}

fn from_env(key: &Key, value: &str) -> Result<Raw, String> {
    match key.kind {
        Kind::Text => Ok(Raw::Text(value.to_owned())),
        Kind::Bool => match value.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(Raw::Bool(true)),
            "false" | "0" | "no" | "off" => Ok(Raw::Bool(false)),
            _ => Err("must be true or false".into()),
        },
        Kind::Integer => value
            .trim()
            .parse()
            .map(Raw::Integer)
            .map_err(|_| "must be an integer".into()),
        Kind::List => Ok(Raw::List(split_list(value))),
    }
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Text => "a string",
        Kind::Bool => "true or false",
        Kind::Integer => "an integer",
        Kind::List => "a list of strings",
    }
}

struct Resolver {
    values: BTreeMap<&'static str, (Raw, Origin)>,
}

impl Resolver {
    fn invalid(&self, key: &'static str, problem: impl Into<String>) -> ConfigError {
        let origin = &self.values[key].1;
        ConfigError::Invalid {
            source_name: origin.to_string(),
            key: key.into(),
            problem: problem.into(),
        }
    }

    fn text(&self, key: &'static str) -> Option<String> {
        match &self.values[key].0 {
            Raw::Text(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
            _ => None,
        }
    }

    fn flag(&self, key: &'static str) -> bool {
        matches!(self.values[key].0, Raw::Bool(true))
    }

    fn integer(&self, key: &'static str, min: i64, max: i64) -> Result<i64, ConfigError> {
        let Raw::Integer(value) = self.values[key].0 else {
            unreachable!("typed at parse")
        };
        if (min..=max).contains(&value) {
            Ok(value)
        } else {
            Err(self.invalid(
                key,
                format!("must be between {min} and {max} (got {value})"),
            ))
        }
    }

    fn list(&self, key: &'static str) -> Vec<String> {
        match &self.values[key].0 {
            Raw::List(items) => items.clone(),
            _ => Vec::new(),
        }
    }

    fn duration(&self, key: &'static str) -> Result<Duration, ConfigError> {
        let text = self.text(key).unwrap_or_default();
        parse_duration(&text).ok_or_else(|| {
            self.invalid(
                key,
                format!("`{text}` is not a duration; use e.g. 30s, 5m, 2h or 5d"),
            )
        })
    }

    fn settings(self, file: Option<PathBuf>) -> Result<Settings, ConfigError> {
        let listen_text = self.text("listen").unwrap_or_default();
        let listen: SocketAddr = listen_text.parse().map_err(|_| {
            self.invalid(
                "listen",
                format!("`{listen_text}` is not an address; use host:port, e.g. 127.0.0.1:8080"),
            )
        })?;

        let public_url = match self.text("public_url") {
            Some(text) => {
                let url = Url::parse(&text).map_err(|e| {
                    self.invalid(
                        "public_url",
                        format!("`{text}` is not a URL ({e}); use e.g. https://auth.example.com"),
                    )
                })?;
                if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
                    return Err(self.invalid("public_url", "must be an http(s) URL with a host"));
                }
                if url.query().is_some() || url.fragment().is_some() {
                    return Err(self.invalid("public_url", "must not have a query or fragment"));
                }
                url
            }
            None => {
                let host = if listen.ip().is_unspecified() {
                    "127.0.0.1".to_owned()
                } else {
                    listen.ip().to_string()
                };
                let host = if listen.is_ipv6() && !listen.ip().is_unspecified() {
                    format!("[{host}]")
                } else {
                    host
                };
                Url::parse(&format!("http://{host}:{}", listen.port())).expect("valid default URL")
            }
        };

        let data_dir = PathBuf::from(self.text("data_dir").unwrap_or_else(|| "./data".into()));

        let database_url = match self.text("database_url") {
            Some(url) => {
                if !(url.starts_with("sqlite:")
                    || url.starts_with("postgres://")
                    || url.starts_with("postgresql://"))
                {
                    return Err(self.invalid(
                        "database_url",
                        "must start with sqlite:, postgres:// or postgresql:// (e.g. postgres://gatehouse@db:5432/gatehouse)",
                    ));
                }
                url
            }
            None => format!("sqlite://{}", data_dir.join("gatehouse.db").display()),
        };

        let database_schema = self
            .text("database_schema")
            .unwrap_or_else(|| "gatehouse".into());
        let schema_ok = database_schema.len() <= 63
            && database_schema.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
            && database_schema
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !schema_ok {
            return Err(self.invalid(
                "database_schema",
                "must be lowercase letters, digits and underscores, starting with a letter",
            ));
        }

        let (master_key_file, master_key_is_default) = match self.text("master_key_file") {
            Some(path) => (PathBuf::from(path), false),
            None => (data_dir.join("master.key"), true),
        };

        let bootstrap_token = self.text("bootstrap_token");
        if let Some(token) = &bootstrap_token
            && (token.len() < 32
                || token.len() > 256
                || !token.chars().all(|c| c.is_ascii_graphic()))
        {
            return Err(self.invalid(
                "bootstrap_token",
                "must be 32-256 printable characters without spaces; generate one with `gatehouse apikey generate`",
            ));
        }

        let log_format = match self.text("log_format").as_deref() {
            Some("text") | None => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(self.invalid(
                    "log_format",
                    format!("must be text or json (got `{other}`)"),
                ));
            }
        };

        let zitadel = match self.text("zitadel_url") {
            None => ZitadelTarget::Embedded,
            Some(text) => {
                let url = Url::parse(&text).map_err(|e| {
                    self.invalid("zitadel_url", format!("`{text}` is not a URL ({e})"))
                })?;
                let credentials = match (
                    self.text("zitadel_pat_file"),
                    self.text("zitadel_key_file"),
                ) {
                    (Some(pat), None) => ZitadelCredentials::PatFile(pat.into()),
                    (None, Some(key)) => ZitadelCredentials::KeyFile(key.into()),
                    (None, None) => {
                        return Err(self.invalid(
                            "zitadel_url",
                            "is set but no credentials are: set zitadel_pat_file (a PAT) or zitadel_key_file (a service-user key file)",
                        ));
                    }
                    (Some(_), Some(_)) => {
                        return Err(self.invalid(
                            "zitadel_key_file",
                            "set either zitadel_pat_file or zitadel_key_file, not both",
                        ));
                    }
                };
                ZitadelTarget::External { url, credentials }
            }
        };

        let egress_allow = self
            .list("egress_allow")
            .into_iter()
            .map(|entry| parse_egress_entry(&entry).map_err(|p| self.invalid("egress_allow", p)))
            .collect::<Result<Vec<_>, _>>()?;

        let retention_days = self.integer("events_retention_days", 30, 3650)?;
        let webhook_retry_schedule = self
            .list("webhook_retry_schedule")
            .iter()
            .map(|d| {
                parse_duration(d).ok_or_else(|| {
                    self.invalid(
                        "webhook_retry_schedule",
                        format!("`{d}` is not a duration; use e.g. 5s,5m,30m,2h"),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if webhook_retry_schedule.len() > 50 {
            return Err(self.invalid("webhook_retry_schedule", "may hold at most 50 delays"));
        }

        let admin_org_id = self.text("admin_org_id");
        if let Some(org) = &admin_org_id
            && !valid_org_id(org)
        {
            return Err(self.invalid(
                "admin_org_id",
                format!(
                    "`{org}` is not an organization id; copy the id (digits, or letters, digits, `_` and `-`, at most 200) from ZITADEL's console"
                ),
            ));
        }
        let admin_session_lifetime = self.duration("admin_session_lifetime")?;
        if !(Duration::from_secs(5 * 60)..=Duration::from_secs(30 * 86_400))
            .contains(&admin_session_lifetime)
        {
            return Err(self.invalid("admin_session_lifetime", "must be between 5m and 30d"));
        }
        let admin_session_idle_timeout = self.duration("admin_session_idle_timeout")?;
        if admin_session_idle_timeout < Duration::from_secs(60)
            || admin_session_idle_timeout > admin_session_lifetime
        {
            return Err(self.invalid(
                "admin_session_idle_timeout",
                "must be at least 1m and at most admin_session_lifetime",
            ));
        }

        Ok(Settings {
            listen,
            public_url,
            database_url,
            database_schema,
            database_max_connections: self.integer("database_max_connections", 1, 1000)? as u32,
            auto_migrate: self.flag("auto_migrate"),
            master_key_file,
            master_key_is_default,
            bootstrap_token,
            log_format,
            log_level: self.text("log_level").unwrap_or_else(|| "info".into()),
            max_body_bytes: self.integer("max_body_bytes", 1024, 64 * 1024 * 1024)? as usize,
            zitadel,
            egress_allow,
            egress_require_https: self.flag("egress_require_https"),
            ca_bundle: self.text("ca_bundle").map(PathBuf::from),
            events_retention: Duration::from_secs(retention_days as u64 * 86_400),
            plugin_dir: self
                .text("plugin_dir")
                .map(PathBuf::from)
                .unwrap_or_else(|| data_dir.join("plugins")),
            webhook_retry_schedule,
            webhook_disable_after: self.duration("webhook_disable_after")?,
            webhook_timeout: self.duration("webhook_timeout")?,
            workers: self.flag("workers"),
            admin_org_id,
            admin_session_lifetime,
            admin_session_idle_timeout,
            data_dir,
            file,
        })
    }
}

/// `30s`, `5m`, `2h`, `5d`, `250ms`.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().ok()?;
    let secs = match unit {
        "ms" => return Some(Duration::from_millis(n)),
        "s" => n,
        "m" => n.checked_mul(60)?,
        "h" => n.checked_mul(3600)?,
        "d" => n.checked_mul(86_400)?,
        _ => return None,
    };
    Some(Duration::from_secs(secs))
}

/// ZITADEL org ids are numeric; Gatehouse's tenant organizations carry the tenant id
/// (`ten_…`). The id ends up inside a space-separated scope, so nothing else is allowed.
fn valid_org_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 200
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn parse_egress_entry(entry: &str) -> Result<EgressAllow, String> {
    if entry.contains('/') {
        let net = entry.parse::<ipnet::IpNet>().map_err(|_| {
            format!("`{entry}` is not a valid CIDR (expected e.g. 10.20.0.0/16 or fd12::/64)")
        })?;
        if net.trunc() != net {
            return Err(format!(
                "`{entry}` has address bits set beyond the /{} prefix; did you mean {}?",
                net.prefix_len(),
                net.trunc()
            ));
        }
        return Ok(EgressAllow::Network(net));
    }
    let unbracketed = entry
        .strip_prefix('[')
        .and_then(|e| e.strip_suffix(']'))
        .unwrap_or(entry);
    if let Ok(ip) = unbracketed.parse::<std::net::IpAddr>() {
        return Ok(EgressAllow::Network(ipnet::IpNet::from(ip)));
    }
    if entry.contains(':') {
        return Err(format!(
            "`{entry}`: ports are not supported; list the host or address only"
        ));
    }
    // `*.corp.example` allows every subdomain of corp.example (not corp.example itself).
    let lower = entry.to_ascii_lowercase();
    let (wildcard, name) = match lower.strip_prefix("*.") {
        Some(rest) => ("*.", rest),
        None => ("", lower.as_str()),
    };
    let name = name.strip_suffix('.').unwrap_or(name);
    let valid = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        });
    if valid {
        Ok(EgressAllow::Host(format!("{wildcard}{name}")))
    } else {
        Err(format!(
            "`{entry}` is neither a host name (optionally `*.` for its subdomains) nor an IP \
             address/CIDR (e.g. 10.0.0.0/8, hooks.internal, *.corp.example)"
        ))
    }
}

#[cfg(test)]
mod tests;
