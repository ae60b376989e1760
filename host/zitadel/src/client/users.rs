//! Human users through the v2 User service (`/v2/users`). The organization travels in the
//! body, so the resource owner of the answer is checked against it.

use serde::{Deserialize, Serialize};

use super::{
    Call, Empty, ListDetails, ListQuery, ObjectDetails, Result, Secret, TextQueryMethod,
    ZitadelClient, ZitadelError, segment, wire::proto_enum,
};

/// The organization a user belongs to: by id or by (verified) domain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum OrganizationRef {
    OrgId(String),
    OrgDomain(String),
}

proto_enum! {
    pub enum Gender {
        Unspecified = "GENDER_UNSPECIFIED",
        Female = "GENDER_FEMALE",
        Male = "GENDER_MALE",
        Diverse = "GENDER_DIVERSE",
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SetHumanProfile {
    pub given_name: String,
    pub family_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nick_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_language: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gender: Option<Gender>,
}

/// The email and how it gets verified: `is_verified` (trusted), or a code ZITADEL sends or
/// returns. With none of them ZITADEL sends a verification mail.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SetHumanEmail {
    pub email: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_verified: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub send_code: Option<SendEmailCode>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub return_code: Option<Empty>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SendEmailCode {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url_template: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SetHumanPhone {
    pub phone: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_verified: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub send_code: Option<Empty>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub return_code: Option<Empty>,
}

/// A new password. Debug output never shows it.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Password {
    pub password: Secret,
    /// The user must change it at the next login.
    pub change_required: bool,
}

#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MetadataEntry {
    pub key: String,
    /// Base64 of the value (protobuf `bytes`).
    pub value: String,
}

#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IdpLink {
    pub idp_id: String,
    pub user_id: String,
    pub user_name: String,
}

/// `POST /v2/users/human`.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AddHumanUserRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// Defaults to the email.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Defaults to the caller's organization.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization: Option<OrganizationRef>,
    pub profile: SetHumanProfile,
    pub email: SetHumanEmail,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<SetHumanPhone>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub metadata: Vec<MetadataEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<Password>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub idp_links: Vec<IdpLink>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AddHumanUserResponse {
    pub user_id: String,
    pub details: Option<ObjectDetails>,
    /// Present when `returnCode` was asked for.
    pub email_code: Option<Secret>,
    pub phone_code: Option<Secret>,
}

/// `POST /v2/users/{userId}/password`. An administrator may omit both the current password and
/// the verification code.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SetPasswordRequest {
    pub new_password: Password,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_password: Option<Secret>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verification_code: Option<Secret>,
}

proto_enum! {
    pub enum UserState default Unspecified {
        Unspecified = "USER_STATE_UNSPECIFIED",
        Active = "USER_STATE_ACTIVE",
        Inactive = "USER_STATE_INACTIVE",
        Deleted = "USER_STATE_DELETED",
        Locked = "USER_STATE_LOCKED",
        Initial = "USER_STATE_INITIAL",
    }
}

proto_enum! {
    pub enum UserType {
        Unspecified = "TYPE_UNSPECIFIED",
        Human = "TYPE_HUMAN",
        Machine = "TYPE_MACHINE",
    }
}

proto_enum! {
    pub enum UserFieldName {
        Unspecified = "USER_FIELD_NAME_UNSPECIFIED",
        UserName = "USER_FIELD_NAME_USER_NAME",
        FirstName = "USER_FIELD_NAME_FIRST_NAME",
        LastName = "USER_FIELD_NAME_LAST_NAME",
        NickName = "USER_FIELD_NAME_NICK_NAME",
        DisplayName = "USER_FIELD_NAME_DISPLAY_NAME",
        Email = "USER_FIELD_NAME_EMAIL",
        State = "USER_FIELD_NAME_STATE",
        Type = "USER_FIELD_NAME_TYPE",
        CreationDate = "USER_FIELD_NAME_CREATION_DATE",
    }
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HumanProfile {
    pub given_name: String,
    pub family_name: String,
    pub nick_name: Option<String>,
    pub display_name: Option<String>,
    pub preferred_language: Option<String>,
    pub gender: Option<Gender>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HumanEmail {
    pub email: String,
    pub is_verified: bool,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HumanPhone {
    pub phone: String,
    pub is_verified: bool,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HumanUser {
    pub profile: Option<HumanProfile>,
    pub email: Option<HumanEmail>,
    pub phone: Option<HumanPhone>,
    pub password_change_required: bool,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MachineUser {
    pub name: String,
    pub description: String,
    pub has_secret: bool,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct User {
    pub user_id: String,
    pub details: Option<ObjectDetails>,
    pub state: UserState,
    pub username: String,
    pub login_names: Vec<String>,
    pub preferred_login_name: String,
    pub human: Option<HumanUser>,
    pub machine: Option<MachineUser>,
}

impl User {
    /// The organization the user belongs to.
    pub fn org_id(&self) -> Option<&str> {
        self.details.as_ref()?.resource_owner.as_deref()
    }
}

/// One criterion of `ListUsers` (a oneof). Combine with `And`/`Or`/`Not`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum UserQuery {
    #[serde(rename_all = "camelCase")]
    UserNameQuery {
        user_name: String,
        method: TextQueryMethod,
    },
    #[serde(rename_all = "camelCase")]
    EmailQuery {
        email_address: String,
        method: TextQueryMethod,
    },
    #[serde(rename_all = "camelCase")]
    LoginNameQuery {
        login_name: String,
        method: TextQueryMethod,
    },
    #[serde(rename_all = "camelCase")]
    InUserIdsQuery {
        user_ids: Vec<String>,
    },
    #[serde(rename_all = "camelCase")]
    OrganizationIdQuery {
        organization_id: String,
    },
    StateQuery {
        state: UserState,
    },
    TypeQuery {
        #[serde(rename = "type")]
        user_type: UserType,
    },
    AndQuery {
        queries: Vec<UserQuery>,
    },
    OrQuery {
        queries: Vec<UserQuery>,
    },
    NotQuery {
        query: Box<UserQuery>,
    },
}

/// `POST /v2/users`.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListUsersRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query: Option<ListQuery>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sorting_column: Option<UserFieldName>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub queries: Vec<UserQuery>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ListUsersResponse {
    pub details: Option<ListDetails>,
    pub result: Vec<User>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct GetUserResponse {
    user: Option<User>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct DetailsResponse {
    details: Option<ObjectDetails>,
}

impl ZitadelClient {
    pub async fn create_human_user(
        &self,
        request: &AddHumanUserRequest,
    ) -> Result<AddHumanUserResponse> {
        const OP: &str = "create_human_user";
        let response: AddHumanUserResponse = self
            .call(Call::post(OP, "/v2/users/human".into(), request)?)
            .await?;
        if response.user_id.is_empty() {
            return Err(ZitadelError::Decode {
                op: OP,
                message: "no userId in the answer".into(),
            });
        }
        if let Some(OrganizationRef::OrgId(org_id)) = &request.organization {
            Self::ensure_owner(
                OP,
                org_id,
                response.details.as_ref(),
                Some(&response.user_id),
            )?;
        }
        Ok(response)
    }

    /// Sets a user's password (as an administrator, without the current one).
    pub async fn set_password(
        &self,
        user_id: &str,
        request: &SetPasswordRequest,
    ) -> Result<ObjectDetails> {
        const OP: &str = "set_password";
        let path = format!("/v2/users/{}/password", segment(OP, "user id", user_id)?);
        // Setting the same password twice is harmless, so a lost answer may be retried.
        let call = Call::post(OP, path, request)?.idempotent();
        let response: DetailsResponse = self.call(call).await?;
        Ok(response.details.unwrap_or_default())
    }

    pub async fn list_users(&self, request: &ListUsersRequest) -> Result<ListUsersResponse> {
        self.call(Call::search("list_users", "/v2/users".into(), request)?)
            .await
    }

    /// The user of `org_id` whose login name is `username` (ignoring case), if any.
    pub async fn find_user_by_username(
        &self,
        org_id: &str,
        username: &str,
    ) -> Result<Option<User>> {
        let found = self
            .list_users(&ListUsersRequest {
                query: Some(ListQuery::limit(10)),
                queries: vec![UserQuery::AndQuery {
                    queries: vec![
                        UserQuery::UserNameQuery {
                            user_name: username.into(),
                            method: TextQueryMethod::EqualsIgnoreCase,
                        },
                        UserQuery::OrganizationIdQuery {
                            organization_id: org_id.into(),
                        },
                    ],
                }],
                ..Default::default()
            })
            .await?;
        // The name query may match more loosely on some versions: check the match here.
        Ok(found
            .result
            .into_iter()
            .find(|user| user.username.eq_ignore_ascii_case(username)))
    }

    /// The user, or `None` if it does not exist.
    pub async fn get_user(&self, user_id: &str) -> Result<Option<User>> {
        const OP: &str = "get_user";
        let path = format!("/v2/users/{}", segment(OP, "user id", user_id)?);
        match self.call::<GetUserResponse>(Call::get(OP, path)).await {
            Ok(response) => Ok(response.user.filter(|user| !user.user_id.is_empty())),
            Err(err) if err.is_not_found() => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// `false` if the user did not exist.
    pub async fn delete_user(&self, user_id: &str) -> Result<bool> {
        const OP: &str = "delete_user";
        let path = format!("/v2/users/{}", segment(OP, "user id", user_id)?);
        self.delete_call(Call::delete(OP, path)).await
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn add_human_user_body() {
        let request = AddHumanUserRequest {
            username: Some("ada".into()),
            organization: Some(OrganizationRef::OrgId("1".into())),
            profile: SetHumanProfile {
                given_name: "Ada".into(),
                family_name: "Lovelace".into(),
                ..Default::default()
            },
            email: SetHumanEmail {
                email: "ada@example.com".into(),
                is_verified: Some(true),
                ..Default::default()
            },
            password: Some(Password {
                password: Secret::new("Secr3t!pass"),
                change_required: false,
            }),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_value(&request).unwrap(),
            json!({
                "username": "ada",
                "organization": {"orgId": "1"},
                "profile": {"givenName": "Ada", "familyName": "Lovelace"},
                "email": {"email": "ada@example.com", "isVerified": true},
                "password": {"password": "Secr3t!pass", "changeRequired": false}
            })
        );
        assert!(!format!("{request:?}").contains("Secr3t"));
    }

    #[test]
    fn nested_user_queries() {
        let request = ListUsersRequest {
            queries: vec![UserQuery::AndQuery {
                queries: vec![
                    UserQuery::OrganizationIdQuery {
                        organization_id: "1".into(),
                    },
                    UserQuery::TypeQuery {
                        user_type: UserType::Human,
                    },
                    UserQuery::NotQuery {
                        query: Box::new(UserQuery::StateQuery {
                            state: UserState::Locked,
                        }),
                    },
                ],
            }],
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_value(&request).unwrap(),
            json!({"queries": [{"andQuery": {"queries": [
                {"organizationIdQuery": {"organizationId": "1"}},
                {"typeQuery": {"type": "TYPE_HUMAN"}},
                {"notQuery": {"query": {"stateQuery": {"state": "USER_STATE_LOCKED"}}}}
            ]}}]})
        );
    }

    #[test]
    fn user_response() {
        let user: User = serde_json::from_value(json!({
            "userId": "3",
            "details": {"resourceOwner": "1", "sequence": "4"},
            "state": "USER_STATE_ACTIVE",
            "username": "ada",
            "loginNames": ["ada@acme.example"],
            "preferredLoginName": "ada@acme.example",
            "human": {
                "profile": {"givenName": "Ada", "familyName": "Lovelace", "displayName": "Ada Lovelace"},
                "email": {"email": "ada@example.com", "isVerified": true},
                "passwordChanged": "2025-01-23T10:34:18.051Z"
            }
        }))
        .unwrap();
        assert_eq!(user.org_id(), Some("1"));
        assert_eq!(user.state, UserState::Active);
        assert!(user.human.unwrap().email.unwrap().is_verified);
    }
}
