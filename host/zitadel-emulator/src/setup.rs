//! First-instance setup (like ZITADEL's `FirstInstance`): default org, the ZITADEL project, an
//! instance-admin machine user with a PAT and a key file, and the initial signing keys. On later
//! starts the admin credentials files are reused when they still match the state.

use std::{
    collections::BTreeMap,
    io::Write,
    path::{Path, PathBuf},
};

use base64::{Engine, engine::general_purpose::STANDARD};
use gatehouse_core::Timestamp;
use serde_json::Value;

use crate::{
    api,
    auth::{IAM_LOGIN_CLIENT, IAM_OWNER, ORG_OWNER},
    crypto::{IdGen, random_token, sha256_hex},
    error::EmulatorError,
    keys::{self, KeyConfig},
    model::{
        Data, Machine, MachineKey, Meta, Org, OrgState, Project, STATE_VERSION, Token, TokenKind,
        User, UserKind, UserState, WebKey, WebKeyState,
    },
};

pub const PAT_FILE: &str = "zitadel-admin.pat";
pub const KEY_FILE: &str = "zitadel-admin-key.json";
pub const ADMIN_USERNAME: &str = "zitadel-admin";

/// The admin credentials after setup.
pub struct AdminCredentials {
    pub pat: String,
    pub key_file: String,
    pub pat_path: PathBuf,
    pub key_path: PathBuf,
}

fn meta(data: &mut Data, owner: &str, now: Timestamp) -> Meta {
    data.sequence += 1;
    Meta {
        sequence: data.sequence,
        created: now,
        changed: now,
        owner: owner.to_owned(),
    }
}

fn crypto(e: impl std::fmt::Display) -> EmulatorError {
    EmulatorError::Crypto(e.to_string())
}

fn new_web_key(ids: &IdGen, state: WebKeyState, now: Timestamp) -> Result<WebKey, EmulatorError> {
    let config = KeyConfig::default();
    let pkcs8 = keys::generate(config).map_err(crypto)?;
    Ok(WebKey {
        id: ids.next(),
        state,
        config,
        pkcs8: STANDARD.encode(pkcs8),
        created: now,
        changed: now,
        deactivated: None,
        parsed: Default::default(),
    })
}

/// A fresh instance.
pub fn initial_state(ids: &IdGen, org_name: &str, domain: &str) -> Result<Data, EmulatorError> {
    let now = Timestamp::now();
    let mut data = Data {
        version: STATE_VERSION,
        instance_id: ids.next(),
        ..Data::default()
    };
    let org_id = ids.next();
    let org_meta = meta(&mut data, &org_id, now);
    let admin_id = ids.next();
    let mut members = BTreeMap::new();
    members.insert(admin_id.clone(), vec![ORG_OWNER.to_owned()]);
    data.orgs.insert(
        org_id.clone(),
        Org {
            id: org_id.clone(),
            name: org_name.to_owned(),
            state: OrgState::Active,
            primary_domain: api::org_domain(org_name, domain),
            meta: org_meta,
            login_policy: None,
            members,
        },
    );
    data.default_org_id = org_id.clone();
    // ZITADEL's own project, whose id the `…:project:id:zitadel:aud` scope stands for.
    let project_id = ids.next();
    let project_meta = meta(&mut data, &org_id, now);
    data.projects.insert(
        project_id.clone(),
        Project {
            id: project_id.clone(),
            org_id: org_id.clone(),
            name: "ZITADEL".into(),
            role_assertion: false,
            role_check: false,
            has_project_check: false,
            private_labeling_setting: "PRIVATE_LABELING_SETTING_UNSPECIFIED".into(),
            roles: BTreeMap::new(),
            meta: project_meta,
        },
    );
    data.zitadel_project_id = project_id;
    let user_meta = meta(&mut data, &org_id, now);
    data.users.insert(
        admin_id.clone(),
        User {
            id: admin_id.clone(),
            org_id,
            username: ADMIN_USERNAME.into(),
            state: UserState::Active,
            kind: UserKind::Machine(Machine {
                name: "ZITADEL emulator admin".into(),
                description: "Instance admin created by the Gatehouse ZITADEL emulator".into(),
                access_token_type: "ACCESS_TOKEN_TYPE_BEARER".into(),
                keys: vec![],
            }),
            grants: BTreeMap::new(),
            meta: user_meta,
        },
    );
    data.instance_members.insert(
        admin_id.clone(),
        vec![IAM_OWNER.to_owned(), IAM_LOGIN_CLIENT.to_owned()],
    );
    data.admin_user_id = admin_id;
    // As with ZITADEL's web-key feature: one active key and one ready for rotation.
    data.web_keys
        .push(new_web_key(ids, WebKeyState::Active, now)?);
    data.web_keys
        .push(new_web_key(ids, WebKeyState::Initial, now)?);
    Ok(data)
}

/// Writes `contents` to `path` with mode 0600, atomically (temp file + rename).
pub fn write_secret_file(path: &Path, contents: &str) -> Result<(), EmulatorError> {
    let err = |source| EmulatorError::File {
        path: path.display().to_string(),
        source,
    };
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    std::fs::create_dir_all(dir).map_err(err)?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("secret"),
        random_token(6)
    ));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let result = (|| {
        let mut file = options.open(&tmp)?;
        file.write_all(contents.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(err)
}

/// Makes sure the admin's PAT and key file exist and match the state; returns whether the
/// state changed (and must be saved).
pub fn ensure_admin_credentials(
    data: &mut Data,
    ids: &IdGen,
    data_dir: &Path,
) -> Result<(AdminCredentials, bool), EmulatorError> {
    let now = Timestamp::now();
    let admin_id = data.admin_user_id.clone();
    if !data.users.contains_key(&admin_id) {
        return Err(EmulatorError::CorruptState(
            "the admin user is missing".into(),
        ));
    }
    let mut changed = false;
    let pat_path = data_dir.join(PAT_FILE);
    let existing_pat = std::fs::read_to_string(&pat_path)
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|pat| {
            data.tokens
                .get(&sha256_hex(pat))
                .is_some_and(|t| t.kind == TokenKind::Pat && t.user_id == admin_id)
        });
    let pat = match existing_pat {
        Some(pat) => pat,
        None => {
            let pat = random_token(48);
            data.tokens.insert(
                sha256_hex(&pat),
                Token {
                    id: ids.next(),
                    kind: TokenKind::Pat,
                    user_id: admin_id.clone(),
                    client_id: String::new(),
                    scopes: vec![],
                    audience: vec![],
                    issued: now,
                    expires: None,
                    session_id: None,
                    auth_time: None,
                    amr: vec![],
                },
            );
            write_secret_file(&pat_path, &format!("{pat}\n"))?;
            changed = true;
            pat
        }
    };

    let key_path = data_dir.join(KEY_FILE);
    let known_keys: Vec<String> = match data.users.get(&admin_id).map(|u| &u.kind) {
        Some(UserKind::Machine(m)) => m.keys.iter().map(|k| k.id.clone()).collect(),
        _ => vec![],
    };
    let existing_key = std::fs::read_to_string(&key_path).ok().filter(|text| {
        serde_json::from_str::<Value>(text).is_ok_and(|v| {
            v.get("userId").and_then(Value::as_str) == Some(&admin_id)
                && v.get("keyId")
                    .and_then(Value::as_str)
                    .is_some_and(|k| known_keys.iter().any(|x| x == k))
        })
    });
    let key_file = match existing_key {
        Some(text) => text,
        None => {
            let (private, public) = keys::generate_machine_key().map_err(crypto)?;
            let key_id = ids.next();
            if let Some(User {
                kind: UserKind::Machine(m),
                ..
            }) = data.users.get_mut(&admin_id)
            {
                m.keys.push(MachineKey {
                    id: key_id.clone(),
                    public_key_der: STANDARD.encode(&public),
                    expiration: None,
                    created: now,
                });
            }
            let json = api::management_key_file(&key_id, &admin_id, &private, None);
            let text = serde_json::to_string_pretty(&json).map_err(crypto)?;
            write_secret_file(&key_path, &text)?;
            changed = true;
            text
        }
    };
    Ok((
        AdminCredentials {
            pat,
            key_file,
            pat_path,
            key_path,
        },
        changed,
    ))
}

/// Repairs what a start needs: an active signing key.
pub fn ensure_signing_key(data: &mut Data, ids: &IdGen) -> Result<bool, EmulatorError> {
    if data.web_keys.iter().any(|k| k.state == WebKeyState::Active) {
        return Ok(false);
    }
    if let Some(k) = data
        .web_keys
        .iter_mut()
        .find(|k| k.state == WebKeyState::Initial)
    {
        k.state = WebKeyState::Active;
        return Ok(true);
    }
    data.web_keys
        .push(new_web_key(ids, WebKeyState::Active, Timestamp::now())?);
    Ok(true)
}
