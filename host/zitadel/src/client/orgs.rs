//! Organizations, through the v2 Organization service (`/v2/organizations`). The org id travels
//! in the path, so these calls are immune to the ignored-`x-zitadel-orgid` problem.

use serde::{Deserialize, Serialize, de::IgnoredAny};

use super::{
    AddHumanUserRequest, Call, ListDetails, ListQuery, ObjectDetails, Result, TextQueryMethod,
    Updated, ZitadelClient, ZitadelError, segment, wire::proto_enum,
};

/// `POST /v2/organizations`.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AddOrganizationRequest {
    /// 1..200 characters, unique in the instance.
    pub name: String,
    /// Without admins the organization is managed by instance administrators only.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub admins: Vec<OrganizationAdmin>,
    /// A caller-chosen id (ZITADEL v4). Creating twice with the same id fails with
    /// AlreadyExists, which makes a retried creation detectable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrganizationAdmin {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub human: Option<AddHumanUserRequest>,
    /// Empty = ORG_OWNER.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AddOrganizationResponse {
    pub details: Option<ObjectDetails>,
    pub organization_id: String,
    pub created_admins: Vec<CreatedAdmin>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CreatedAdmin {
    pub user_id: String,
    pub email_code: Option<String>,
    pub phone_code: Option<String>,
}

proto_enum! {
    pub enum OrganizationState default Unspecified {
        Unspecified = "ORGANIZATION_STATE_UNSPECIFIED",
        Active = "ORGANIZATION_STATE_ACTIVE",
        Inactive = "ORGANIZATION_STATE_INACTIVE",
        Removed = "ORGANIZATION_STATE_REMOVED",
    }
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Organization {
    pub id: String,
    pub details: Option<ObjectDetails>,
    pub state: OrganizationState,
    pub name: String,
    pub primary_domain: String,
}

proto_enum! {
    pub enum OrganizationFieldName {
        Unspecified = "ORGANIZATION_FIELD_NAME_UNSPECIFIED",
        Name = "ORGANIZATION_FIELD_NAME_NAME",
        CreationDate = "ORGANIZATION_FIELD_NAME_CREATION_DATE",
    }
}

/// One criterion of `ListOrganizations` (a protobuf oneof).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum OrganizationQuery {
    NameQuery {
        name: String,
        method: TextQueryMethod,
    },
    DomainQuery {
        domain: String,
        method: TextQueryMethod,
    },
    StateQuery {
        state: OrganizationState,
    },
    IdQuery {
        id: String,
    },
    DefaultQuery {},
}

/// `POST /v2/organizations/_search`.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListOrganizationsRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query: Option<ListQuery>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sorting_column: Option<OrganizationFieldName>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub queries: Vec<OrganizationQuery>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ListOrganizationsResponse {
    pub details: Option<ListDetails>,
    pub result: Vec<Organization>,
}

#[derive(Serialize)]
struct NameBody<'a> {
    name: &'a str,
}

impl ZitadelClient {
    pub async fn create_org(
        &self,
        request: &AddOrganizationRequest,
    ) -> Result<AddOrganizationResponse> {
        let call = Call::post("create_org", "/v2/organizations".into(), request)?;
        let response: AddOrganizationResponse = self.call(call).await?;
        if response.organization_id.is_empty() {
            return Err(ZitadelError::Decode {
                op: "create_org",
                message: "no organizationId in the answer".into(),
            });
        }
        Ok(response)
    }

    pub async fn list_orgs(
        &self,
        request: &ListOrganizationsRequest,
    ) -> Result<ListOrganizationsResponse> {
        let call = Call::search("list_orgs", "/v2/organizations/_search".into(), request)?;
        self.call(call).await
    }

    /// The organization, or `None` if it does not exist (or is not visible yet).
    pub async fn get_org(&self, org_id: &str) -> Result<Option<Organization>> {
        segment("get_org", "organization id", org_id)?;
        let response = self
            .list_orgs(&ListOrganizationsRequest {
                query: Some(ListQuery::limit(1)),
                queries: vec![OrganizationQuery::IdQuery { id: org_id.into() }],
                ..Default::default()
            })
            .await?;
        Ok(response.result.into_iter().find(|org| org.id == org_id))
    }

    /// The organization with exactly this name.
    pub async fn find_org_by_name(&self, name: &str) -> Result<Option<Organization>> {
        let response = self
            .list_orgs(&ListOrganizationsRequest {
                query: Some(ListQuery::limit(10)),
                queries: vec![OrganizationQuery::NameQuery {
                    name: name.into(),
                    method: TextQueryMethod::Equals,
                }],
                ..Default::default()
            })
            .await?;
        Ok(response.result.into_iter().find(|org| org.name == name))
    }

    /// Renames the organization (ZITADEL also renames its generated primary domain).
    pub async fn rename_org(&self, org_id: &str, name: &str) -> Result<Updated> {
        let path = format!(
            "/v2/organizations/{}",
            segment("rename_org", "organization id", org_id)?
        );
        let call = Call::post("rename_org", path, &NameBody { name })?.idempotent();
        self.update::<IgnoredAny>(call).await
    }

    /// Deletes the organization and everything in it. `false` if it did not exist.
    pub async fn delete_org(&self, org_id: &str) -> Result<bool> {
        let path = format!(
            "/v2/organizations/{}",
            segment("delete_org", "organization id", org_id)?
        );
        self.delete_call(Call::delete("delete_org", path)).await
    }

    /// Deactivates the organization: its users can no longer log in.
    pub async fn deactivate_org(&self, org_id: &str) -> Result<Updated> {
        let path = format!(
            "/v2/organizations/{}/deactivate",
            segment("deactivate_org", "organization id", org_id)?
        );
        let call = Call::post("deactivate_org", path, &super::Empty {})?.idempotent();
        self.state_change(call, "AlreadyDeactivated", "already deactivated")
            .await
    }

    pub async fn activate_org(&self, org_id: &str) -> Result<Updated> {
        let path = format!(
            "/v2/organizations/{}/activate",
            segment("activate_org", "organization id", org_id)?
        );
        let call = Call::post("activate_org", path, &super::Empty {})?.idempotent();
        self.state_change(call, "AlreadyActive", "already active")
            .await
    }

    /// A state transition whose "already there" refusal means success.
    async fn state_change(&self, call: Call<'_>, key: &str, english: &str) -> Result<Updated> {
        match self.execute(&call).await {
            Ok(_) => Ok(Updated::Applied),
            Err(err)
                if err.api().is_some_and(|api| {
                    api.message.contains(key) || api.message.to_ascii_lowercase().contains(english)
                }) =>
            {
                Ok(Updated::Unchanged)
            }
            Err(err) => Err(err),
        }
    }

    /// Runs an update; a refused no-op update is `Unchanged`.
    pub(crate) async fn update<T: serde::de::DeserializeOwned>(
        &self,
        call: Call<'_>,
    ) -> Result<Updated> {
        match self.call::<T>(call).await {
            Ok(_) => Ok(Updated::Applied),
            Err(err) if err.is_no_changes() => Ok(Updated::Unchanged),
            Err(err) => Err(err),
        }
    }

    /// Runs a delete; NotFound means it is already gone (`false`).
    pub(crate) async fn delete_call(&self, call: Call<'_>) -> Result<bool> {
        match self.execute(&call).await {
            Ok(_) => Ok(true),
            Err(err) if err.is_not_found() => Ok(false),
            Err(err) => Err(err),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn list_request_uses_oneof_names() {
        let request = ListOrganizationsRequest {
            query: Some(ListQuery::limit(1)),
            queries: vec![
                OrganizationQuery::IdQuery { id: "42".into() },
                OrganizationQuery::NameQuery {
                    name: "Acme".into(),
                    method: TextQueryMethod::Equals,
                },
                OrganizationQuery::DefaultQuery {},
            ],
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_value(&request).unwrap(),
            json!({
                "query": {"limit": 1},
                "queries": [
                    {"idQuery": {"id": "42"}},
                    {"nameQuery": {"name": "Acme", "method": "TEXT_QUERY_METHOD_EQUALS"}},
                    {"defaultQuery": {}}
                ]
            })
        );
    }

    #[test]
    fn organization_reads_protojson_and_ignores_new_fields() {
        let org: Organization = serde_json::from_value(json!({
            "id": "1",
            "details": {"sequence": "2", "resourceOwner": "1", "changeDate": "2025-01-23T10:34:18.051Z"},
            "state": "ORGANIZATION_STATE_ACTIVE",
            "name": "Acme",
            "primaryDomain": "acme.zitadel.example",
            "addedInV5": true
        }))
        .unwrap();
        assert_eq!(org.state, OrganizationState::Active);
        assert_eq!(org.details.unwrap().sequence, Some(2));
        // protojson omits defaults: a bare object is valid.
        let bare: Organization = serde_json::from_value(json!({"id": "1"})).unwrap();
        assert_eq!(bare.state, OrganizationState::Unspecified);
        assert_eq!(bare.name, "");
    }
}
