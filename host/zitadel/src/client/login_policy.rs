//! An organization's login policy (management v1, `x-zitadel-orgid`).
//!
//! IdPs appear on the login page only once linked to the organization's login policy, and an
//! organization needs a *custom* policy before anything can be linked: without one, linking
//! fails with 404 `Errors.Org.LoginPolicy.NotFound`. A new custom policy does not carry the
//! IdPs linked to the instance default (zitadel/zitadel#4552); re-link those explicitly.

use serde::{Deserialize, Serialize};

use super::{
    Call, ListQuery, ObjectDetails, ProtoDuration, Result, Updated, ZitadelClient, segment,
    wire::proto_enum,
};

proto_enum! {
    pub enum PasswordlessType default NotAllowed {
        NotAllowed = "PASSWORDLESS_TYPE_NOT_ALLOWED",
        Allowed = "PASSWORDLESS_TYPE_ALLOWED",
    }
}

proto_enum! {
    pub enum SecondFactorType {
        Unspecified = "SECOND_FACTOR_TYPE_UNSPECIFIED",
        Otp = "SECOND_FACTOR_TYPE_OTP",
        U2f = "SECOND_FACTOR_TYPE_U2F",
        OtpEmail = "SECOND_FACTOR_TYPE_OTP_EMAIL",
        OtpSms = "SECOND_FACTOR_TYPE_OTP_SMS",
    }
}

proto_enum! {
    pub enum MultiFactorType {
        Unspecified = "MULTI_FACTOR_TYPE_UNSPECIFIED",
        U2fWithVerification = "MULTI_FACTOR_TYPE_U2F_WITH_VERIFICATION",
    }
}

proto_enum! {
    /// Whose IdP a login-policy link points at.
    pub enum IdpOwnerType default Unspecified {
        Unspecified = "IDP_OWNER_TYPE_UNSPECIFIED",
        /// An instance-level IdP.
        System = "IDP_OWNER_TYPE_SYSTEM",
        /// An IdP of the organization itself.
        Org = "IDP_OWNER_TYPE_ORG",
    }
}

/// The settings of a login policy, as sent to create or update a custom one.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LoginPolicySettings {
    pub allow_username_password: bool,
    pub allow_register: bool,
    pub allow_external_idp: bool,
    pub force_mfa: bool,
    pub passwordless_type: PasswordlessType,
    pub hide_password_reset: bool,
    pub ignore_unknown_usernames: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub default_redirect_uri: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password_check_lifetime: Option<ProtoDuration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_login_check_lifetime: Option<ProtoDuration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mfa_init_skip_lifetime: Option<ProtoDuration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub second_factor_check_lifetime: Option<ProtoDuration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub multi_factor_check_lifetime: Option<ProtoDuration>,
    pub allow_domain_discovery: bool,
    pub disable_login_with_email: bool,
    pub disable_login_with_phone: bool,
    pub force_mfa_local_only: bool,
}

/// `POST /management/v1/policies/login`.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AddCustomLoginPolicyRequest {
    #[serde(flatten)]
    pub settings: LoginPolicySettings,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub second_factors: Vec<SecondFactorType>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub multi_factors: Vec<MultiFactorType>,
    /// IdPs linked right away.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub idps: Vec<LoginPolicyIdp>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoginPolicyIdp {
    pub idp_id: String,
    pub owner_type: IdpOwnerType,
}

/// The effective login policy of an organization (its own, or the instance default).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LoginPolicy {
    pub details: Option<ObjectDetails>,
    #[serde(flatten)]
    pub settings: LoginPolicySettings,
    pub second_factors: Vec<SecondFactorType>,
    pub multi_factors: Vec<MultiFactorType>,
    pub idps: Vec<LoginPolicyIdpLink>,
    /// `true`: the organization has no custom policy and inherits the instance default.
    pub is_default: bool,
}

impl LoginPolicy {
    pub fn has_idp(&self, idp_id: &str) -> bool {
        self.idps.iter().any(|link| link.idp_id == idp_id)
    }
}

/// An IdP linked to a login policy.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LoginPolicyIdpLink {
    pub idp_id: String,
    pub idp_name: String,
    /// Kept as text: ZITADEL reports legacy types here (`IDP_TYPE_OIDC`, …).
    pub idp_type: Option<String>,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct GetLoginPolicyResponse {
    policy: LoginPolicy,
    is_default: Option<bool>,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct DetailsResponse {
    details: Option<ObjectDetails>,
}

#[derive(Serialize)]
struct ListBody {
    query: ListQuery,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct ListLinksResponse {
    result: Vec<LoginPolicyIdpLink>,
}

impl ZitadelClient {
    /// The organization's effective login policy; `is_default` tells whether it is inherited.
    pub async fn get_login_policy(&self, org_id: &str) -> Result<LoginPolicy> {
        let call =
            Call::get("get_login_policy", "/management/v1/policies/login".into()).in_org(org_id)?;
        let response: GetLoginPolicyResponse = self.call(call).await?;
        let mut policy = response.policy;
        // The flag sits on the response in current versions and on the policy in older ones.
        policy.is_default = response.is_default.unwrap_or(policy.is_default);
        if !policy.is_default {
            Self::ensure_owner("get_login_policy", org_id, policy.details.as_ref(), None)?;
        }
        Ok(policy)
    }

    /// Gives the organization its own login policy.
    pub async fn add_custom_login_policy(
        &self,
        org_id: &str,
        request: &AddCustomLoginPolicyRequest,
    ) -> Result<ObjectDetails> {
        let call = Call::post(
            "add_custom_login_policy",
            "/management/v1/policies/login".into(),
            request,
        )?
        .in_org(org_id)?;
        let response: DetailsResponse = self.call(call).await?;
        Self::ensure_owner(
            "add_custom_login_policy",
            org_id,
            response.details.as_ref(),
            None,
        )?;
        Ok(response.details.unwrap_or_default())
    }

    /// Makes sure the organization has a custom login policy, creating one from the current
    /// (inherited) settings if needed. Returns `Applied` if it created one.
    pub async fn ensure_custom_login_policy(&self, org_id: &str) -> Result<Updated> {
        let current = self.get_login_policy(org_id).await?;
        if !current.is_default {
            return Ok(Updated::Unchanged);
        }
        let request = AddCustomLoginPolicyRequest {
            settings: current.settings,
            second_factors: current.second_factors,
            multi_factors: current.multi_factors,
            idps: Vec::new(),
        };
        match self.add_custom_login_policy(org_id, &request).await {
            Ok(_) => Ok(Updated::Applied),
            // Created concurrently, or the read above lagged.
            Err(err) if err.is_already_exists() => Ok(Updated::Unchanged),
            Err(err) => Err(err),
        }
    }

    /// `PUT /management/v1/policies/login`: replaces the custom policy's settings.
    pub async fn update_custom_login_policy(
        &self,
        org_id: &str,
        settings: &LoginPolicySettings,
    ) -> Result<Updated> {
        let call = Call::put(
            "update_custom_login_policy",
            "/management/v1/policies/login".into(),
            settings,
        )?
        .in_org(org_id)?;
        match self.call::<DetailsResponse>(call).await {
            Ok(response) => {
                Self::ensure_owner(
                    "update_custom_login_policy",
                    org_id,
                    response.details.as_ref(),
                    None,
                )?;
                Ok(Updated::Applied)
            }
            Err(err) if err.is_no_changes() => Ok(Updated::Unchanged),
            Err(err) => Err(err),
        }
    }

    /// Drops the custom policy; the organization inherits the default again. `false` if it had
    /// none.
    pub async fn reset_login_policy(&self, org_id: &str) -> Result<bool> {
        let call = Call::delete("reset_login_policy", "/management/v1/policies/login".into())
            .in_org(org_id)?;
        self.delete_call(call).await
    }

    /// Links an IdP to the organization's custom login policy. Fails with NotFound
    /// (`Errors.Org.LoginPolicy.NotFound`) if the organization has no custom policy; an
    /// existing link is `Unchanged`.
    pub async fn add_idp_to_login_policy(
        &self,
        org_id: &str,
        idp_id: &str,
        owner_type: IdpOwnerType,
    ) -> Result<Updated> {
        segment("add_idp_to_login_policy", "idp id", idp_id)?;
        let body = LoginPolicyIdp {
            idp_id: idp_id.into(),
            owner_type,
        };
        let call = Call::post(
            "add_idp_to_login_policy",
            "/management/v1/policies/login/idps".into(),
            &body,
        )?
        .in_org(org_id)?;
        match self.call::<DetailsResponse>(call).await {
            Ok(response) => {
                Self::ensure_owner(
                    "add_idp_to_login_policy",
                    org_id,
                    response.details.as_ref(),
                    None,
                )?;
                Ok(Updated::Applied)
            }
            Err(err) if err.is_already_exists() => Ok(Updated::Unchanged),
            Err(err) => Err(err),
        }
    }

    /// Unlinks an IdP. `false` if it was not linked.
    pub async fn remove_idp_from_login_policy(&self, org_id: &str, idp_id: &str) -> Result<bool> {
        let path = format!(
            "/management/v1/policies/login/idps/{}",
            segment("remove_idp_from_login_policy", "idp id", idp_id)?
        );
        let call = Call::delete("remove_idp_from_login_policy", path).in_org(org_id)?;
        self.delete_call(call).await
    }

    /// The IdPs linked to the organization's login policy.
    pub async fn list_login_policy_idps(&self, org_id: &str) -> Result<Vec<LoginPolicyIdpLink>> {
        let call = Call::search(
            "list_login_policy_idps",
            "/management/v1/policies/login/idps/_search".into(),
            &ListBody {
                query: ListQuery::limit(1000),
            },
        )?
        .in_org(org_id)?;
        let response: ListLinksResponse = self.call(call).await?;
        Ok(response.result)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn custom_policy_request_is_flat_protojson() {
        let request = AddCustomLoginPolicyRequest {
            settings: LoginPolicySettings {
                allow_username_password: true,
                allow_external_idp: true,
                passwordless_type: PasswordlessType::Allowed,
                password_check_lifetime: Some(ProtoDuration::from_secs(864_000)),
                ..Default::default()
            },
            idps: vec![LoginPolicyIdp {
                idp_id: "7".into(),
                owner_type: IdpOwnerType::Org,
            }],
            ..Default::default()
        };
        let body = serde_json::to_value(&request).unwrap();
        assert_eq!(body["allowUsernamePassword"], json!(true));
        assert_eq!(body["passwordlessType"], json!("PASSWORDLESS_TYPE_ALLOWED"));
        assert_eq!(body["passwordCheckLifetime"], json!("864000s"));
        assert_eq!(
            body["idps"],
            json!([{"idpId": "7", "ownerType": "IDP_OWNER_TYPE_ORG"}])
        );
        assert!(body.get("defaultRedirectUri").is_none());
        assert!(body.get("settings").is_none());
    }

    #[test]
    fn policy_response_reads_both_is_default_placements() {
        let response: GetLoginPolicyResponse = serde_json::from_value(json!({
            "policy": {
                "allowUsernamePassword": true,
                "isDefault": true,
                "idps": [{"idpId": "1", "idpName": "Google", "idpType": "IDP_TYPE_OIDC"}],
                "secondFactors": ["SECOND_FACTOR_TYPE_OTP"],
                "passwordCheckLifetime": "864000s"
            }
        }))
        .unwrap();
        assert!(response.policy.is_default);
        assert_eq!(
            response.policy.settings.password_check_lifetime,
            Some(ProtoDuration::from_secs(864_000))
        );
        assert!(response.policy.has_idp("1"));
        assert!(!response.policy.has_idp("2"));
    }
}
