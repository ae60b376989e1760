//! Retries, timeouts, authentication and error mapping, against a scripted server that fails on
//! cue.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use axum::http::Method;
use gatehouse_zitadel::client::{
    ClientConfig, Code, Credentials, ProjectSettings, RetryPolicy, Updated, ZitadelClient,
    ZitadelError,
};
use serde_json::json;
use tokio::{io::AsyncReadExt, net::TcpListener};
use url::Url;

use crate::{
    keys::TestKey,
    mock::{MockReply, MockServer},
};

const ORG: &str = "org-1";

fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        initial_backoff: Duration::from_millis(40),
        max_backoff: Duration::from_millis(200),
        max_retry_after: Duration::from_secs(5),
    }
}

fn config(url: &Url, credentials: Credentials) -> ClientConfig {
    let mut config = ClientConfig::new(url.clone(), credentials);
    config.retry = fast_retry();
    config.request_timeout = Duration::from_secs(5);
    config
}

fn pat_client(url: &Url) -> ZitadelClient {
    let credentials = Credentials::pat("test-pat").unwrap();
    ZitadelClient::new(reqwest::Client::new(), config(url, credentials)).unwrap()
}

fn project() -> ProjectSettings {
    ProjectSettings {
        name: "web".into(),
        ..Default::default()
    }
}

fn created_project() -> MockReply {
    MockReply::json(
        200,
        json!({"id": "p-1", "details": {"sequence": "1", "resourceOwner": ORG}}),
    )
}

fn unavailable() -> MockReply {
    MockReply::json(
        503,
        json!({"code": 14, "message": "Errors.Internal (QUERY-Unav1)"}),
    )
}

#[tokio::test]
async fn fails_twice_with_503_then_succeeds() {
    let server = MockServer::start(|_, n| {
        if n <= 2 {
            unavailable()
        } else {
            created_project()
        }
    })
    .await;
    let started = Instant::now();
    let created = pat_client(&server.url)
        .create_project(ORG, &project())
        .await
        .unwrap();
    let elapsed = started.elapsed();
    assert_eq!(created.id, "p-1");
    assert_eq!(server.count(Method::POST, "/management/v1/projects"), 3);
    // Two backoffs: [20, 40] ms and [40, 80] ms.
    assert!(elapsed >= Duration::from_millis(60), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
    // The same body and headers went out each time.
    let requests = server.requests();
    assert!(requests.windows(2).all(|w| w[0].body == w[1].body));
    assert!(
        requests
            .iter()
            .all(|r| r.header("x-zitadel-orgid") == Some(ORG))
    );
}

#[tokio::test]
async fn gives_up_after_max_attempts() {
    let server = MockServer::start(|_, _| unavailable()).await;
    let err = pat_client(&server.url)
        .create_project(ORG, &project())
        .await
        .unwrap_err();
    assert_eq!(server.count(Method::POST, "/management/v1/projects"), 4);
    assert_eq!(err.code(), Some(Code::Unavailable));
    assert_eq!(err.message_id(), Some("QUERY-Unav1"));
    assert!(err.is_transient());
}

#[tokio::test]
async fn honours_retry_after_on_429() {
    let server = MockServer::start(|_, n| {
        if n == 1 {
            MockReply::json(
                429,
                json!({"code": 8, "message": "quota exceeded (QUOTA-1)"}),
            )
            .header("retry-after", "1")
        } else {
            created_project()
        }
    })
    .await;
    let started = Instant::now();
    pat_client(&server.url)
        .create_project(ORG, &project())
        .await
        .unwrap();
    let elapsed = started.elapsed();
    assert_eq!(server.count(Method::POST, "/management/v1/projects"), 2);
    assert!(elapsed >= Duration::from_secs(1), "waited only {elapsed:?}");
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
}

#[tokio::test]
async fn a_retry_after_beyond_the_policy_is_returned_not_waited() {
    let server = MockServer::start(|_, _| {
        MockReply::json(429, json!({"code": 8, "message": "slow down"}))
            .header("retry-after", "120")
    })
    .await;
    let started = Instant::now();
    let err = pat_client(&server.url)
        .create_project(ORG, &project())
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(server.count(Method::POST, "/management/v1/projects"), 1);
    let api = err.api().unwrap();
    assert_eq!(api.code, Code::ResourceExhausted);
    assert_eq!(api.retry_after, Some(Duration::from_secs(120)));
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let server = MockServer::start(|_, _| {
        MockReply::json(
            400,
            json!({
                "code": 3,
                "message": "invalid AddProjectRequest.Name: value length must be between 1 and 200 runes (PROJ-invalid)",
                "details": [{"@type": "type.googleapis.com/zitadel.v1.ErrorDetail", "id": "PROJ-invalid",
                             "message": "invalid AddProjectRequest.Name"}]
            }),
        )
    })
    .await;
    let err = pat_client(&server.url)
        .create_project(ORG, &project())
        .await
        .unwrap_err();
    assert_eq!(server.count(Method::POST, "/management/v1/projects"), 1);
    assert_eq!(err.code(), Some(Code::InvalidArgument));
    assert_eq!(err.message_id(), Some("PROJ-invalid"));
    assert!(!err.is_transient());

    for status in [401, 403, 404, 409, 501] {
        let server = MockServer::start(move |_, _| MockReply::raw(status, "nope")).await;
        let err = pat_client(&server.url)
            .create_project(ORG, &project())
            .await
            .unwrap_err();
        assert_eq!(
            server.count(Method::POST, "/management/v1/projects"),
            1,
            "status {status}"
        );
        assert_eq!(err.api().unwrap().status, status);
    }
}

#[tokio::test]
async fn timeouts_retry_reads_but_not_creates() {
    let server = MockServer::start(|_, _| {
        MockReply::json(200, json!({"project": {"id": "p-1"}})).after(Duration::from_secs(3))
    })
    .await;
    let mut config = config(&server.url, Credentials::pat("t").unwrap());
    config.request_timeout = Duration::from_millis(150);
    config.retry.max_attempts = 3;
    let client = ZitadelClient::new(reqwest::Client::new(), config).unwrap();

    let started = Instant::now();
    let err = client.get_project(ORG, "p-1").await.unwrap_err();
    let elapsed = started.elapsed();
    assert!(
        matches!(
            err,
            ZitadelError::Timeout {
                op: "get_project",
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(server.count(Method::GET, "/management/v1/projects/p-1"), 3);
    assert!(elapsed >= Duration::from_millis(450), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");

    // A create that timed out may have been applied: it is not sent again.
    let err = client.create_project(ORG, &project()).await.unwrap_err();
    assert!(matches!(err, ZitadelError::Timeout { .. }), "{err}");
    assert_eq!(server.count(Method::POST, "/management/v1/projects"), 1);
}

/// A server that accepts connections and closes the first `drops` of them after reading the
/// request, then answers 200 with `body`.
async fn dropping_server(drops: usize, body: &'static str) -> (Url, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = Url::parse(&format!("http://{}", listener.local_addr().unwrap())).unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let counter = connections.clone();
    tokio::spawn(async move {
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
            tokio::spawn(async move {
                let mut buffer = vec![0u8; 64 * 1024];
                let _ = socket.read(&mut buffer).await;
                if n > drops {
                    use tokio::io::AsyncWriteExt;
                    let response = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = socket.write_all(response.as_bytes()).await;
                }
                // Dropping the socket closes the connection.
            });
        }
    });
    (url, connections)
}

#[tokio::test]
async fn broken_connections_retry_idempotent_calls_only() {
    let (url, connections) = dropping_server(2, r#"{"project":{"id":"p-1"}}"#).await;
    let client = pat_client(&url);
    let read = client.get_project(ORG, "p-1").await.unwrap().unwrap();
    assert_eq!(read.id, "p-1");
    assert_eq!(connections.load(Ordering::SeqCst), 3);

    let (url, connections) = dropping_server(1, r#"{"id":"p-1"}"#).await;
    let err = pat_client(&url)
        .create_project(ORG, &project())
        .await
        .unwrap_err();
    assert!(matches!(err, ZitadelError::Transport { .. }), "{err}");
    assert_eq!(connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn unreachable_zitadel_is_retried_then_reported() {
    // Bind and drop: nothing listens on the port any more.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = Url::parse(&format!("http://{}", listener.local_addr().unwrap())).unwrap();
    drop(listener);
    let started = Instant::now();
    // Connection refused means the request never left: even a create is retried.
    let err = pat_client(&url)
        .create_project(ORG, &project())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ZitadelError::Transport {
                op: "create_project",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.is_transient());
    // Three backoffs of at least 20, 40 and 80 ms happened.
    assert!(
        started.elapsed() >= Duration::from_millis(140),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn oversized_answers_are_refused() {
    let server = MockServer::start(|_, _| MockReply::raw(200, vec![b' '; 2 * 1024 * 1024])).await;
    let mut config = config(&server.url, Credentials::pat("t").unwrap());
    config.max_response_bytes = 1024 * 1024;
    let client = ZitadelClient::new(reqwest::Client::new(), config).unwrap();
    let err = client.get_project(ORG, "p-1").await.unwrap_err();
    assert!(matches!(err, ZitadelError::Decode { .. }), "{err}");
    assert_eq!(server.count(Method::GET, "/management/v1/projects/p-1"), 1);
}

#[tokio::test]
async fn pat_and_org_headers_are_sent() {
    let server = MockServer::start(|_, _| created_project()).await;
    pat_client(&server.url)
        .create_project(ORG, &project())
        .await
        .unwrap();
    let request = &server.requests()[0];
    assert_eq!(request.header("authorization"), Some("Bearer test-pat"));
    assert_eq!(request.header("x-zitadel-orgid"), Some(ORG));
    assert_eq!(request.header("accept-language"), Some("en"));
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(
        request.json(),
        json!({
            "name": "web",
            "projectRoleAssertion": false,
            "projectRoleCheck": false,
            "hasProjectCheck": false
        })
    );
}

#[tokio::test]
async fn an_ignored_org_header_is_detected() {
    // zitadel/zitadel#12482: the project lands in the caller's own organization.
    let server = MockServer::start(|_, _| {
        MockReply::json(
            200,
            json!({"id": "p-9", "details": {"resourceOwner": "callers-org"}}),
        )
    })
    .await;
    let err = pat_client(&server.url)
        .create_project(ORG, &project())
        .await
        .unwrap_err();
    match err {
        ZitadelError::WrongOrganization {
            expected,
            actual,
            resource_id,
            ..
        } => {
            assert_eq!(expected, ORG);
            assert_eq!(actual, "callers-org");
            assert_eq!(resource_id.as_deref(), Some("p-9"));
        }
        other => panic!("expected WrongOrganization, got {other}"),
    }
}

#[tokio::test]
async fn no_op_updates_and_repeated_deletes_are_not_errors() {
    let server = MockServer::start(|request, _| match request.method {
        Method::PUT => MockReply::json(
            400,
            json!({"code": 9, "message": "No changes (COMMAND-1m88i)"}),
        ),
        _ => MockReply::json(
            404,
            json!({"code": 5, "message": "Project not found (PROJECT-3M9sd)"}),
        ),
    })
    .await;
    let client = pat_client(&server.url);
    assert_eq!(
        client.update_project(ORG, "p-1", &project()).await.unwrap(),
        Updated::Unchanged
    );
    assert!(!client.delete_project(ORG, "p-1").await.unwrap());
    assert!(client.get_project(ORG, "p-1").await.unwrap().is_none());
}

#[tokio::test]
async fn connect_shaped_errors_are_mapped() {
    let server = MockServer::start(|_, _| {
        MockReply::json(
            400,
            json!({"code": "failed_precondition", "message": "Errors.User.Locked (COMMAND-JLK35)"}),
        )
    })
    .await;
    let err = pat_client(&server.url)
        .get_project(ORG, "p-1")
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(Code::FailedPrecondition));
    assert_eq!(err.message_id(), Some("COMMAND-JLK35"));
    assert_eq!(err.api().unwrap().message, "Errors.User.Locked");
}

#[tokio::test]
async fn invalid_ids_are_refused_before_sending() {
    let server = MockServer::start(|_, _| created_project()).await;
    let client = pat_client(&server.url);
    assert!(matches!(
        client.get_project(ORG, "").await,
        Err(ZitadelError::InvalidRequest { .. })
    ));
    assert!(matches!(
        client
            .create_project("org\r\nx-injected: 1", &project())
            .await,
        Err(ZitadelError::InvalidRequest { .. })
    ));
    // Path ids are escaped, never interpreted as more segments.
    let _ = client.get_project(ORG, "../orgs/me").await;
    assert!(
        server
            .requests()
            .iter()
            .all(|r| !r.path.contains("/orgs/me"))
    );
    assert_eq!(server.requests().len(), 1);
}

// ---- JWT profile -------------------------------------------------------------------------------

struct TokenServer {
    server: MockServer,
    key: TestKey,
}

/// A ZITADEL stand-in that checks JWT-profile assertions and issues numbered tokens
/// (`token-1`, `token-2`, …) with the given lifetime. With `reject_first_api_call`, API calls
/// with `token-1` are refused with 401, as for a revoked token.
async fn token_server(expires_in: u64, reject_first_api_call: bool) -> TokenServer {
    let key = TestKey::generate();
    let decoding = key.decoding_key();
    let key_id = key.key_id.clone();
    let user_id = key.user_id.clone();
    let server = MockServer::start(move |request, n| {
        if request.path == "/oauth/v2/token" {
            let form = request.form();
            let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
            assert_eq!(field("grant_type").as_deref(), Some("urn:ietf:params:oauth:grant-type:jwt-bearer"));
            assert_eq!(
                field("scope").as_deref(),
                Some("openid urn:zitadel:iam:org:project:id:zitadel:aud")
            );
            let assertion = field("assertion").expect("assertion");
            let header = jsonwebtoken::decode_header(&assertion).unwrap();
            assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);
            assert_eq!(header.kid.as_deref(), Some(key_id.as_str()));
            let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
            validation.set_audience(&["https://issuer.example"]);
            validation.set_issuer(&[user_id.as_str()]);
            validation.set_required_spec_claims(&["exp", "iat", "aud", "iss", "sub"]);
            let claims = jsonwebtoken::decode::<serde_json::Value>(&assertion, &decoding, &validation)
                .expect("a valid assertion")
                .claims;
            assert_eq!(claims["sub"], json!(user_id));
            let (iat, exp) = (claims["iat"].as_u64().unwrap(), claims["exp"].as_u64().unwrap());
            assert!(exp > iat && exp - iat <= 3600, "iat {iat} exp {exp}");
            return MockReply::json(
                200,
                json!({"access_token": format!("token-{n}"), "token_type": "Bearer", "expires_in": expires_in}),
            );
        }
        let auth = request.header("authorization").unwrap_or_default().to_owned();
        if reject_first_api_call && auth == "Bearer token-1" {
            return MockReply::json(401, json!({"code": 16, "message": "Errors.Token.Invalid (AUTH-7fs1e)"}));
        }
        assert!(auth.starts_with("Bearer token-"), "{auth}");
        MockReply::json(200, json!({"project": {"id": "p-1", "details": {"resourceOwner": ORG}}}))
    })
    .await;
    TokenServer { server, key }
}

fn jwt_client(server: &TokenServer) -> ZitadelClient {
    let credentials = Credentials::ServiceAccount(server.key.service_account_key());
    let mut config = config(&server.server.url, credentials);
    config.issuer = Some("https://issuer.example/".into());
    ZitadelClient::new(reqwest::Client::new(), config).unwrap()
}

#[tokio::test]
async fn jwt_profile_token_is_fetched_once_and_cached() {
    let server = token_server(3600, false).await;
    let client = jwt_client(&server);
    for _ in 0..5 {
        client.get_project(ORG, "p-1").await.unwrap();
    }
    // Concurrent callers share the cached token.
    let calls: Vec<_> = (0..10)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.get_project(ORG, "p-1").await })
        })
        .collect();
    for call in calls {
        call.await.unwrap().unwrap();
    }
    assert_eq!(server.server.count(Method::POST, "/oauth/v2/token"), 1);
    assert_eq!(
        server
            .server
            .count(Method::GET, "/management/v1/projects/p-1"),
        15
    );
    let api_auth: Vec<_> = server
        .server
        .requests()
        .iter()
        .filter(|r| r.path != "/oauth/v2/token")
        .map(|r| r.header("authorization").unwrap().to_owned())
        .collect();
    assert!(api_auth.iter().all(|auth| auth == "Bearer token-1"));
}

#[tokio::test]
async fn a_key_file_on_disk_authenticates() {
    let server = token_server(3600, false).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("zitadel-key.json");
    std::fs::write(&path, server.key.key_file_json()).unwrap();
    let mut config = config(
        &server.server.url,
        Credentials::from_key_file(&path).unwrap(),
    );
    config.issuer = Some("https://issuer.example".into());
    let client = ZitadelClient::new(reqwest::Client::new(), config).unwrap();
    assert!(client.get_project(ORG, "p-1").await.unwrap().is_some());
    assert_eq!(server.server.count(Method::POST, "/oauth/v2/token"), 1);
}

#[tokio::test]
async fn concurrent_first_calls_share_one_token_request() {
    let server = token_server(3600, false).await;
    let client = jwt_client(&server);
    let calls: Vec<_> = (0..8)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.get_project(ORG, "p-1").await })
        })
        .collect();
    for call in calls {
        call.await.unwrap().unwrap();
    }
    assert_eq!(server.server.count(Method::POST, "/oauth/v2/token"), 1);
}

#[tokio::test]
async fn jwt_profile_token_is_renewed_before_expiry() {
    // 2 s lifetime: reused for the first second, renewed after.
    let server = token_server(2, false).await;
    let client = jwt_client(&server);
    client.get_project(ORG, "p-1").await.unwrap();
    client.get_project(ORG, "p-1").await.unwrap();
    assert_eq!(server.server.count(Method::POST, "/oauth/v2/token"), 1);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    client.get_project(ORG, "p-1").await.unwrap();
    assert_eq!(server.server.count(Method::POST, "/oauth/v2/token"), 2);
    let last = server
        .server
        .requests()
        .last()
        .unwrap()
        .header("authorization")
        .unwrap()
        .to_owned();
    assert_eq!(last, "Bearer token-2");
}

#[tokio::test]
async fn a_refused_token_is_renewed_once() {
    let server = token_server(3600, true).await;
    let client = jwt_client(&server);
    let project = client.get_project(ORG, "p-1").await.unwrap().unwrap();
    assert_eq!(project.id, "p-1");
    assert_eq!(server.server.count(Method::POST, "/oauth/v2/token"), 2);
    assert_eq!(
        server
            .server
            .count(Method::GET, "/management/v1/projects/p-1"),
        2
    );
}

#[tokio::test]
async fn a_rejected_assertion_is_an_unauthenticated_error() {
    let server = MockServer::start(|request, _| {
        assert_eq!(request.path, "/oauth/v2/token");
        MockReply::json(
            400,
            json!({"error": "invalid_grant", "error_description": "key expired"}),
        )
    })
    .await;
    let key = TestKey::generate();
    let client = ZitadelClient::new(
        reqwest::Client::new(),
        config(
            &server.url,
            Credentials::ServiceAccount(key.service_account_key()),
        ),
    )
    .unwrap();
    let err = client.get_project(ORG, "p-1").await.unwrap_err();
    assert_eq!(err.code(), Some(Code::Unauthenticated));
    assert!(err.to_string().contains("key expired"), "{err}");
    assert_eq!(server.requests().len(), 1);
    // The assertion (a secret) never appears in errors.
    assert!(!err.to_string().contains("eyJ"));
}

#[tokio::test]
async fn org_state_changes_are_idempotent() {
    let server = MockServer::start(|request, _| match request.path.as_str() {
        "/v2/organizations/o-1/deactivate" => {
            MockReply::json(200, json!({"changeDate": "2025-01-23T10:34:18.051Z"}))
        }
        "/v2/organizations/o-2/deactivate" => MockReply::json(
            400,
            json!({"code": 9, "message": "Organisation is already deactivated (ORG-Dbs2g)"}),
        ),
        "/v2/organizations/o-2/activate" => MockReply::json(
            400,
            json!({"code": 9, "message": "Errors.Org.AlreadyActive (ORG-Dsa2g)"}),
        ),
        _ => MockReply::json(
            404,
            json!({"code": 5, "message": "Organisation not found (ORG-1)"}),
        ),
    })
    .await;
    let client = pat_client(&server.url);
    assert_eq!(
        client.deactivate_org("o-1").await.unwrap(),
        Updated::Applied
    );
    assert_eq!(
        client.deactivate_org("o-2").await.unwrap(),
        Updated::Unchanged
    );
    assert_eq!(
        client.activate_org("o-2").await.unwrap(),
        Updated::Unchanged
    );
    assert!(client.activate_org("o-3").await.unwrap_err().is_not_found());
    // v2 organization calls carry the org in the path, never in the header.
    assert!(
        server
            .requests()
            .iter()
            .all(|r| r.header("x-zitadel-orgid").is_none())
    );
}
