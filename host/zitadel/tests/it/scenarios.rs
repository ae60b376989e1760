//! The sync scenarios Gatehouse runs against ZITADEL, written only against a base URL and
//! credentials (see `backend.rs`). Every read after a write goes through the client's
//! eventual-consistency helpers: real ZITADEL (and the fake) may serve stale reads.

use gatehouse_core::Timestamp;
use gatehouse_zitadel::{
    actions_signature,
    client::{
        AddCustomLoginPolicyRequest, AddHumanUserRequest, AddOidcAppRequest,
        AddOrganizationRequest, Code, Condition, CreateTargetRequest, Empty, GenericOidcIdp,
        GoogleIdp, IdpKind, IdpOwnerType, ListExecutionsRequest, ListQuery, ListUsersRequest,
        OidcAppSettings, OidcAppType, OidcAuthMethodType, OidcGrantType, OidcResponseType,
        OrganizationRef, Password, PayloadType, ProjectSettings, ProtoDuration, ProviderOptions,
        Secret, SetExecutionRequest, SetHumanEmail, SetHumanProfile, SetPasswordRequest,
        TargetType, Updated, UserQuery, UserState, ZitadelClient, ZitadelError,
    },
};
use serde_json::json;

use crate::backend::{Backend, Kind, unique};

/// Runs each scenario against the emulator (or a live ZITADEL) and against the lagging fake.
macro_rules! scenarios {
    ($($name:ident),* $(,)?) => {
        mod on_emulator_or_live {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(crate::backend::start().await).await;
                }
            )*
        }

        mod on_lagging_fake {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(crate::backend::lagging_fake().await).await;
                }
            )*
        }
    };
}

scenarios!(
    organization_create_conflict_rename_read_back,
    login_policy_must_exist_before_an_idp_is_linked,
    project_and_oidc_application_lifecycle,
    human_user_create_set_password_list,
    actions_target_and_execution,
    discovery_and_jwks,
    listing_unknown_user_ids_finds_nothing,
);

async fn create_org(client: &ZitadelClient, prefix: &str) -> String {
    let response = client
        .create_org(&AddOrganizationRequest {
            name: unique(prefix),
            ..Default::default()
        })
        .await
        .unwrap();
    client
        .await_org(&response.organization_id, |_| true)
        .await
        .unwrap();
    response.organization_id
}

async fn remove_org(client: &ZitadelClient, org_id: &str) {
    assert!(
        client.delete_org(org_id).await.unwrap(),
        "organization {org_id} was already gone"
    );
}

fn assert_api(err: &ZitadelError, code: Code, status: u16) {
    let api = err
        .api()
        .unwrap_or_else(|| panic!("expected an API error, got {err}"));
    assert_eq!((api.code, api.status), (code, status), "{err}");
}

async fn organization_create_conflict_rename_read_back(backend: Backend) {
    let client = &backend.client;
    let name = unique("org");
    let created = client
        .create_org(&AddOrganizationRequest {
            name: name.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    let org_id = created.organization_id.clone();
    assert!(!org_id.is_empty());

    if backend.kind == Kind::LaggingFake {
        // The write is not readable yet: this is what the await helpers are for.
        assert!(client.get_org(&org_id).await.unwrap().is_none());
    }
    let org = client.await_org(&org_id, |_| true).await.unwrap();
    assert_eq!(org.name, name);

    // The same name again is a conflict (409, AlreadyExists).
    let err = client
        .create_org(&AddOrganizationRequest {
            name: name.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_api(&err, Code::AlreadyExists, 409);
    assert!(err.is_already_exists());

    let renamed = format!("{name}-renamed");
    assert_eq!(
        client.rename_org(&org_id, &renamed).await.unwrap(),
        Updated::Applied
    );
    let org = client
        .await_org(&org_id, |org| org.name == renamed)
        .await
        .unwrap();
    assert_eq!(org.id, org_id);
    // Renaming to the current name changes nothing and is not an error.
    assert_eq!(
        client.rename_org(&org_id, &renamed).await.unwrap(),
        Updated::Unchanged
    );
    let found = client
        .eventually("organization by name", || async {
            client.find_org_by_name(&renamed).await
        })
        .await
        .unwrap();
    assert_eq!(found.id, org_id);

    remove_org(client, &org_id).await;
    client.await_org_gone(&org_id).await.unwrap();
    assert!(!client.delete_org(&org_id).await.unwrap());
    let err = client.rename_org(&org_id, "whatever").await.unwrap_err();
    assert!(err.is_not_found(), "{err}");
}

async fn login_policy_must_exist_before_an_idp_is_linked(backend: Backend) {
    let client = &backend.client;
    let org_id = create_org(client, "policy").await;

    let google = GoogleIdp {
        name: "Google".into(),
        client_id: "google-client".into(),
        client_secret: Secret::new("google-secret"),
        scopes: vec!["openid".into(), "profile".into(), "email".into()],
        provider_options: ProviderOptions::self_service(),
    };
    let idp = client.add_typed_idp(&org_id, &google).await.unwrap();
    let template = client.await_idp(&org_id, &idp.id, |_| true).await.unwrap();
    assert_eq!(template.name, "Google");
    assert_eq!(template.owner, Some(IdpOwnerType::Org));
    assert_eq!(
        template.config.provider["google"]["clientId"],
        json!("google-client")
    );
    assert!(template.config.options.unwrap().is_auto_creation);

    // Without a custom login policy ZITADEL refuses the link.
    let policy = client.get_login_policy(&org_id).await.unwrap();
    assert!(policy.is_default);
    let err = client
        .add_idp_to_login_policy(&org_id, &idp.id, IdpOwnerType::Org)
        .await
        .unwrap_err();
    assert_api(&err, Code::NotFound, 404);
    let message = &err.api().unwrap().message;
    assert!(
        message.contains("Errors.Org.LoginPolicy.NotFound") || message == "Login Policy not found",
        "{message}"
    );

    assert_eq!(
        client.ensure_custom_login_policy(&org_id).await.unwrap(),
        Updated::Applied
    );
    let custom = client
        .await_login_policy(&org_id, |p| !p.is_default)
        .await
        .unwrap();
    // The custom policy starts from the inherited settings.
    assert_eq!(
        custom.settings.allow_username_password,
        policy.settings.allow_username_password
    );
    assert_eq!(
        custom.settings.password_check_lifetime,
        policy.settings.password_check_lifetime
    );
    assert_eq!(
        client.ensure_custom_login_policy(&org_id).await.unwrap(),
        Updated::Unchanged
    );
    // Creating it twice is a conflict.
    let err = client
        .add_custom_login_policy(&org_id, &AddCustomLoginPolicyRequest::default())
        .await
        .unwrap_err();
    assert!(err.is_already_exists(), "{err}");

    assert_eq!(
        client
            .add_idp_to_login_policy(&org_id, &idp.id, IdpOwnerType::Org)
            .await
            .unwrap(),
        Updated::Applied
    );
    assert_eq!(
        client
            .add_idp_to_login_policy(&org_id, &idp.id, IdpOwnerType::Org)
            .await
            .unwrap(),
        Updated::Unchanged
    );
    let policy = client
        .await_login_policy(&org_id, |p| p.has_idp(&idp.id))
        .await
        .unwrap();
    assert!(!policy.is_default);
    let links = client.list_login_policy_idps(&org_id).await.unwrap();
    assert!(links.iter().any(|link| link.idp_id == idp.id));

    // Updating with an empty secret keeps the secret and changes the rest.
    let updated = GoogleIdp {
        client_id: "google-client-2".into(),
        client_secret: Secret::default(),
        ..google
    };
    assert_eq!(
        client
            .update_typed_idp(&org_id, &idp.id, &updated)
            .await
            .unwrap(),
        Updated::Applied
    );
    client
        .await_idp(&org_id, &idp.id, |t| {
            t.config.provider["google"]["clientId"] == json!("google-client-2")
        })
        .await
        .unwrap();

    // A plugin-built body takes the same path.
    let body = serde_json::to_value(GenericOidcIdp {
        name: "Okta".into(),
        issuer: "https://okta.example.com".into(),
        client_id: "okta-client".into(),
        client_secret: Secret::new("okta-secret"),
        scopes: vec!["openid".into()],
        use_pkce: true,
        ..Default::default()
    })
    .unwrap();
    let oidc = client
        .add_idp(&org_id, IdpKind::GenericOidc, &body)
        .await
        .unwrap();
    let template = client.await_idp(&org_id, &oidc.id, |_| true).await.unwrap();
    assert_eq!(
        template.config.provider["oidc"]["issuer"],
        json!("https://okta.example.com")
    );
    // ZITADEL validates the credentials, not the client.
    let err = client
        .add_idp(
            &org_id,
            IdpKind::Github,
            &json!({"name": "GitHub", "clientId": "x", "clientSecret": "  "}),
        )
        .await
        .unwrap_err();
    assert_api(&err, Code::InvalidArgument, 400);

    assert!(
        client
            .remove_idp_from_login_policy(&org_id, &idp.id)
            .await
            .unwrap()
    );
    assert!(
        !client
            .remove_idp_from_login_policy(&org_id, &idp.id)
            .await
            .unwrap()
    );
    assert!(client.delete_idp(&org_id, &oidc.id).await.unwrap());
    assert!(!client.delete_idp(&org_id, &oidc.id).await.unwrap());
    assert!(client.reset_login_policy(&org_id).await.unwrap());
    client
        .await_login_policy(&org_id, |p| p.is_default)
        .await
        .unwrap();
    remove_org(client, &org_id).await;
}

fn web_app(name: &str) -> AddOidcAppRequest {
    AddOidcAppRequest {
        name: name.into(),
        version: None,
        settings: OidcAppSettings {
            redirect_uris: vec!["https://app.example.com/callback".into()],
            response_types: vec![OidcResponseType::Code],
            grant_types: vec![
                OidcGrantType::AuthorizationCode,
                OidcGrantType::RefreshToken,
            ],
            app_type: OidcAppType::Web,
            auth_method_type: OidcAuthMethodType::Basic,
            post_logout_redirect_uris: vec!["https://app.example.com/".into()],
            ..Default::default()
        },
    }
}

async fn project_and_oidc_application_lifecycle(backend: Backend) {
    let client = &backend.client;
    let org_id = create_org(client, "apps").await;

    let project = ProjectSettings {
        name: "Customer portal".into(),
        project_role_assertion: true,
        ..Default::default()
    };
    let created = client.create_project(&org_id, &project).await.unwrap();
    let read = client
        .await_project(&org_id, &created.id, |_| true)
        .await
        .unwrap();
    assert_eq!(read.name, "Customer portal");
    assert!(read.project_role_assertion);
    let err = client.create_project(&org_id, &project).await.unwrap_err();
    assert_api(&err, Code::AlreadyExists, 409);

    // A confidential web app gets a client id and a secret, once.
    let app = client
        .create_oidc_app(&org_id, &created.id, &web_app("web"))
        .await
        .unwrap();
    assert!(!app.client_id.is_empty());
    let first_secret = app
        .client_secret
        .clone()
        .expect("a BASIC app gets a secret");
    assert!(!first_secret.is_empty());
    assert!(!app.none_compliant, "{:?}", app.compliance_problems);
    let err = client
        .create_oidc_app(&org_id, &created.id, &web_app("web"))
        .await
        .unwrap_err();
    assert_api(&err, Code::AlreadyExists, 409);

    // Redirect URIs are replaced, the rest of the configuration is kept.
    let new_uris = vec![
        "https://app.example.com/callback".to_owned(),
        "https://app.example.com/auth/cb".to_owned(),
    ];
    assert_eq!(
        client
            .set_oidc_redirect_uris(&org_id, &created.id, &app.app_id, new_uris.clone(), vec![])
            .await
            .unwrap(),
        Updated::Applied
    );
    let read = client
        .await_app(&org_id, &created.id, &app.app_id, |a| {
            a.oidc_config
                .as_ref()
                .is_some_and(|c| c.redirect_uris == new_uris)
        })
        .await
        .unwrap();
    let config = read.oidc_config.unwrap();
    assert_eq!(config.client_id, app.client_id);
    assert_eq!(config.auth_method_type, OidcAuthMethodType::Basic);
    assert_eq!(
        config.grant_types,
        [
            OidcGrantType::AuthorizationCode,
            OidcGrantType::RefreshToken
        ]
    );
    assert!(config.post_logout_redirect_uris.is_empty());
    assert_eq!(
        client
            .set_oidc_redirect_uris(&org_id, &created.id, &app.app_id, new_uris, vec![])
            .await
            .unwrap(),
        Updated::Unchanged
    );

    let regenerated = client
        .regenerate_oidc_client_secret(&org_id, &created.id, &app.app_id)
        .await
        .unwrap();
    assert!(!regenerated.client_secret.is_empty());
    assert_ne!(regenerated.client_secret, first_secret);

    // A public browser app: no secret, and http redirects are flagged (not refused) without
    // dev mode.
    let spa = AddOidcAppRequest {
        settings: OidcAppSettings {
            redirect_uris: vec!["http://spa.example.com/callback".into()],
            app_type: OidcAppType::UserAgent,
            auth_method_type: OidcAuthMethodType::None,
            clock_skew: Some(ProtoDuration::from_secs(1)),
            ..web_app("spa").settings
        },
        ..web_app("spa")
    };
    let spa = client
        .create_oidc_app(&org_id, &created.id, &spa)
        .await
        .unwrap();
    assert!(spa.client_secret.is_none());
    assert!(spa.none_compliant);
    assert!(!spa.compliance_problems.is_empty());
    let err = client
        .regenerate_oidc_client_secret(&org_id, &created.id, &spa.app_id)
        .await
        .unwrap_err();
    assert_eq!(err.api().map(|e| e.status), Some(400), "{err}");

    assert!(
        client
            .delete_app(&org_id, &created.id, &app.app_id)
            .await
            .unwrap()
    );
    assert!(
        !client
            .delete_app(&org_id, &created.id, &app.app_id)
            .await
            .unwrap()
    );
    assert!(
        client
            .get_app(&org_id, &created.id, &app.app_id)
            .await
            .unwrap()
            .is_none()
    );
    if backend.kind == Kind::LaggingFake {
        // The project is not visible from another organization.
        assert!(
            client
                .get_project(crate::fake::DEFAULT_ORG, &created.id)
                .await
                .unwrap()
                .is_none()
        );
    }
    assert!(client.delete_project(&org_id, &created.id).await.unwrap());
    remove_org(client, &org_id).await;
}

async fn human_user_create_set_password_list(backend: Backend) {
    let client = &backend.client;
    let org_id = create_org(client, "users").await;
    let username = unique("ada");
    let request = AddHumanUserRequest {
        username: Some(username.clone()),
        organization: Some(OrganizationRef::OrgId(org_id.clone())),
        profile: SetHumanProfile {
            given_name: "Ada".into(),
            family_name: "Lovelace".into(),
            ..Default::default()
        },
        email: SetHumanEmail {
            email: format!("{username}@example.com"),
            is_verified: Some(true),
            ..Default::default()
        },
        password: Some(Password {
            password: Secret::new("Correct-Horse-9"),
            change_required: false,
        }),
        ..Default::default()
    };
    let created = client.create_human_user(&request).await.unwrap();
    assert!(!created.user_id.is_empty());
    let err = client.create_human_user(&request).await.unwrap_err();
    assert_api(&err, Code::AlreadyExists, 409);

    let user = client.await_user(&created.user_id, |_| true).await.unwrap();
    assert_eq!(user.username, username);
    assert_eq!(user.org_id(), Some(org_id.as_str()));
    assert_eq!(user.state, UserState::Active);
    assert!(
        user.human
            .as_ref()
            .unwrap()
            .email
            .as_ref()
            .unwrap()
            .is_verified
    );

    client
        .set_password(
            &created.user_id,
            &SetPasswordRequest {
                new_password: Password {
                    password: Secret::new("Another-Horse-10"),
                    change_required: true,
                },
                ..Default::default()
            },
        )
        .await
        .unwrap();
    client
        .await_user(&created.user_id, |u| {
            u.human.as_ref().is_some_and(|h| h.password_change_required)
        })
        .await
        .unwrap();
    let err = client
        .set_password(
            &created.user_id,
            &SetPasswordRequest {
                new_password: Password {
                    password: Secret::new("short"),
                    change_required: false,
                },
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.api().map(|e| e.status), Some(400), "{err}");

    let listed = client
        .eventually("user in list", || async {
            let response = client
                .list_users(&ListUsersRequest {
                    query: Some(ListQuery::limit(100)),
                    queries: vec![UserQuery::OrganizationIdQuery {
                        organization_id: org_id.clone(),
                    }],
                    ..Default::default()
                })
                .await?;
            Ok(response
                .result
                .into_iter()
                .find(|u| u.user_id == created.user_id))
        })
        .await
        .unwrap();
    assert_eq!(listed.username, username);

    assert!(client.get_user("000-no-such-user").await.unwrap().is_none());
    remove_org(client, &org_id).await;
}

async fn actions_target_and_execution(backend: Backend) {
    let client = &backend.client;
    let name = unique("target");
    let request = CreateTargetRequest {
        name: name.clone(),
        target_type: TargetType::RestAsync(Empty {}),
        timeout: Some(ProtoDuration::from_secs(10)),
        // Real ZITADEL resolves the host at creation and refuses private addresses.
        endpoint: "https://example.com/gatehouse/hooks/zitadel".into(),
        payload_type: Some(PayloadType::Json),
    };
    let target = client.create_target(&request).await.unwrap();
    assert!(!target.signing_key.is_empty());
    let err = client.create_target(&request).await.unwrap_err();
    assert_api(&err, Code::AlreadyExists, 409);

    let read = client.await_target(&target.id, |_| true).await.unwrap();
    assert_eq!(read.name, name);
    assert_eq!(read.endpoint, request.endpoint);
    assert_eq!(read.target_type(), Some(TargetType::RestAsync(Empty {})));
    assert_eq!(read.timeout, Some(ProtoDuration::from_secs(10)));

    // The key verifies what ZITADEL signs with it.
    let body = br#"{"aggregateID":"1","event_type":"user.human.added"}"#;
    let header = actions_signature::sign(body, &[target.signing_key.expose()], Timestamp::now());
    actions_signature::verify(
        &header,
        body,
        &[target.signing_key.expose()],
        Timestamp::now(),
        actions_signature::DEFAULT_TOLERANCE,
    )
    .unwrap();

    let condition = Condition::event("user.human.added");
    client
        .set_execution(&SetExecutionRequest {
            condition: condition.clone(),
            targets: vec![target.id.clone()],
        })
        .await
        .unwrap();
    let listed = |present: bool| {
        let condition = condition.clone();
        let target_id = target.id.clone();
        async move {
            client
                .eventually("execution", || async {
                    let executions = client
                        .list_executions(&ListExecutionsRequest::default())
                        .await?;
                    let found = executions
                        .executions
                        .iter()
                        .any(|e| e.condition == condition && e.targets.contains(&target_id));
                    Ok((found == present).then_some(()))
                })
                .await
        }
    };
    listed(true).await.unwrap();

    let rotated = client.rotate_target_signing_key(&target.id).await.unwrap();
    assert_ne!(rotated, target.signing_key);

    client.remove_execution(condition.clone()).await.unwrap();
    listed(false).await.unwrap();
    client.delete_target(&target.id).await.unwrap();
    client
        .eventually("target removal", || async {
            Ok(client.get_target(&target.id).await?.is_none().then_some(()))
        })
        .await
        .unwrap();
}

async fn discovery_and_jwks(backend: Backend) {
    let client = &backend.client;
    let discovery = client.discovery().await.unwrap();
    assert!(discovery.issuer.starts_with("http"), "{}", discovery.issuer);
    assert!(
        discovery.jwks_uri.ends_with("/oauth/v2/keys"),
        "{}",
        discovery.jwks_uri
    );
    assert!(discovery.token_endpoint.ends_with("/oauth/v2/token"));
    assert!(
        discovery
            .code_challenge_methods_supported
            .iter()
            .any(|m| m == "S256")
    );

    let fetched = client.jwks().await.unwrap();
    assert!(!fetched.jwks.keys.is_empty());
    for key in &fetched.jwks.keys {
        assert!(key.kid.is_some(), "every ZITADEL key has a kid");
        assert_eq!(key.key_use.as_deref(), Some("sig"));
    }
    if backend.kind == Kind::LaggingFake {
        assert_eq!(fetched.max_age, Some(std::time::Duration::from_secs(300)));
    }
}

async fn listing_unknown_user_ids_finds_nothing(backend: Backend) {
    // Guards the suite itself: a query the server cannot satisfy must not match everything.
    let response = backend
        .client
        .list_users(&ListUsersRequest {
            queries: vec![UserQuery::InUserIdsQuery {
                user_ids: vec!["000-no-such-user".into()],
            }],
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(response.result.is_empty());
}

/// The JWT-profile grant against an independent implementation: the emulator's token endpoint
/// checks the assertion the client signs with the emulator's service-user key file.
#[tokio::test]
async fn service_user_key_file_authenticates_against_the_emulator() {
    let (backend, url) = crate::backend::emulator().await;
    let emulator = backend.emulator().unwrap();
    let credentials =
        gatehouse_zitadel::client::Credentials::from_key_file(emulator.admin_key_path()).unwrap();
    let client = ZitadelClient::new(
        reqwest::Client::new(),
        gatehouse_zitadel::client::ClientConfig::new(url, credentials),
    )
    .unwrap();
    let org_id = create_org(&client, "jwt").await;
    assert!(client.get_org(&org_id).await.unwrap().is_some());
    remove_org(&client, &org_id).await;
}
