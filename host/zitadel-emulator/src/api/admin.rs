//! Admin v1: instance-level reads and instance members.

use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiResult, check_len, management::org_v1, ok, org_state_v1};
use crate::{
    auth::{Caller, IAM_OWNER},
    error::{ApiError, catalog},
    protojson::{ListQuery, ZJson, change_details, list_details_v1, text_matches},
    state::AppState,
};

pub async fn get_org_by_id(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult {
    caller.require_instance(IAM_OWNER)?;
    let value = state.read(|inner| {
        inner
            .data
            .orgs
            .get(&id)
            .map(|o| json!({"org": org_v1(o)}))
            .ok_or_else(catalog::org_not_found)
    })?;
    ok(value)
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct ListOrgsReq {
    query: ListQuery,
    sorting_column: Option<String>,
    queries: Vec<OrgQuery>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct OrgQuery {
    name_query: Option<TextQuery>,
    domain_query: Option<DomainQuery>,
    state_query: Option<StateQuery>,
    id_query: Option<IdQuery>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct TextQuery {
    name: String,
    method: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct DomainQuery {
    domain: String,
    method: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct StateQuery {
    state: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct IdQuery {
    id: String,
}

pub async fn list_orgs(
    State(state): State<AppState>,
    caller: Caller,
    ZJson(req): ZJson<ListOrgsReq>,
) -> ApiResult {
    caller.require_instance(IAM_OWNER)?;
    let now = gatehouse_core::Timestamp::now();
    let value = state.read(|inner| {
        let mut found = Vec::new();
        for org in inner.data.orgs.values() {
            let mut keep = true;
            for q in &req.queries {
                if let Some(q) = &q.name_query {
                    keep &= text_matches(q.method.as_deref(), &org.name, &q.name)?;
                }
                if let Some(q) = &q.domain_query {
                    keep &= text_matches(q.method.as_deref(), &org.primary_domain, &q.domain)?;
                }
                if let Some(q) = &q.state_query {
                    keep &= org_state_v1(org) == q.state;
                }
                if let Some(q) = &q.id_query {
                    keep &= org.id == q.id;
                }
            }
            if keep {
                found.push(org);
            }
        }
        if req.sorting_column.as_deref() == Some("ORG_FIELD_NAME_NAME") {
            found.sort_by(|a, b| a.name.cmp(&b.name));
        } else {
            found.sort_by_key(|o| o.meta.sequence);
        }
        if !req.query.asc && req.sorting_column.as_deref() == Some("ORG_FIELD_NAME_NAME") {
            found.reverse();
        }
        let total = found.len();
        let page: Vec<Value> = req.query.page(found)?.into_iter().map(org_v1).collect();
        Ok::<_, ApiError>(json!({
            "details": list_details_v1(total, inner.data.sequence, now),
            "sortingColumn": super::enum_field(req.sorting_column.as_deref().unwrap_or("ORG_FIELD_NAME_UNSPECIFIED")),
            "result": page,
        }))
    })?;
    ok(value)
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct MemberReq {
    user_id: String,
    roles: Vec<String>,
}

const IAM_ROLES: &[&str] = &[
    "IAM_OWNER",
    "IAM_OWNER_VIEWER",
    "IAM_ORG_MANAGER",
    "IAM_USER_MANAGER",
    "IAM_ADMIN_IMPERSONATOR",
    "IAM_END_USER_IMPERSONATOR",
    "IAM_LOGIN_CLIENT",
];

pub async fn add_iam_member(
    State(state): State<AppState>,
    caller: Caller,
    ZJson(req): ZJson<MemberReq>,
) -> ApiResult {
    caller.require_instance(IAM_OWNER)?;
    let user_id = check_len("AddIAMMemberRequest.UserId", &req.user_id, 1, 200)?;
    if req.roles.is_empty() {
        return Err(ApiError::invalid("EMU-MemberRoles", "Member is invalid"));
    }
    if let Some(bad) = req.roles.iter().find(|r| !IAM_ROLES.contains(&r.as_str())) {
        return Err(ApiError::invalid(
            "EMU-MemberRole",
            format!("Member is invalid: unknown role `{bad}`"),
        ));
    }
    let (seq, at, instance) = state
        .write(|tx| {
            if !tx.data.users.contains_key(&user_id) {
                return Err(catalog::user_not_found());
            }
            if tx.data.instance_members.contains_key(&user_id) {
                return Err(ApiError::already_exists("Member already exists"));
            }
            let seq = tx.next_seq();
            tx.data
                .instance_members
                .insert(user_id.clone(), req.roles.clone());
            Ok((seq, tx.now, tx.data.instance_id.clone()))
        })
        .await?;
    ok(json!({"details": change_details(seq, at, &instance)}))
}
