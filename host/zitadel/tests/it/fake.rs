//! A small in-memory stand-in for ZITADEL, serving the endpoints the scenario suite uses with
//! ZITADEL's wire format (protojson names, string-encoded integers, REST error bodies) and
//! rules (409 on duplicate names, the login-policy-must-exist rule, client secrets only for
//! BASIC/POST, `Errors.NoChangesFound` on no-op updates).
//!
//! Unlike the embedded emulator it is deliberately *eventually consistent*: a write becomes
//! visible to reads only after `lag`, as ZITADEL's projections do, so the suite proves it
//! polls instead of assuming read-after-write.

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{
    Router,
    body::{Body, Bytes},
    extract::{Request, State},
    http::{HeaderMap, Method, StatusCode},
    response::Response,
};
use serde_json::{Value, json};
use tokio::{net::TcpListener, task::JoinHandle};
use url::Url;

pub const PAT: &str = "fake-admin-pat";
/// The organization of the PAT's machine user (used without `x-zitadel-orgid`).
pub const DEFAULT_ORG: &str = "100";
const INSTANCE: &str = "1";

#[derive(Clone)]
struct Versioned<T> {
    /// What reads show before `visible_at`.
    before: Option<T>,
    current: T,
    visible_at: Instant,
}

impl<T: Clone> Versioned<T> {
    fn new(value: T, lag: Duration) -> Self {
        Self {
            before: None,
            current: value,
            visible_at: Instant::now() + lag,
        }
    }

    /// The value a (lagging) read sees.
    fn read(&self) -> Option<&T> {
        if Instant::now() >= self.visible_at {
            Some(&self.current)
        } else {
            self.before.as_ref()
        }
    }

    fn write(&mut self, value: T, lag: Duration) {
        let seen = self.read().cloned();
        self.before = seen;
        self.current = value;
        self.visible_at = Instant::now() + lag;
    }
}

#[derive(Clone)]
struct Org {
    name: String,
    state: &'static str,
    /// Custom login policy settings, and the linked IdPs.
    policy: Option<(Value, Vec<String>)>,
}

#[derive(Clone)]
struct Project {
    org: String,
    body: Value,
}

#[derive(Clone)]
struct App {
    org: String,
    project: String,
    name: String,
    client_id: String,
    settings: Value,
}

#[derive(Clone)]
struct Idp {
    org: String,
    kind: String,
    body: Value,
}

#[derive(Clone)]
struct User {
    org: String,
    username: String,
    body: Value,
    password_changes: u32,
}

#[derive(Clone)]
struct Target {
    body: Value,
    signing_key: String,
}

#[derive(Default)]
struct Data {
    next_id: u64,
    orgs: BTreeMap<String, Versioned<Org>>,
    projects: BTreeMap<String, Versioned<Project>>,
    apps: BTreeMap<String, Versioned<App>>,
    idps: BTreeMap<String, Versioned<Idp>>,
    users: BTreeMap<String, Versioned<User>>,
    targets: BTreeMap<String, Versioned<Target>>,
    /// Condition (canonical JSON) → target ids.
    executions: BTreeMap<String, Versioned<(Value, Vec<String>)>>,
}

impl Data {
    fn id(&mut self) -> String {
        self.next_id += 1;
        (300_000 + self.next_id).to_string()
    }
}

struct Fake {
    base: String,
    lag: Duration,
    data: Mutex<Data>,
}

pub struct FakeZitadel {
    pub url: Url,
    task: JoinHandle<()>,
}

impl Drop for FakeZitadel {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeZitadel {
    pub async fn start(lag: Duration) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let base = format!("http://{addr}");
        let mut data = Data::default();
        data.orgs.insert(
            DEFAULT_ORG.into(),
            Versioned::new(
                Org {
                    name: "ZITADEL".into(),
                    state: "ORGANIZATION_STATE_ACTIVE",
                    policy: None,
                },
                Duration::ZERO,
            ),
        );
        let fake = Arc::new(Fake {
            base: base.clone(),
            lag,
            data: Mutex::new(data),
        });
        let app = Router::new().fallback(handle).with_state(fake);
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            url: Url::parse(&base).unwrap(),
            task,
        }
    }
}

type Reply = (u16, Value);

fn error(status: u16, code: u16, message: &str, id: &str) -> Reply {
    (
        status,
        json!({
            "code": code,
            "message": format!("{message} ({id})"),
            "details": [{"@type": "type.googleapis.com/zitadel.v1.ErrorDetail", "id": id, "message": message}]
        }),
    )
}

fn not_found(message: &str, id: &str) -> Reply {
    error(404, 5, message, id)
}

fn exists(message: &str, id: &str) -> Reply {
    error(409, 6, message, id)
}

fn invalid(message: &str, id: &str) -> Reply {
    error(400, 3, message, id)
}

fn no_changes(id: &str) -> Reply {
    error(400, 9, "No changes", id)
}

fn now() -> String {
    gatehouse_core::Timestamp::now().to_string()
}

fn details(owner: &str) -> Value {
    json!({"sequence": "1", "creationDate": now(), "changeDate": now(), "resourceOwner": owner})
}

fn text(body: &Value, key: &str) -> String {
    body.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn random_secret() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..32)
        .map(|_| char::from(b'a' + rng.random_range(0..26)))
        .collect()
}

/// Compares a JSON body with the fields ZITADEL keeps, ignoring defaults protojson omits.
fn same_settings(a: &Value, b: &Value) -> bool {
    fn strip(value: &Value) -> Value {
        match value {
            Value::Object(map) => Value::Object(
                map.iter()
                    .filter(|(_, v)| {
                        !matches!(v, Value::Null | Value::Bool(false))
                            && *v != &json!([])
                            && *v != &json!("")
                    })
                    .map(|(k, v)| (k.clone(), strip(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
    strip(a) == strip(b)
}

async fn handle(State(fake): State<Arc<Fake>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 1024 * 1024)
        .await
        .unwrap_or_default();
    let (status, value, headers) =
        fake.route(&parts.method, parts.uri.path(), &parts.headers, &body);
    let mut response = Response::builder()
        .status(StatusCode::from_u16(status).unwrap())
        .header("content-type", "application/json");
    for (name, value) in headers {
        response = response.header(name, value);
    }
    response.body(Body::from(value.to_string())).unwrap()
}

impl Fake {
    fn route(
        &self,
        method: &Method,
        path: &str,
        headers: &HeaderMap,
        body: &Bytes,
    ) -> (u16, Value, Vec<(&'static str, &'static str)>) {
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        match (method.as_str(), segments.as_slice()) {
            ("GET", [".well-known", "openid-configuration"]) => (200, self.discovery(), vec![]),
            ("GET", ["oauth", "v2", "keys"]) => (
                200,
                json!({"keys": [{"use": "sig", "kty": "RSA", "kid": "fake-key-1", "alg": "RS256", "n": "sXch", "e": "AQAB"}]}),
                vec![("cache-control", "max-age=300, must-revalidate")],
            ),
            _ => {
                if headers.get("authorization").and_then(|v| v.to_str().ok())
                    != Some(&format!("Bearer {PAT}"))
                {
                    let (status, value) = error(401, 16, "Errors.Token.Invalid", "AUTH-7fs1e");
                    return (status, value, vec![]);
                }
                let body: Value = if body.is_empty() {
                    json!({})
                } else {
                    match serde_json::from_slice(body) {
                        Ok(value) => value,
                        Err(_) => {
                            let (status, value) = invalid("invalid JSON", "FAKE-json");
                            return (status, value, vec![]);
                        }
                    }
                };
                let org = headers
                    .get("x-zitadel-orgid")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or(DEFAULT_ORG)
                    .to_owned();
                let mut data = self.data.lock().unwrap();
                let (status, value) = self.api(&mut data, method.as_str(), &segments, &org, &body);
                (status, value, vec![])
            }
        }
    }

    fn discovery(&self) -> Value {
        let b = &self.base;
        json!({
            "issuer": b,
            "authorization_endpoint": format!("{b}/oauth/v2/authorize"),
            "token_endpoint": format!("{b}/oauth/v2/token"),
            "introspection_endpoint": format!("{b}/oauth/v2/introspect"),
            "userinfo_endpoint": format!("{b}/oidc/v1/userinfo"),
            "revocation_endpoint": format!("{b}/oauth/v2/revoke"),
            "end_session_endpoint": format!("{b}/oidc/v1/end_session"),
            "jwks_uri": format!("{b}/oauth/v2/keys"),
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "response_types_supported": ["code", "id_token", "id_token token"],
            "grant_types_supported": ["authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:jwt-bearer"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "request_uri_parameter_supported": false
        })
    }

    fn api(
        &self,
        data: &mut Data,
        method: &str,
        segments: &[&str],
        org: &str,
        body: &Value,
    ) -> Reply {
        let lag = self.lag;
        match (method, segments) {
            // ---- organizations (v2) ----
            ("POST", ["v2", "organizations"]) => {
                let name = text(body, "name");
                if name.trim().is_empty() || name.chars().count() > 200 {
                    return invalid("invalid AddOrganizationRequest.Name", "FAKE-orgname");
                }
                if data
                    .orgs
                    .values()
                    .any(|o| o.current.name.eq_ignore_ascii_case(&name))
                {
                    return exists("Organisation's name or id already taken", "COMMAND-fake1");
                }
                let id = data.id();
                data.orgs.insert(
                    id.clone(),
                    Versioned::new(
                        Org {
                            name,
                            state: "ORGANIZATION_STATE_ACTIVE",
                            policy: None,
                        },
                        lag,
                    ),
                );
                (201, json!({"details": details(&id), "organizationId": id}))
            }
            ("POST", ["v2", "organizations", "_search"]) => {
                let queries = body
                    .get("queries")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                let result: Vec<Value> = data
                    .orgs
                    .iter()
                    .filter_map(|(id, org)| org.read().map(|o| (id, o)))
                    .filter(|(id, org)| {
                        queries.iter().all(|q| {
                            if let Some(want) = q.pointer("/idQuery/id").and_then(Value::as_str) {
                                return *id == want;
                            }
                            if let Some(want) = q.pointer("/nameQuery/name").and_then(Value::as_str) {
                                return org.name == want;
                            }
                            true
                        })
                    })
                    .map(|(id, org)| {
                        json!({"id": id, "details": details(id), "state": org.state, "name": org.name,
                               "primaryDomain": format!("{}.fake.example", org.name.to_lowercase().replace(' ', "-"))})
                    })
                    .collect();
                (
                    200,
                    json!({"details": {"totalResult": result.len().to_string()}, "result": result}),
                )
            }
            ("POST", ["v2", "organizations", id]) => {
                let name = text(body, "name");
                if data
                    .orgs
                    .values()
                    .any(|o| o.current.name.eq_ignore_ascii_case(&name) && o.current.name != name)
                {
                    return exists("Organisation's name or id already taken", "COMMAND-fake1");
                }
                let Some(entry) = data.orgs.get_mut(*id) else {
                    return not_found("Organisation not found", "COMMAND-fake2");
                };
                if entry.current.name == name {
                    return no_changes("ORG-fake3");
                }
                let mut org = entry.current.clone();
                org.name = name;
                entry.write(org, lag);
                (200, json!({"changeDate": now()}))
            }
            ("DELETE", ["v2", "organizations", id]) => {
                if *id == DEFAULT_ORG {
                    return error(
                        400,
                        9,
                        "Default Organisation must not be deleted",
                        "COMMA-wG9p1",
                    );
                }
                if data.orgs.remove(*id).is_none() {
                    return not_found("Organisation not found", "COMMAND-fake2");
                }
                let id = id.to_string();
                data.projects.retain(|_, p| p.current.org != id);
                data.apps.retain(|_, a| a.current.org != id);
                data.idps.retain(|_, i| i.current.org != id);
                data.users.retain(|_, u| u.current.org != id);
                (200, json!({"deletionDate": now()}))
            }

            // ---- login policy (management v1) ----
            ("GET", ["management", "v1", "policies", "login"]) => {
                let Some(entry) = data.orgs.get(org) else {
                    return not_found("Organisation not found", "FAKE-org");
                };
                let visible = entry.read().and_then(|o| o.policy.clone());
                match visible {
                    Some((settings, idps)) => {
                        let mut policy = settings.clone();
                        policy["details"] = details(org);
                        policy["idps"] = json!(idps
                            .iter()
                            .map(|id| json!({"idpId": id, "idpName": data.idps.get(id).map(|i| text(&i.current.body, "name")).unwrap_or_default(), "idpType": "IDP_TYPE_UNSPECIFIED"}))
                            .collect::<Vec<_>>());
                        (200, json!({"policy": policy}))
                    }
                    None => (
                        200,
                        json!({
                            "policy": {"details": details(INSTANCE), "allowUsernamePassword": true, "allowExternalIdp": true,
                                       "passwordlessType": "PASSWORDLESS_TYPE_ALLOWED", "passwordCheckLifetime": "864000s",
                                       "secondFactors": ["SECOND_FACTOR_TYPE_OTP"], "isDefault": true},
                            "isDefault": true
                        }),
                    ),
                }
            }
            ("POST", ["management", "v1", "policies", "login"]) => {
                let Some(entry) = data.orgs.get_mut(org) else {
                    return not_found("Organisation not found", "FAKE-org");
                };
                if entry.current.policy.is_some() {
                    return exists("Login Policy already exists", "Org-Dgfb2");
                }
                let mut settings = body.clone();
                let idps: Vec<String> = settings
                    .get("idps")
                    .and_then(Value::as_array)
                    .map(|links| links.iter().map(|l| text(l, "idpId")).collect())
                    .unwrap_or_default();
                if let Some(map) = settings.as_object_mut() {
                    map.remove("idps");
                }
                let mut updated = entry.current.clone();
                updated.policy = Some((settings, idps));
                entry.write(updated, lag);
                (200, json!({"details": details(org)}))
            }
            ("PUT", ["management", "v1", "policies", "login"]) => {
                let Some(entry) = data.orgs.get_mut(org) else {
                    return not_found("Organisation not found", "FAKE-org");
                };
                let Some((settings, idps)) = entry.current.policy.clone() else {
                    return not_found("Login Policy not found", "Org-Ffgw2");
                };
                if same_settings(&settings, body) {
                    return no_changes("Org-5M9vdd");
                }
                let mut updated = entry.current.clone();
                updated.policy = Some((body.clone(), idps));
                entry.write(updated, lag);
                (200, json!({"details": details(org)}))
            }
            ("DELETE", ["management", "v1", "policies", "login"]) => {
                let Some(entry) = data.orgs.get_mut(org) else {
                    return not_found("Organisation not found", "FAKE-org");
                };
                if entry.current.policy.is_none() {
                    return not_found("Login Policy not found", "Org-Ffgw2");
                }
                let mut updated = entry.current.clone();
                updated.policy = None;
                entry.write(updated, lag);
                (200, json!({"details": details(org)}))
            }
            ("POST", ["management", "v1", "policies", "login", "idps"]) => {
                let idp_id = text(body, "idpId");
                let owner_type = text(body, "ownerType");
                if owner_type != "IDP_OWNER_TYPE_ORG" && owner_type != "IDP_OWNER_TYPE_SYSTEM" {
                    return invalid("invalid AddIDPToLoginPolicyRequest.OwnerType", "FAKE-owner");
                }
                let idp_known = data.idps.get(&idp_id).is_some_and(|i| i.current.org == org);
                let Some(entry) = data.orgs.get_mut(org) else {
                    return not_found("Organisation not found", "FAKE-org");
                };
                let Some((settings, mut idps)) = entry.current.policy.clone() else {
                    return not_found("Login Policy not found", "Org-Ffgw2");
                };
                if !idp_known {
                    return error(400, 9, "IDP configuration does not exist", "Org-3N9fs");
                }
                if idps.contains(&idp_id) {
                    return exists("Identity Provider already existing", "Org-2B0ps");
                }
                idps.push(idp_id);
                let mut updated = entry.current.clone();
                updated.policy = Some((settings, idps));
                entry.write(updated, lag);
                (200, json!({"details": details(org)}))
            }
            ("POST", ["management", "v1", "policies", "login", "idps", "_search"]) => {
                let links = data
                    .orgs
                    .get(org)
                    .and_then(|o| o.read())
                    .and_then(|o| o.policy.clone())
                    .map(|(_, idps)| idps)
                    .unwrap_or_default();
                let result: Vec<Value> = links
                    .iter()
                    .map(|id| json!({"idpId": id, "idpName": data.idps.get(id).map(|i| text(&i.current.body, "name")).unwrap_or_default()}))
                    .collect();
                (
                    200,
                    json!({"details": {"totalResult": result.len().to_string()}, "result": result}),
                )
            }
            ("DELETE", ["management", "v1", "policies", "login", "idps", idp_id]) => {
                let Some(entry) = data.orgs.get_mut(org) else {
                    return not_found("Organisation not found", "FAKE-org");
                };
                let Some((settings, mut idps)) = entry.current.policy.clone() else {
                    return not_found("Login Policy not found", "Org-Ffgw2");
                };
                if !idps.iter().any(|id| id == idp_id) {
                    return not_found("Identity Provider not existing", "Org-Fe3ps");
                }
                idps.retain(|id| id != idp_id);
                let mut updated = entry.current.clone();
                updated.policy = Some((settings, idps));
                entry.write(updated, lag);
                (200, json!({"details": details(org)}))
            }

            // ---- projects (management v1) ----
            ("POST", ["management", "v1", "projects"]) => {
                let name = text(body, "name");
                if name.trim().is_empty() {
                    return invalid("invalid AddProjectRequest.Name", "FAKE-projname");
                }
                if data
                    .projects
                    .values()
                    .any(|p| p.current.org == org && text(&p.current.body, "name") == name)
                {
                    return exists("Project already exists on organization", "PROJECT-fake1");
                }
                let id = data.id();
                data.projects.insert(
                    id.clone(),
                    Versioned::new(
                        Project {
                            org: org.into(),
                            body: body.clone(),
                        },
                        lag,
                    ),
                );
                (200, json!({"id": id, "details": details(org)}))
            }
            ("GET", ["management", "v1", "projects", id]) => {
                match data
                    .projects
                    .get(*id)
                    .and_then(|p| p.read())
                    .filter(|p| p.org == org)
                {
                    Some(project) => {
                        let mut value = project.body.clone();
                        value["id"] = json!(id);
                        value["details"] = details(org);
                        value["state"] = json!("PROJECT_STATE_ACTIVE");
                        (200, json!({"project": value}))
                    }
                    None => not_found("Project not found", "PROJECT-3M9sd"),
                }
            }
            ("DELETE", ["management", "v1", "projects", id]) => {
                let owned = data.projects.get(*id).is_some_and(|p| p.current.org == org);
                if !owned {
                    return not_found("Project not found", "PROJECT-3M9sd");
                }
                data.projects.remove(*id);
                let id = id.to_string();
                data.apps.retain(|_, a| a.current.project != id);
                (200, json!({"details": details(org)}))
            }

            // ---- OIDC apps (management v1) ----
            ("POST", ["management", "v1", "projects", project_id, "apps", "oidc"]) => {
                let owned = data
                    .projects
                    .get(*project_id)
                    .is_some_and(|p| p.current.org == org);
                if !owned {
                    return not_found("Project not found", "PROJECT-3M9sd");
                }
                let name = text(body, "name");
                if data
                    .apps
                    .values()
                    .any(|a| a.current.project == *project_id && a.current.name == name)
                {
                    return exists("Application already exists", "PROJECT-fake2");
                }
                let id = data.id();
                let client_id = format!("{id}@fake");
                let mut settings = body.clone();
                if let Some(map) = settings.as_object_mut() {
                    map.remove("name");
                    map.remove("version");
                }
                let auth = text(&settings, "authMethodType");
                let mut response = json!({
                    "appId": id,
                    "details": details(org),
                    "clientId": client_id,
                });
                if auth.is_empty()
                    || auth == "OIDC_AUTH_METHOD_TYPE_BASIC"
                    || auth == "OIDC_AUTH_METHOD_TYPE_POST"
                {
                    response["clientSecret"] = json!(random_secret());
                }
                let (none_compliant, problems) = compliance(&settings);
                if none_compliant {
                    response["noneCompliant"] = json!(true);
                    response["complianceProblems"] = problems;
                }
                data.apps.insert(
                    id,
                    Versioned::new(
                        App {
                            org: org.into(),
                            project: project_id.to_string(),
                            name,
                            client_id,
                            settings,
                        },
                        lag,
                    ),
                );
                (200, response)
            }
            ("GET", ["management", "v1", "projects", project_id, "apps", app_id]) => {
                match data
                    .apps
                    .get(*app_id)
                    .and_then(|a| a.read())
                    .filter(|a| a.org == org && a.project == *project_id)
                {
                    Some(app) => {
                        let mut config = app.settings.clone();
                        config["clientId"] = json!(app.client_id);
                        config["version"] = json!("OIDC_VERSION_1_0");
                        let (none_compliant, problems) = compliance(&app.settings);
                        if none_compliant {
                            config["noneCompliant"] = json!(true);
                            config["complianceProblems"] = problems;
                        }
                        (
                            200,
                            json!({"app": {"id": app_id, "details": details(org), "state": "APP_STATE_ACTIVE",
                                              "name": app.name, "oidcConfig": config}}),
                        )
                    }
                    None => not_found("Application not found", "APP-ie23k"),
                }
            }
            (
                "PUT",
                [
                    "management",
                    "v1",
                    "projects",
                    project_id,
                    "apps",
                    app_id,
                    "oidc_config",
                ],
            ) => {
                let Some(entry) = data
                    .apps
                    .get_mut(*app_id)
                    .filter(|a| a.current.org == org && a.current.project == *project_id)
                else {
                    return not_found("Application doesn't exist", "COMMAND-2n8uU");
                };
                if same_settings(&entry.current.settings, body) {
                    return no_changes("COMMAND-1m88i");
                }
                let mut app = entry.current.clone();
                app.settings = body.clone();
                entry.write(app, lag);
                (200, json!({"details": details(org)}))
            }
            (
                "POST",
                [
                    "management",
                    "v1",
                    "projects",
                    project_id,
                    "apps",
                    app_id,
                    "oidc_config",
                    "_generate_client_secret",
                ],
            ) => {
                let Some(entry) = data
                    .apps
                    .get(*app_id)
                    .filter(|a| a.current.org == org && a.current.project == *project_id)
                else {
                    return not_found("Application doesn't exist", "COMMAND-2n8uU");
                };
                let auth = text(&entry.current.settings, "authMethodType");
                if auth == "OIDC_AUTH_METHOD_TYPE_NONE" {
                    return error(
                        400,
                        9,
                        "Chosen OIDC Auth Method does not require a secret",
                        "COMMAND-Ghrh3",
                    );
                }
                (
                    200,
                    json!({"clientSecret": random_secret(), "details": details(org)}),
                )
            }
            ("DELETE", ["management", "v1", "projects", project_id, "apps", app_id]) => {
                let owned = data
                    .apps
                    .get(*app_id)
                    .is_some_and(|a| a.current.org == org && a.current.project == *project_id);
                if !owned {
                    return not_found("Application doesn't exist", "COMMAND-0po9s");
                }
                data.apps.remove(*app_id);
                (200, json!({"details": details(org)}))
            }

            // ---- identity providers (management v1) ----
            ("POST", ["management", "v1", "idps", kind])
                if ["google", "github", "azure", "generic_oidc"].contains(kind) =>
            {
                if text(body, "clientId").trim().is_empty()
                    || text(body, "clientSecret").trim().is_empty()
                {
                    return invalid("Errors.Invalid.Argument", "ORG-D3fvs");
                }
                if *kind == "generic_oidc" && text(body, "issuer").trim().is_empty() {
                    return invalid("Errors.Invalid.Argument", "ORG-Sgtj5");
                }
                let id = data.id();
                let mut stored = body.clone();
                if let Some(map) = stored.as_object_mut() {
                    map.remove("clientSecret");
                }
                data.idps.insert(
                    id.clone(),
                    Versioned::new(
                        Idp {
                            org: org.into(),
                            kind: kind.to_string(),
                            body: stored,
                        },
                        lag,
                    ),
                );
                (200, json!({"details": details(org), "id": id}))
            }
            ("PUT", ["management", "v1", "idps", kind, id]) => {
                let Some(entry) = data
                    .idps
                    .get_mut(*id)
                    .filter(|i| i.current.org == org && i.current.kind == *kind)
                else {
                    return not_found("IDP configuration does not exist", "ORG-4d3ds");
                };
                let mut stored = body.clone();
                if let Some(map) = stored.as_object_mut() {
                    map.remove("clientSecret");
                }
                if stored == entry.current.body && text(body, "clientSecret").is_empty() {
                    return no_changes("IDP-BH3dl");
                }
                let mut idp = entry.current.clone();
                idp.body = stored;
                entry.write(idp, lag);
                (200, json!({"details": details(org)}))
            }
            ("GET", ["management", "v1", "idps", "templates", id]) => {
                match data
                    .idps
                    .get(*id)
                    .and_then(|i| i.read())
                    .filter(|i| i.org == org)
                {
                    Some(idp) => (200, json!({"idp": idp_template(id, org, idp)})),
                    None => not_found("IDP configuration does not exist", "QUERY-Ahq2s"),
                }
            }
            ("DELETE", ["management", "v1", "idps", "templates", id]) => {
                let owned = data.idps.get(*id).is_some_and(|i| i.current.org == org);
                if !owned {
                    return not_found("IDP configuration does not exist", "ORG-4d3ds");
                }
                data.idps.remove(*id);
                (200, json!({"details": details(org)}))
            }

            // ---- users (v2) ----
            ("POST", ["v2", "users", "human"]) => {
                let user_org = body
                    .pointer("/organization/orgId")
                    .and_then(Value::as_str)
                    .unwrap_or(org)
                    .to_owned();
                if !data.orgs.contains_key(&user_org) {
                    return not_found("Organisation not found", "COMMAND-fake4");
                }
                let email = body
                    .pointer("/email/email")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if email.is_empty() || !email.contains('@') {
                    return invalid("Email is invalid", "EMAIL-599BI");
                }
                let username = body
                    .get("username")
                    .and_then(Value::as_str)
                    .unwrap_or(email)
                    .to_owned();
                if data
                    .users
                    .values()
                    .any(|u| u.current.username.eq_ignore_ascii_case(&username))
                {
                    return exists("User already exists", "SQL-M0dsf");
                }
                if let Some(password) = body.pointer("/password/password").and_then(Value::as_str)
                    && password.chars().count() < 8
                {
                    return invalid("Password is too short", "COMMA-HuJf6");
                }
                let id = data.id();
                data.users.insert(
                    id.clone(),
                    Versioned::new(
                        User {
                            org: user_org.clone(),
                            username,
                            body: body.clone(),
                            password_changes: 0,
                        },
                        lag,
                    ),
                );
                (201, json!({"userId": id, "details": details(&user_org)}))
            }
            ("POST", ["v2", "users", id, "password"]) => {
                let password = body
                    .pointer("/newPassword/password")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if password.chars().count() < 8 {
                    return invalid("Password is too short", "COMMA-HuJf6");
                }
                let Some(entry) = data.users.get_mut(*id) else {
                    return not_found("User could not be found", "COMMAND-3M0fs");
                };
                let mut user = entry.current.clone();
                user.password_changes += 1;
                user.body["password"] = json!({"changeRequired": body.pointer("/newPassword/changeRequired").cloned().unwrap_or(json!(false))});
                let owner = user.org.clone();
                entry.write(user, lag);
                (200, json!({"details": details(&owner)}))
            }
            ("POST", ["v2", "users"]) => {
                let queries = body
                    .get("queries")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                let result: Vec<Value> = data
                    .users
                    .iter()
                    .filter_map(|(id, u)| u.read().map(|u| (id, u)))
                    .filter(|(id, user)| queries.iter().all(|q| user_matches(q, id, user)))
                    .map(|(id, user)| user_json(id, user))
                    .collect();
                (
                    200,
                    json!({"details": {"totalResult": result.len().to_string(), "timestamp": now()}, "result": result}),
                )
            }
            ("GET", ["v2", "users", id]) => match data.users.get(*id).and_then(|u| u.read()) {
                Some(user) => (
                    200,
                    json!({"details": details(&user.org), "user": user_json(id, user)}),
                ),
                None => not_found("User could not be found", "QUERY-Dfbg2"),
            },

            // ---- Actions v2 ----
            ("POST", ["v2", "actions", "targets"]) => {
                let name = text(body, "name");
                let endpoint = text(body, "endpoint");
                if name.is_empty() || endpoint.is_empty() {
                    return invalid("invalid CreateTargetRequest", "FAKE-target");
                }
                if !["restWebhook", "restCall", "restAsync"]
                    .iter()
                    .any(|k| body.get(*k).is_some())
                {
                    return invalid(
                        "invalid CreateTargetRequest.TargetType: value is required",
                        "FAKE-targettype",
                    );
                }
                if data
                    .targets
                    .values()
                    .any(|t| text(&t.current.body, "name") == name)
                {
                    return exists("Target already exists", "INSTANCE-fake5");
                }
                let id = data.id();
                let signing_key = random_secret();
                data.targets.insert(
                    id.clone(),
                    Versioned::new(
                        Target {
                            body: body.clone(),
                            signing_key: signing_key.clone(),
                        },
                        lag,
                    ),
                );
                (
                    200,
                    json!({"id": id, "creationDate": now(), "signingKey": signing_key}),
                )
            }
            ("GET", ["v2", "actions", "targets", id]) => {
                match data.targets.get(*id).and_then(|t| t.read()) {
                    Some(target) => {
                        let mut value = target.body.clone();
                        value["id"] = json!(id);
                        value["signingKey"] = json!(target.signing_key);
                        value["creationDate"] = json!(now());
                        (200, json!({"target": value}))
                    }
                    None => not_found("Target not found", "QUERY-xw9xw"),
                }
            }
            ("POST", ["v2", "actions", "targets", id]) => {
                let Some(entry) = data.targets.get_mut(*id) else {
                    return not_found("Target not found", "COMMAND-ms2ka");
                };
                let mut target = entry.current.clone();
                let mut response = json!({"changeDate": now()});
                for (key, value) in body.as_object().into_iter().flatten() {
                    if key == "expirationSigningKey" {
                        target.signing_key = random_secret();
                        response["signingKey"] = json!(target.signing_key);
                    } else {
                        target.body[key] = value.clone();
                    }
                }
                entry.write(target, lag);
                (200, response)
            }
            ("DELETE", ["v2", "actions", "targets", id]) => {
                data.targets.remove(*id);
                let id = id.to_string();
                for execution in data.executions.values_mut() {
                    let (condition, mut targets) = execution.current.clone();
                    targets.retain(|t| *t != id);
                    execution.write((condition, targets), lag);
                }
                (200, json!({"deletionDate": now()}))
            }
            ("PUT", ["v2", "actions", "executions"]) => {
                let Some(condition) = body.get("condition").filter(|c| c.is_object()) else {
                    return invalid("invalid SetExecutionRequest.Condition", "FAKE-condition");
                };
                let targets: Vec<String> = body
                    .get("targets")
                    .and_then(Value::as_array)
                    .map(|t| {
                        t.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default();
                if let Some(missing) = targets.iter().find(|t| !data.targets.contains_key(*t)) {
                    return not_found(&format!("Target {missing} not found"), "COMMAND-17Dzh");
                }
                let key = condition.to_string();
                if targets.is_empty() {
                    data.executions.remove(&key);
                } else {
                    match data.executions.get_mut(&key) {
                        Some(existing) => existing.write((condition.clone(), targets), lag),
                        None => {
                            data.executions
                                .insert(key, Versioned::new((condition.clone(), targets), lag));
                        }
                    }
                }
                (200, json!({"setDate": now()}))
            }
            ("POST", ["v2", "actions", "executions", "search"]) => {
                let executions: Vec<Value> = data
                    .executions
                    .values()
                    .filter_map(|e| e.read())
                    .map(|(condition, targets)| json!({"condition": condition, "targets": targets, "creationDate": now()}))
                    .collect();
                (
                    200,
                    json!({"pagination": {"totalResult": executions.len().to_string(), "appliedLimit": "100"}, "executions": executions}),
                )
            }
            _ => error(404, 5, "Not Found", "FAKE-route"),
        }
    }
}

/// Mirrors ZITADEL's create-time compliance check for the cases the suite uses.
fn compliance(settings: &Value) -> (bool, Value) {
    let dev_mode = settings
        .get("devMode")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let http = settings
        .get("redirectUris")
        .and_then(Value::as_array)
        .is_some_and(|uris| {
            uris.iter()
                .filter_map(Value::as_str)
                .any(|u| u.starts_with("http://"))
        });
    let app_type = text(settings, "appType");
    if http && !dev_mode && app_type != "OIDC_APP_TYPE_NATIVE" {
        (
            true,
            json!([{"key": "Application.OIDC.V1.Code.RedirectUris.HttpOnlyForWeb", "localizedMessage": "http only with devMode"}]),
        )
    } else {
        (false, json!([]))
    }
}

fn idp_template(id: &str, org: &str, idp: &Idp) -> Value {
    let (provider_type, member) = match idp.kind.as_str() {
        "google" => ("PROVIDER_TYPE_GOOGLE", "google"),
        "github" => ("PROVIDER_TYPE_GITHUB", "github"),
        "azure" => ("PROVIDER_TYPE_AZURE_AD", "azureAd"),
        _ => ("PROVIDER_TYPE_OIDC", "oidc"),
    };
    let mut config =
        json!({"options": idp.body.get("providerOptions").cloned().unwrap_or(json!({}))});
    let mut provider = idp.body.clone();
    if let Some(map) = provider.as_object_mut() {
        map.remove("name");
        map.remove("providerOptions");
    }
    config[member] = provider;
    json!({"id": id, "details": details(org), "state": "IDP_STATE_ACTIVE", "name": text(&idp.body, "name"),
           "owner": "IDP_OWNER_TYPE_ORG", "type": provider_type, "config": config})
}

fn user_matches(query: &Value, id: &str, user: &User) -> bool {
    if let Some(org) = query
        .pointer("/organizationIdQuery/organizationId")
        .and_then(Value::as_str)
    {
        return user.org == org;
    }
    if let Some(name) = query
        .pointer("/userNameQuery/userName")
        .and_then(Value::as_str)
    {
        return user.username == name;
    }
    if let Some(ids) = query
        .pointer("/inUserIdsQuery/userIds")
        .and_then(Value::as_array)
    {
        return ids.iter().any(|v| v.as_str() == Some(id));
    }
    if let Some(queries) = query.pointer("/andQuery/queries").and_then(Value::as_array) {
        return queries.iter().all(|q| user_matches(q, id, user));
    }
    // Criteria the fake does not know match nothing, so a test cannot pass by accident.
    false
}

fn user_json(id: &str, user: &User) -> Value {
    let email = user
        .body
        .pointer("/email/email")
        .cloned()
        .unwrap_or(json!(""));
    let verified = user
        .body
        .pointer("/email/isVerified")
        .cloned()
        .unwrap_or(json!(false));
    let mut human = json!({
        "profile": user.body.get("profile").cloned().unwrap_or(json!({})),
        "email": {"email": email, "isVerified": verified},
    });
    if user.body.pointer("/password/changeRequired") == Some(&json!(true)) {
        human["passwordChangeRequired"] = json!(true);
    }
    if user.password_changes > 0 {
        human["passwordChanged"] = json!(now());
    }
    json!({
        "userId": id,
        "details": details(&user.org),
        "state": "USER_STATE_ACTIVE",
        "username": user.username,
        "loginNames": [user.username],
        "preferredLoginName": user.username,
        "human": human
    })
}
