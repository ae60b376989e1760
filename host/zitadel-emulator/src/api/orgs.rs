//! Organization service v2.

use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    ApiResult, check_len, enum_field,
    management::{create_org, delete_org, rename_org},
    ok,
    users::{HumanReq, NewHuman, create_human, prepare_human},
};
use crate::{
    auth::{Caller, IAM_OWNER, ORG_OWNER},
    error::{ApiError, catalog},
    model::{Org, OrgState},
    protojson::{ListQuery, ZJson, details, list_details_v2, text_matches, ts},
    state::AppState,
};

fn state_v2(org: &Org) -> &'static str {
    match org.state {
        OrgState::Active => "ORGANIZATION_STATE_ACTIVE",
        OrgState::Inactive => "ORGANIZATION_STATE_INACTIVE",
    }
}

fn org_v2(org: &Org) -> Value {
    json!({
        "id": org.id,
        "details": details(&org.meta),
        "state": state_v2(org),
        "name": org.name,
        "primaryDomain": org.primary_domain,
    })
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct AddOrgReq {
    name: String,
    admins: Vec<AdminReq>,
    organization_id: Option<String>,
    org_id: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct AdminReq {
    user_id: Option<String>,
    human: Option<HumanReq>,
    roles: Vec<String>,
}

enum Admin {
    Existing(String, Vec<String>),
    New(Box<NewHuman>, Vec<String>),
}

pub async fn add_organization(
    State(state): State<AppState>,
    caller: Caller,
    ZJson(req): ZJson<AddOrgReq>,
) -> ApiResult {
    caller.require_instance(IAM_OWNER)?;
    let name = check_len("AddOrganizationRequest.Name", &req.name, 1, 200)?;
    let custom_id = req
        .organization_id
        .or(req.org_id)
        .filter(|s| !s.trim().is_empty());
    let mut admins = Vec::new();
    for admin in req.admins {
        let roles = if admin.roles.is_empty() {
            vec![ORG_OWNER.to_owned()]
        } else {
            admin.roles
        };
        match (admin.user_id.filter(|u| !u.is_empty()), admin.human) {
            (Some(id), None) => admins.push(Admin::Existing(id, roles)),
            (None, Some(human)) => {
                admins.push(Admin::New(Box::new(prepare_human(human).await?), roles));
            }
            _ => {
                return Err(ApiError::validation(
                    "invalid AddOrganizationRequest.Admins: set exactly one of userId and human",
                ));
            }
        }
    }
    let (org, created) = state
        .write(|tx| {
            let org = create_org(tx, &name, custom_id)?;
            let mut created = Vec::new();
            for admin in admins {
                let (user_id, roles) = match admin {
                    Admin::Existing(id, roles) => {
                        if !tx.data.users.contains_key(&id) {
                            return Err(catalog::user_not_found());
                        }
                        (id, roles)
                    }
                    Admin::New(human, roles) => {
                        let user = create_human(tx, &org.id, *human, &caller.user_id)?;
                        created.push(json!({"userId": user.id}));
                        (user.id, roles)
                    }
                };
                if let Some(o) = tx.data.orgs.get_mut(&org.id) {
                    o.members.insert(user_id, roles);
                }
            }
            Ok((org, created))
        })
        .await?;
    ok(json!({
        "details": details(&org.meta),
        "organizationId": org.id,
        "createdAdmins": created,
    }))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct ListReq {
    query: ListQuery,
    sorting_column: Option<String>,
    queries: Vec<Value>,
}

fn org_matches(org: &Org, default_id: &str, query: &Value) -> Result<bool, ApiError> {
    let obj = query.as_object().filter(|o| o.len() == 1).ok_or_else(|| {
        ApiError::validation("invalid queries: each query must set exactly one query type")
    })?;
    let (kind, q) = obj
        .iter()
        .next()
        .ok_or_else(|| ApiError::validation("empty query"))?;
    let text = |field: &str, value: &str| {
        text_matches(
            q.get("method").and_then(Value::as_str),
            value,
            q.get(field).and_then(Value::as_str).unwrap_or_default(),
        )
    };
    Ok(match kind.as_str() {
        "nameQuery" => text("name", &org.name)?,
        "domainQuery" => text("domain", &org.primary_domain)?,
        "stateQuery" => q.get("state").and_then(Value::as_str) == Some(state_v2(org)),
        "idQuery" => q.get("id").and_then(Value::as_str) == Some(&org.id),
        "defaultQuery" => org.id == default_id,
        other => {
            return Err(ApiError::validation(format!(
                "invalid queries: unsupported query `{other}`"
            )));
        }
    })
}

pub async fn list_organizations(
    State(state): State<AppState>,
    caller: Caller,
    ZJson(req): ZJson<ListReq>,
) -> ApiResult {
    let now = gatehouse_core::Timestamp::now();
    let sorting = req
        .sorting_column
        .clone()
        .unwrap_or_else(|| "ORGANIZATION_FIELD_NAME_UNSPECIFIED".to_owned());
    let value = state.read(|inner| {
        let data = &inner.data;
        let mut found = Vec::new();
        for org in data
            .orgs
            .values()
            .filter(|o| caller.can_manage_org(data, &o.id))
        {
            let mut keep = true;
            for q in &req.queries {
                keep &= org_matches(org, &data.default_org_id, q)?;
            }
            if keep {
                found.push(org);
            }
        }
        if sorting == "ORGANIZATION_FIELD_NAME_NAME" {
            found.sort_by(|a, b| a.name.cmp(&b.name));
            if !req.query.asc {
                found.reverse();
            }
        } else {
            found.sort_by_key(|o| o.meta.sequence);
        }
        let total = found.len();
        let page: Vec<Value> = req.query.page(found)?.into_iter().map(org_v2).collect();
        Ok::<_, ApiError>(json!({
            "details": list_details_v2(total, data.sequence, now),
            "sortingColumn": enum_field(&sorting),
            "result": page,
        }))
    })?;
    ok(value)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct UpdateReq {
    name: String,
}

pub async fn update_organization(
    State(state): State<AppState>,
    caller: Caller,
    Path(org_id): Path<String>,
    ZJson(req): ZJson<UpdateReq>,
) -> ApiResult {
    let name = check_len("UpdateOrganizationRequest.Name", &req.name, 1, 200)?;
    let at = state
        .write(|tx| {
            if !tx.data.orgs.contains_key(&org_id) || !caller.can_manage_org(tx.data, &org_id) {
                return Err(catalog::org_not_found());
            }
            rename_org(tx, &org_id, &name)?;
            Ok(tx.now)
        })
        .await?;
    ok(json!({"changeDate": ts(at)}))
}

pub async fn delete_organization(
    State(state): State<AppState>,
    caller: Caller,
    Path(org_id): Path<String>,
) -> ApiResult {
    let at = state
        .write(|tx| {
            if !tx.data.orgs.contains_key(&org_id) || !caller.can_manage_org(tx.data, &org_id) {
                return Err(catalog::org_not_found());
            }
            delete_org(tx, &org_id)?;
            Ok(tx.now)
        })
        .await?;
    ok(json!({"deletionDate": ts(at)}))
}
