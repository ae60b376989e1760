//! State survives a restart through `EmulatorStateStore`; credentials files; failed saves.

use std::sync::Arc;

use gatehouse_zitadel_emulator::{
    Emulator, EmulatorConfig, EmulatorError, MemoryStateStore, PAT_FILE,
    testing::{SpawnOptions, spawn_with},
};
use serde_json::json;

use crate::{
    oidc::{authorize_url, exchange, login, pkce, query_param, verify_id_token},
    support::{Api, PASSWORD, unique, web_app},
};

#[tokio::test]
async fn state_and_credentials_survive_a_restart() {
    let store = Arc::new(MemoryStateStore::new());
    let dir = tempfile::tempdir().unwrap();
    let options = || SpawnOptions {
        prefix: "/zitadel".into(),
        store: Some(store.clone()),
        data_dir: Some(dir.path().to_path_buf()),
    };
    let (base, first) = spawn_with(options()).await.unwrap();
    let pat = first.admin_pat().to_owned();
    let key_file = first.admin_key_file().to_owned();
    // The PAT file: mode 0600, one line.
    let pat_path = dir.path().join(PAT_FILE);
    assert_eq!(std::fs::read_to_string(&pat_path).unwrap().trim(), pat);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&pat_path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(
            std::fs::metadata(first.admin_key_path())
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o600
        );
    }
    let api = Api::new(&base, &pat);
    let org_name = unique("Durable");
    let org = api
        .post("/management/v1/orgs", json!({"name": org_name}))
        .await
        .ok()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let redirect = "http://127.0.0.1:9/cb";
    let (_, client_id, secret) = web_app(&api, &org, redirect, json!({})).await;
    let user = first
        .create_human_user(&org, "durable-user", PASSWORD)
        .await
        .unwrap();
    let target = api
        .unchecked()
        .post("/v2/actions/targets", json!({"name": unique("t"), "restAsync": {}, "timeout": "1s", "endpoint": "https://hooks.example"}))
        .await
        .ok()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let kid_before = api.unchecked().get("/v2/web_keys").await.ok();

    // Nothing secret is stored in clear: not the PAT, the client secret or the password.
    let doc = String::from_utf8(store.document().unwrap()).unwrap();
    assert!(!doc.contains(&pat) && !doc.contains(&secret) && !doc.contains(PASSWORD));
    assert!(doc.contains("$argon2id$"));

    // A second emulator on the same store and data dir.
    drop(first);
    let (base, second) = spawn_with(options()).await.unwrap();
    assert_eq!(second.admin_pat(), pat, "the PAT file is reused");
    assert_eq!(second.admin_key_file(), key_file);
    let api = Api::new(&base, &pat);
    assert_eq!(
        api.get_in(&org, "/management/v1/orgs/me").await.ok()["org"]["name"],
        org_name
    );
    assert_eq!(
        api.unchecked()
            .get(&format!("/v2/actions/targets/{target}"))
            .await
            .ok()["target"]["id"],
        target
    );
    assert_eq!(
        api.unchecked().get("/v2/web_keys").await.ok(),
        kid_before,
        "signing keys persist"
    );
    // The persisted password and client secret still work.
    let p = pkce();
    let url = authorize_url(&base, &client_id, redirect, "openid", &p, &[]);
    let code = query_param(
        &login(&url, "durable-user", PASSWORD).await.unwrap(),
        "code",
    )
    .unwrap();
    let (status, tokens) = exchange(&base, &client_id, &secret, &code, redirect, &p.verifier).await;
    assert_eq!(status, 200, "{tokens}");
    let claims = verify_id_token(&base, tokens["id_token"].as_str().unwrap(), &client_id).await;
    assert_eq!(claims["sub"], user);
    // Ids keep increasing across restarts (no collisions with persisted objects).
    let next = api
        .post("/management/v1/orgs", json!({"name": unique("After")}))
        .await
        .ok()["id"]
        .as_str()
        .unwrap()
        .parse::<u64>()
        .unwrap();
    assert!(next > org.parse::<u64>().unwrap());

    // A lost PAT file is replaced by a fresh PAT.
    std::fs::remove_file(&pat_path).unwrap();
    drop(second);
    let (base, third) = spawn_with(options()).await.unwrap();
    assert_ne!(third.admin_pat(), pat);
    Api::new(&base, third.admin_pat())
        .get("/management/v1/orgs/me")
        .await
        .ok();
}

#[tokio::test]
async fn a_failed_save_changes_nothing() {
    let store = Arc::new(MemoryStateStore::new());
    let (base, emulator) = spawn_with(SpawnOptions {
        store: Some(store.clone()),
        ..Default::default()
    })
    .await
    .unwrap();
    let api = Api::new(&base, emulator.admin_pat());
    let name = unique("Doomed");
    let saves = store.saves();
    store.set_failing(true);
    let body = api
        .post("/management/v1/orgs", json!({"name": name}))
        .await
        .err(500, 13, "EMU-internal");
    assert_eq!(
        body["message"], "An internal error occurred (EMU-internal)",
        "no internals leak"
    );
    store.set_failing(false);
    let listed = api
        .post(
            "/admin/v1/orgs/_search",
            json!({"query": {}, "queries": [{"nameQuery": {"name": name}}]}),
        )
        .await
        .ok();
    assert!(
        listed.get("result").is_none(),
        "the org was not created: {listed}"
    );
    api.post("/management/v1/orgs", json!({"name": name}))
        .await
        .ok();
    assert_eq!(store.saves(), saves + 1);
}

#[tokio::test]
async fn bad_configuration_and_corrupt_state_are_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let config = |issuer: &str, store: Arc<MemoryStateStore>| {
        EmulatorConfig::new(
            issuer.parse().unwrap(),
            dir.path().into(),
            store,
            reqwest::Client::new(),
        )
    };
    let err = Emulator::start(config(
        "ftp://x.example/zitadel",
        Arc::new(MemoryStateStore::new()),
    ))
    .await
    .unwrap_err();
    assert!(matches!(err, EmulatorError::Config(_)), "{err}");
    let store = Arc::new(MemoryStateStore::new());
    use gatehouse_core::emulator::EmulatorStateStore;
    store.save_emulator_state(b"{not json").await.unwrap();
    let err = Emulator::start(config("http://127.0.0.1:1/zitadel", store.clone()))
        .await
        .unwrap_err();
    assert!(matches!(err, EmulatorError::CorruptState(_)), "{err}");
    store
        .save_emulator_state(br#"{"version": 99}"#)
        .await
        .unwrap();
    let err = Emulator::start(config("http://127.0.0.1:1/zitadel", store))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("version 99"), "{err}");
}
