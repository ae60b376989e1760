//! Management v1: projects and project roles.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiResult, check_len, enum_field, ok};
use crate::{
    auth::{Caller, OrgHeader},
    error::{ApiError, catalog},
    model::{Project, ProjectRole},
    protojson::{ListQuery, ZJson, change_details, details, list_details_v1, text_matches},
    state::{AppState, Tx},
};

const PRIVATE_LABELING: &[&str] = &[
    "PRIVATE_LABELING_SETTING_UNSPECIFIED",
    "PRIVATE_LABELING_SETTING_ENFORCE_PROJECT_RESOURCE_OWNER_POLICY",
    "PRIVATE_LABELING_SETTING_ALLOW_LOGIN_USER_RESOURCE_OWNER_POLICY",
];

pub fn project_v1(p: &Project) -> Value {
    json!({
        "id": p.id,
        "details": details(&p.meta),
        "name": p.name,
        "state": "PROJECT_STATE_ACTIVE",
        "projectRoleAssertion": p.role_assertion,
        "projectRoleCheck": p.role_check,
        "hasProjectCheck": p.has_project_check,
        "privateLabelingSetting": enum_field(&p.private_labeling_setting),
    })
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct ProjectReq {
    name: String,
    project_role_assertion: bool,
    project_role_check: bool,
    has_project_check: bool,
    private_labeling_setting: Option<String>,
}

impl ProjectReq {
    fn labeling(&self) -> Result<String, ApiError> {
        let value = self
            .private_labeling_setting
            .clone()
            .unwrap_or_else(|| PRIVATE_LABELING[0].to_owned());
        if !PRIVATE_LABELING.contains(&value.as_str()) {
            return Err(ApiError::validation(format!(
                "invalid privateLabelingSetting: unknown value `{value}`"
            )));
        }
        Ok(value)
    }
}

/// The project `id` in `org_id`, or NotFound (another org's project looks missing).
pub fn project_in<'a>(
    tx_data: &'a crate::model::Data,
    org_id: &str,
    id: &str,
) -> Result<&'a Project, ApiError> {
    tx_data
        .projects
        .get(id)
        .filter(|p| p.org_id == org_id)
        .ok_or_else(catalog::project_not_found)
}

pub fn create_project(
    tx: &mut Tx<'_>,
    org_id: &str,
    name: &str,
    role_assertion: bool,
    role_check: bool,
    has_project_check: bool,
    labeling: String,
) -> Result<Project, ApiError> {
    if tx
        .data
        .projects
        .values()
        .any(|p| p.org_id == org_id && p.name == name)
    {
        return Err(catalog::project_exists());
    }
    let id = tx.new_id();
    let meta = tx.meta(org_id);
    let project = Project {
        id: id.clone(),
        org_id: org_id.to_owned(),
        name: name.to_owned(),
        role_assertion,
        role_check,
        has_project_check,
        private_labeling_setting: labeling,
        roles: BTreeMap::new(),
        meta,
    };
    tx.data.projects.insert(id, project.clone());
    Ok(project)
}

pub async fn add_project(
    State(state): State<AppState>,
    caller: Caller,
    org: OrgHeader,
    ZJson(req): ZJson<ProjectReq>,
) -> ApiResult {
    let name = check_len("AddProjectRequest.Name", &req.name, 1, 200)?;
    let labeling = req.labeling()?;
    let project = state
        .write(|tx| {
            let org_id = caller.org_context(tx.data, &org)?;
            create_project(
                tx,
                &org_id,
                &name,
                req.project_role_assertion,
                req.project_role_check,
                req.has_project_check,
                labeling,
            )
        })
        .await?;
    ok(json!({"id": project.id, "details": details(&project.meta)}))
}

pub async fn get_project(
    State(state): State<AppState>,
    caller: Caller,
    org: OrgHeader,
    Path(id): Path<String>,
) -> ApiResult {
    let value = state.read(|inner| {
        let org_id = caller.org_context(&inner.data, &org)?;
        let project = project_in(&inner.data, &org_id, &id)?;
        Ok::<_, ApiError>(json!({"project": project_v1(project)}))
    })?;
    ok(value)
}

pub async fn update_project(
    State(state): State<AppState>,
    caller: Caller,
    org: OrgHeader,
    Path(id): Path<String>,
    ZJson(req): ZJson<ProjectReq>,
) -> ApiResult {
    let name = check_len("UpdateProjectRequest.Name", &req.name, 1, 200)?;
    let labeling = req.labeling()?;
    let (seq, at, owner) = state
        .write(|tx| {
            let org_id = caller.org_context(tx.data, &org)?;
            let current = project_in(tx.data, &org_id, &id)?;
            let unchanged = current.name == name
                && current.role_assertion == req.project_role_assertion
                && current.role_check == req.project_role_check
                && current.has_project_check == req.has_project_check
                && current.private_labeling_setting == labeling;
            if unchanged {
                return Err(ApiError::precondition(
                    "EMU-ProjectNotChanged",
                    "No changes",
                ));
            }
            if tx
                .data
                .projects
                .values()
                .any(|p| p.id != id && p.org_id == org_id && p.name == name)
            {
                return Err(catalog::project_exists());
            }
            let seq = tx.next_seq();
            let now = tx.now;
            let project = tx
                .data
                .projects
                .get_mut(&id)
                .ok_or_else(catalog::project_not_found)?;
            project.name = name.clone();
            project.role_assertion = req.project_role_assertion;
            project.role_check = req.project_role_check;
            project.has_project_check = req.has_project_check;
            project.private_labeling_setting = labeling.clone();
            project.meta.changed = now;
            project.meta.sequence = seq;
            Ok((seq, now, org_id))
        })
        .await?;
    ok(json!({"details": change_details(seq, at, &owner)}))
}

pub async fn remove_project(
    State(state): State<AppState>,
    caller: Caller,
    org: OrgHeader,
    Path(id): Path<String>,
) -> ApiResult {
    let (seq, at, owner) = state
        .write(|tx| {
            let org_id = caller.org_context(tx.data, &org)?;
            project_in(tx.data, &org_id, &id)?;
            let seq = tx.next_seq();
            tx.data.projects.remove(&id);
            tx.data.apps.retain(|_, a| a.project_id != id);
            for user in tx.data.users.values_mut() {
                user.grants.remove(&id);
            }
            Ok((seq, tx.now, org_id))
        })
        .await?;
    ok(json!({"details": change_details(seq, at, &owner)}))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct ListProjectsReq {
    query: ListQuery,
    queries: Vec<ProjectQuery>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct ProjectQuery {
    name_query: Option<NameQuery>,
    project_resource_owner_query: Option<OwnerQuery>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct NameQuery {
    pub name: String,
    pub method: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct OwnerQuery {
    resource_owner: String,
}

pub async fn list_projects(
    State(state): State<AppState>,
    caller: Caller,
    org: OrgHeader,
    ZJson(req): ZJson<ListProjectsReq>,
) -> ApiResult {
    let now = gatehouse_core::Timestamp::now();
    let value = state.read(|inner| {
        let org_id = caller.org_context(&inner.data, &org)?;
        let mut found = Vec::new();
        for project in inner.data.projects.values().filter(|p| p.org_id == org_id) {
            let mut keep = true;
            for q in &req.queries {
                if let Some(n) = &q.name_query {
                    keep &= text_matches(n.method.as_deref(), &project.name, &n.name)?;
                }
                if let Some(o) = &q.project_resource_owner_query {
                    keep &= project.org_id == o.resource_owner;
                }
            }
            if keep {
                found.push(project);
            }
        }
        // Sorted by name like ZITADEL's project list.
        found.sort_by(|a, b| a.name.cmp(&b.name));
        let total = found.len();
        let page: Vec<Value> = req.query.page(found)?.into_iter().map(project_v1).collect();
        Ok::<_, ApiError>(json!({
            "details": list_details_v1(total, inner.data.sequence, now),
            "result": page,
        }))
    })?;
    ok(value)
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct RoleReq {
    role_key: String,
    display_name: String,
    group: String,
}

pub async fn add_project_role(
    State(state): State<AppState>,
    caller: Caller,
    org: OrgHeader,
    Path(project_id): Path<String>,
    ZJson(req): ZJson<RoleReq>,
) -> ApiResult {
    let key = check_len("AddProjectRoleRequest.RoleKey", &req.role_key, 1, 200)?;
    let display = check_len(
        "AddProjectRoleRequest.DisplayName",
        &req.display_name,
        1,
        200,
    )?;
    if req.group.chars().count() > 200 {
        return Err(ApiError::validation(
            "invalid AddProjectRoleRequest.Group: value length must be at most 200 runes",
        ));
    }
    let (seq, at, owner) = state
        .write(|tx| {
            let org_id = caller.org_context(tx.data, &org)?;
            let project = project_in(tx.data, &org_id, &project_id)?;
            if project.roles.contains_key(&key) {
                return Err(catalog::project_role_exists());
            }
            let seq = tx.next_seq();
            if let Some(p) = tx.data.projects.get_mut(&project_id) {
                p.roles.insert(
                    key.clone(),
                    ProjectRole {
                        display_name: display.clone(),
                        group: req.group.clone(),
                    },
                );
            }
            Ok((seq, tx.now, org_id))
        })
        .await?;
    ok(json!({"details": change_details(seq, at, &owner)}))
}
