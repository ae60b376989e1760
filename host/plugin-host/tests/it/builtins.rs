//! The built-in plugins, loaded from the bytes embedded in the crate.

use gatehouse_plugin_host::{
    Call, ColorScheme, HttpMethod, Output, PluginInfo, PluginKind, ProviderButton, RenderRequest,
    TransformOutcome, builtin_plugins,
};
use serde_json::json;

use crate::{shared_host, tenant};

fn builtin(id: &str) -> gatehouse_plugin_host::Plugin {
    let host = shared_host();
    let builtin = builtin_plugins()
        .iter()
        .find(|b| b.id == id)
        .expect("builtin");
    let mut spec =
        gatehouse_plugin_host::PluginSpec::new(id, builtin.version, builtin.wasm.to_vec());
    spec.expected_kind = Some(builtin.kind);
    host.load_blocking(&spec).expect("load builtin")
}

#[tokio::test]
async fn every_builtin_loads_describes_itself_and_is_small() {
    let host = shared_host();
    let plugins = host.load_builtins_blocking().unwrap();
    assert_eq!(plugins.len(), 9);
    for (plugin, builtin) in plugins.iter().zip(builtin_plugins()) {
        assert!(
            builtin.wasm.len() <= 256 * 1024,
            "{} is {} bytes",
            builtin.id,
            builtin.wasm.len()
        );
        assert_eq!(plugin.kind(), builtin.kind);
        assert_eq!(
            plugin.wit_version().to_string(),
            format!("gatehouse:{}@0.1.0", builtin.kind)
        );
        let info = host.describe(plugin).await.unwrap();
        let kind = match info {
            PluginInfo::Provider(_) => PluginKind::Provider,
            PluginInfo::Widget(_) => PluginKind::Widget,
            PluginInfo::Webhook(_) => PluginKind::Webhook,
        };
        assert_eq!(kind, builtin.kind);
    }
}

#[tokio::test]
async fn google_builds_the_zitadel_request() {
    let host = shared_host();
    let google = builtin("gatehouse.google");
    let info = host.describe_provider(&google).await.unwrap();
    assert!(info.fields.iter().any(|f| f.name == "client_secret"));
    let config = r#"{"client_id":"42.apps.googleusercontent.com","client_secret":"GOCSPX-1"}"#;
    host.provider_validate(&google, &tenant(), config)
        .await
        .unwrap();
    let request = host
        .provider_zitadel_idp(&google, &tenant(), config, None)
        .await
        .unwrap();
    assert_eq!(request.method, HttpMethod::Post);
    assert_eq!(request.path, "/management/v1/idps/google");
    assert_eq!(request.body["clientId"], "42.apps.googleusercontent.com");
    assert_eq!(
        request.body["scopes"],
        json!(["openid", "profile", "email"])
    );
    let uris = host
        .provider_redirect_uris(&google, &tenant(), config)
        .await
        .unwrap();
    assert_eq!(uris[0], "https://id.acme.example/idps/callback");
    let egress = host.provider_egress(&google, config).await.unwrap();
    assert!(
        egress
            .iter()
            .any(|h| h.host == "oauth2.googleapis.com" && h.port == 443)
    );
    let err = host
        .provider_validate(&google, &tenant(), r#"{"client_id":"nope"}"#)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "plugin_error", "{err}");
}

#[tokio::test]
async fn microsoft_and_oidc_requests() {
    let host = shared_host();
    let microsoft = builtin("gatehouse.microsoft");
    let config = r#"{"client_id":"c","client_secret":"s","tenant_type":"tenant_id",
        "tenant_id":"0f6e1c1a-1111-2222-3333-444455556666","email_verified":true}"#;
    let request = host
        .provider_zitadel_idp(&microsoft, &tenant(), config, Some("3141"))
        .await
        .unwrap();
    assert_eq!(request.method, HttpMethod::Put);
    assert_eq!(request.path, "/management/v1/idps/azure/3141");
    assert_eq!(
        request.body["tenant"],
        json!({"tenantId": "0f6e1c1a-1111-2222-3333-444455556666"})
    );
    assert_eq!(request.body["emailVerified"], true);

    let oidc = builtin("gatehouse.oidc");
    let config = r#"{"issuer":"https://sso.acme.example","client_id":"c","client_secret":"s"}"#;
    let request = host
        .provider_zitadel_idp(&oidc, &tenant(), config, None)
        .await
        .unwrap();
    assert_eq!(request.path, "/management/v1/idps/generic_oidc");
    assert_eq!(request.body["issuer"], "https://sso.acme.example");
    assert_eq!(request.body["usePkce"], true);
    let github = builtin("gatehouse.github");
    let request = host
        .provider_zitadel_idp(
            &github,
            &tenant(),
            r#"{"client_id":"c","client_secret":"s"}"#,
            None,
        )
        .await
        .unwrap();
    assert_eq!(request.path, "/management/v1/idps/github");
}

#[tokio::test]
async fn themes_render_every_screen() {
    let host = shared_host();
    for id in ["gatehouse.classic", "gatehouse.mono"] {
        let theme = builtin(id);
        let info = host.describe_widget(&theme).await.unwrap();
        assert!(
            info.default_tokens
                .light
                .iter()
                .any(|t| t.name == "primary")
        );
        assert!(info.default_tokens.dark.iter().any(|t| t.name == "primary"));
        for screen in &info.screens {
            let request = RenderRequest {
                screen: screen.id.clone(),
                tokens: info.default_tokens.clone(),
                color_scheme: ColorScheme::Dark,
                providers: vec![ProviderButton {
                    id: "prv_1".into(),
                    name: "Google".into(),
                    kind: "google".into(),
                    href: "/login/idp/prv_1".into(),
                }],
                action_url: "/login/submit".into(),
                csrf_token: "csrf".into(),
                ..RenderRequest::default()
            };
            let rendered = host
                .widget_render(&theme, &tenant(), &request)
                .await
                .unwrap();
            assert!(
                rendered.html.contains("data-scheme=\"dark\""),
                "{id} {}",
                screen.id
            );
            assert!(rendered.css.contains("--primary:"), "{id}");
        }
    }
    let classic = builtin("gatehouse.classic");
    let mono = builtin("gatehouse.mono");
    let request = RenderRequest {
        screen: "sign-in".into(),
        ..RenderRequest::default()
    };
    let a = host
        .widget_render(&classic, &tenant(), &request)
        .await
        .unwrap();
    let b = host
        .widget_render(&mono, &tenant(), &request)
        .await
        .unwrap();
    assert_ne!(a.css, b.css, "the two themes differ");
}

#[tokio::test]
async fn webhook_transforms() {
    let host = shared_host();
    let event = r#"{"id":"evt_1","type":"user.created","occurred_at":"2026-01-01T00:00:00.000Z",
        "tenant_id":"ten_1","data":{"id":"usr_1","email":"ada@example.com","email_verified":true}}"#;
    let cloudevents = builtin("gatehouse.cloudevents");
    let TransformOutcome::Deliver(delivery) = host
        .call_webhook_transform(&cloudevents, event, "{}")
        .await
        .unwrap()
    else {
        panic!("expected a delivery");
    };
    assert_eq!(delivery.content_type, "application/cloudevents+json");
    let envelope: serde_json::Value = serde_json::from_str(&delivery.body).unwrap();
    assert_eq!(envelope["specversion"], "1.0");
    assert_eq!(envelope["type"], "com.gatehouse.user.created");
    assert_eq!(envelope["subject"], "usr_1");

    let filter = builtin("gatehouse.filter");
    let config = r#"{"event_types":["session.*"]}"#;
    let outcome = host
        .call_webhook_transform(&filter, event, config)
        .await
        .unwrap();
    assert!(matches!(outcome, TransformOutcome::Drop { .. }));
    let config = r#"{"json_path":"$.data.email_verified","equals":"true"}"#;
    let outcome = host
        .call_webhook_transform(&filter, event, config)
        .await
        .unwrap();
    assert!(matches!(outcome, TransformOutcome::Deliver(d) if d.body == event));

    let slack = builtin("gatehouse.slack");
    let output = host
        .call(
            &slack,
            Call::WebhookTransform {
                event: serde_json::from_str(event).unwrap(),
                config: json!({"username": "gatehouse"}),
            },
        )
        .await
        .unwrap();
    let Output::Transformed(TransformOutcome::Deliver(delivery)) = output else {
        panic!("expected a delivery");
    };
    let message: serde_json::Value = serde_json::from_str(&delivery.body).unwrap();
    assert_eq!(message["text"], "Gatehouse: user.created");
    assert_eq!(message["username"], "gatehouse");
}

#[tokio::test]
async fn wrong_kind_calls_are_refused_without_running() {
    let host = shared_host();
    let slack = builtin("gatehouse.slack");
    let err = host.provider_egress(&slack, "{}").await.unwrap_err();
    assert_eq!(err.code(), "plugin_wrong_kind");
}

#[tokio::test]
async fn calls_with_a_report_say_what_they_cost() {
    let host = shared_host();
    let slack = builtin("gatehouse.slack");
    let event = json!({"type": "user.created", "data": {"email": "ada@acme.example"}});
    let result = host
        .call_with_report(
            &slack,
            Call::WebhookTransform {
                event,
                config: json!({}),
            },
        )
        .await;
    assert!(
        matches!(
            result.output,
            Ok(Output::Transformed(TransformOutcome::Deliver(_)))
        ),
        "{:?}",
        result.output
    );
    assert!(result.report.wall_time > std::time::Duration::ZERO);
    assert!(result.report.peak_memory_bytes > 0);
    assert_eq!(
        result.report.fuel_consumed, None,
        "no metering in production"
    );

    // A disabled plugin is refused before it costs a slot or an instance.
    slack.set_disabled(Some("maintenance".into()));
    let result = host.call_with_report(&slack, Call::Describe).await;
    assert!(
        matches!(&result.output, Err(gatehouse_plugin_host::PluginError::Disabled { reason, .. }) if reason == "maintenance"),
        "{:?}",
        result.output
    );
    assert_eq!(result.report.peak_memory_bytes, 0);
}
