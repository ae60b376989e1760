//! Projects (management v1, `x-zitadel-orgid`). Project names are unique per organization.

use serde::{Deserialize, Serialize};

use super::{
    Call, ListDetails, ListQuery, NameQuery, ObjectDetails, Result, Updated, ZitadelClient,
    ZitadelError, segment, wire::proto_enum,
};

proto_enum! {
    pub enum PrivateLabelingSetting {
        Unspecified = "PRIVATE_LABELING_SETTING_UNSPECIFIED",
        EnforceProjectResourceOwnerPolicy = "PRIVATE_LABELING_SETTING_ENFORCE_PROJECT_RESOURCE_OWNER_POLICY",
        AllowLoginUserResourceOwnerPolicy = "PRIVATE_LABELING_SETTING_ALLOW_LOGIN_USER_RESOURCE_OWNER_POLICY",
    }
}

proto_enum! {
    pub enum ProjectState default Unspecified {
        Unspecified = "PROJECT_STATE_UNSPECIFIED",
        Active = "PROJECT_STATE_ACTIVE",
        Inactive = "PROJECT_STATE_INACTIVE",
    }
}

/// `POST /management/v1/projects` and `PUT …/projects/{id}` (the update replaces all fields).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProjectSettings {
    /// 1..200 characters, unique in the organization.
    pub name: String,
    /// Put the user's roles into tokens.
    pub project_role_assertion: bool,
    /// Only users with a role in the project may log in.
    pub project_role_check: bool,
    /// Only users of organizations granted the project may log in.
    pub has_project_check: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_labeling_setting: Option<PrivateLabelingSetting>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AddProjectResponse {
    pub id: String,
    pub details: Option<ObjectDetails>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Project {
    pub id: String,
    pub details: Option<ObjectDetails>,
    pub name: String,
    pub state: ProjectState,
    pub project_role_assertion: bool,
    pub project_role_check: bool,
    pub has_project_check: bool,
    pub private_labeling_setting: Option<PrivateLabelingSetting>,
}

/// One criterion of `ListProjects`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ProjectQuery {
    NameQuery(NameQuery),
    #[serde(rename_all = "camelCase")]
    ProjectResourceOwnerQuery {
        resource_owner: String,
    },
}

#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListProjectsRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query: Option<ListQuery>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub queries: Vec<ProjectQuery>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ListProjectsResponse {
    pub details: Option<ListDetails>,
    pub result: Vec<Project>,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct DetailsOnly {
    pub details: Option<ObjectDetails>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct GetProjectResponse {
    project: Option<Project>,
}

impl ZitadelClient {
    pub async fn create_project(
        &self,
        org_id: &str,
        project: &ProjectSettings,
    ) -> Result<AddProjectResponse> {
        let call = Call::post("create_project", "/management/v1/projects".into(), project)?
            .in_org(org_id)?;
        let response: AddProjectResponse = self.call(call).await?;
        if response.id.is_empty() {
            return Err(ZitadelError::Decode {
                op: "create_project",
                message: "no project id in the answer".into(),
            });
        }
        Self::ensure_owner(
            "create_project",
            org_id,
            response.details.as_ref(),
            Some(&response.id),
        )?;
        Ok(response)
    }

    /// The project, or `None` if it does not exist in this organization.
    pub async fn get_project(&self, org_id: &str, project_id: &str) -> Result<Option<Project>> {
        let path = format!(
            "/management/v1/projects/{}",
            segment("get_project", "project id", project_id)?
        );
        let call = Call::get("get_project", path).in_org(org_id)?;
        let response: GetProjectResponse = match self.call(call).await {
            Ok(response) => response,
            Err(err) if err.is_not_found() => return Ok(None),
            Err(err) => return Err(err),
        };
        let Some(project) = response.project.filter(|p| !p.id.is_empty()) else {
            return Ok(None);
        };
        Self::ensure_owner("get_project", org_id, project.details.as_ref(), None)?;
        Ok(Some(project))
    }

    pub async fn list_projects(
        &self,
        org_id: &str,
        request: &ListProjectsRequest,
    ) -> Result<ListProjectsResponse> {
        let call = Call::search(
            "list_projects",
            "/management/v1/projects/_search".into(),
            request,
        )?
        .in_org(org_id)?;
        self.call(call).await
    }

    /// The organization's project with exactly this name.
    pub async fn find_project_by_name(&self, org_id: &str, name: &str) -> Result<Option<Project>> {
        let response = self
            .list_projects(
                org_id,
                &ListProjectsRequest {
                    query: Some(ListQuery::limit(10)),
                    queries: vec![ProjectQuery::NameQuery(NameQuery::equals(name))],
                },
            )
            .await?;
        let found = response.result.into_iter().find(|p| p.name == name);
        if let Some(project) = &found {
            Self::ensure_owner(
                "find_project_by_name",
                org_id,
                project.details.as_ref(),
                None,
            )?;
        }
        Ok(found)
    }

    /// Replaces the project's settings (all fields).
    pub async fn update_project(
        &self,
        org_id: &str,
        project_id: &str,
        project: &ProjectSettings,
    ) -> Result<Updated> {
        let path = format!(
            "/management/v1/projects/{}",
            segment("update_project", "project id", project_id)?
        );
        let call = Call::put("update_project", path, project)?.in_org(org_id)?;
        match self.call::<DetailsOnly>(call).await {
            Ok(response) => {
                Self::ensure_owner("update_project", org_id, response.details.as_ref(), None)?;
                Ok(Updated::Applied)
            }
            Err(err) if err.is_no_changes() => Ok(Updated::Unchanged),
            Err(err) => Err(err),
        }
    }

    /// Deletes the project and its applications. `false` if it did not exist.
    pub async fn delete_project(&self, org_id: &str, project_id: &str) -> Result<bool> {
        let path = format!(
            "/management/v1/projects/{}",
            segment("delete_project", "project id", project_id)?
        );
        self.delete_call(Call::delete("delete_project", path).in_org(org_id)?)
            .await
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn project_query_shapes() {
        let request = ListProjectsRequest {
            query: None,
            queries: vec![
                ProjectQuery::NameQuery(NameQuery::equals("web")),
                ProjectQuery::ProjectResourceOwnerQuery {
                    resource_owner: "9".into(),
                },
            ],
        };
        assert_eq!(
            serde_json::to_value(&request).unwrap(),
            json!({"queries": [
                {"nameQuery": {"name": "web", "method": "TEXT_QUERY_METHOD_EQUALS"}},
                {"projectResourceOwnerQuery": {"resourceOwner": "9"}}
            ]})
        );
    }
}
