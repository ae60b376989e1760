//! A small Swagger 2.0 validator for the merged ZITADEL document: resolves `$ref`, checks
//! types, required properties, enum values, 64-bit integers as strings, and that no undeclared
//! property appears.

use std::sync::OnceLock;

use serde_json::Value;

pub struct Swagger {
    doc: Value,
}

/// `required` markers that are generator artifacts of proto oneofs (see SOURCE.md / the
/// reference): the oneof members are alternatives, not all required.
const ONEOF_ARTIFACTS: &[&str] = &["userv2UserServiceSetPasswordBody"];

/// Lossy path+method collisions in the merged document: the management twin survives only as
/// `zitadelmanagementv1…` definitions (or another named definition).
const FALLBACKS: &[(&str, &str, Option<&str>, Option<&str>)] = &[
    (
        "POST",
        "/management/v1/idps/google",
        Some("zitadelmanagementv1AddGoogleProviderRequest"),
        Some("zitadelmanagementv1AddGoogleProviderResponse"),
    ),
    (
        "POST",
        "/management/v1/idps/github",
        Some("zitadelmanagementv1AddGitHubProviderRequest"),
        Some("zitadelmanagementv1AddGitHubProviderResponse"),
    ),
    (
        "POST",
        "/management/v1/idps/azure",
        Some("zitadelmanagementv1AddAzureADProviderRequest"),
        Some("zitadelmanagementv1AddAzureADProviderResponse"),
    ),
    (
        "POST",
        "/management/v1/idps/generic_oidc",
        Some("zitadelmanagementv1AddGenericOIDCProviderRequest"),
        Some("zitadelmanagementv1AddGenericOIDCProviderResponse"),
    ),
    (
        "POST",
        "/management/v1/idps/templates/_search",
        Some("zitadelmanagementv1ListProvidersRequest"),
        Some("zitadelmanagementv1ListProvidersResponse"),
    ),
    (
        "POST",
        "/management/v1/policies/login/idps",
        Some("zitadelmanagementv1AddIDPToLoginPolicyRequest"),
        Some("zitadelmanagementv1AddIDPToLoginPolicyResponse"),
    ),
    (
        "POST",
        "/management/v1/policies/login/idps/_search",
        Some("zitadelmanagementv1ListLoginPolicyIDPsRequest"),
        Some("zitadelmanagementv1ListLoginPolicyIDPsResponse"),
    ),
    (
        "GET",
        "/management/v1/policies/login",
        None,
        Some("zitadelmanagementv1GetLoginPolicyResponse"),
    ),
    (
        "PUT",
        "/management/v1/policies/login",
        Some("v1UpdateCustomLoginPolicyRequest"),
        Some("v1UpdateCustomLoginPolicyResponse"),
    ),
];

pub fn swagger() -> &'static Swagger {
    static DOC: OnceLock<Swagger> = OnceLock::new();
    DOC.get_or_init(|| {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/zitadel-openapi/apidocs.swagger.json");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "the ZITADEL swagger is needed for the contract tests but cannot be read at {} ({e}); \
                 it lives in the project's shared folder (shared/zitadel-openapi/apidocs.swagger.json)",
                path.display()
            )
        });
        let doc: Value = serde_json::from_str(&text).expect("apidocs.swagger.json is valid JSON");
        Swagger { doc }
    })
}

/// Which service a real path belongs to, and the path as the merged document spells it.
fn split_service(path: &str) -> (&'static str, &str) {
    if let Some(rest) = path.strip_prefix("/management/v1") {
        ("ManagementService_", rest)
    } else if let Some(rest) = path.strip_prefix("/admin/v1") {
        ("AdminService_", rest)
    } else {
        ("", path)
    }
}

fn template_matches(template: &str, path: &str) -> bool {
    let t: Vec<&str> = template.split('/').collect();
    let p: Vec<&str> = path.split('/').collect();
    t.len() == p.len()
        && t.iter()
            .zip(&p)
            .all(|(a, b)| (a.starts_with('{') && a.ends_with('}') && !b.is_empty()) || a == b)
}

pub enum Schemas {
    /// Request and response schemas (request `None` when the operation has no body).
    Found {
        request: Option<Value>,
        response: Value,
    },
}

impl Swagger {
    fn def(&self, name: &str) -> Value {
        let d = &self.doc["definitions"][name];
        assert!(!d.is_null(), "definition {name} missing from the swagger");
        serde_json::json!({"$ref": format!("#/definitions/{name}")})
    }

    /// The request/response schemas of the operation serving `method path`.
    pub fn schemas(&self, method: &str, path: &str) -> Schemas {
        let path = path.split('?').next().unwrap_or(path);
        for (m, p, req, resp) in FALLBACKS {
            if *m == method && *p == path {
                return Schemas::Found {
                    request: req.map(|r| self.def(r)),
                    response: self.def(resp.expect("fallback response")),
                };
            }
        }
        let (service, doc_path) = split_service(path);
        let paths = self.doc["paths"].as_object().expect("paths");
        // Candidates by path template; prefer a static match, then the operation of the
        // path's own service (collisions left suffixed twins such as `{id_1}`).
        let mut candidates: Vec<(bool, Value)> = paths
            .iter()
            .filter(|(template, _)| template_matches(template, doc_path))
            .filter_map(|(template, ops)| {
                ops.get(method.to_lowercase())
                    .map(|op| (template == doc_path, op.clone()))
            })
            .collect();
        assert!(
            !candidates.is_empty(),
            "no swagger operation for {method} {path}"
        );
        candidates.sort_by_key(|(exact, op)| {
            let own = op["operationId"]
                .as_str()
                .unwrap_or_default()
                .starts_with(service);
            (!*exact, !own)
        });
        let op = candidates.swap_remove(0).1;
        let op_id = op["operationId"].as_str().unwrap_or_default();
        assert!(
            op_id.starts_with(service),
            "{method} {path} resolves to {op_id} (lossy collision); add a fallback definition"
        );
        let request = op["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p["in"] == "body")
            .map(|p| p["schema"].clone());
        let response = op["responses"]["200"]["schema"].clone();
        assert!(!response.is_null(), "{op_id} has no 200 schema");
        Schemas::Found { request, response }
    }

    fn resolve<'a>(&'a self, schema: &'a Value) -> &'a Value {
        let mut s = schema;
        while let Some(r) = s.get("$ref").and_then(Value::as_str) {
            let name = r.trim_start_matches("#/definitions/");
            s = &self.doc["definitions"][name];
            assert!(!s.is_null(), "unresolvable $ref {r}");
        }
        s
    }

    fn def_name(schema: &Value) -> Option<&str> {
        schema
            .get("$ref")
            .and_then(Value::as_str)
            .map(|r| r.trim_start_matches("#/definitions/"))
    }

    /// Validates `value` against `schema`; returns every violation with its JSON path.
    pub fn validate(&self, schema: &Value, value: &Value) -> Vec<String> {
        let mut errors = Vec::new();
        self.check(schema, value, "$", &mut errors);
        errors
    }

    fn check(&self, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
        let name = Self::def_name(schema).map(str::to_owned);
        let s = self.resolve(schema);
        if let Some(all) = s.get("allOf").and_then(Value::as_array) {
            for sub in all {
                self.check(sub, value, at, errors);
            }
            return;
        }
        let ty = s.get("type").and_then(Value::as_str);
        let format = s.get("format").and_then(Value::as_str);
        let is_object = ty == Some("object")
            || (ty.is_none()
                && (s.get("properties").is_some() || s.get("additionalProperties").is_some()));
        if is_object {
            {
                let Some(obj) = value.as_object() else {
                    errors.push(format!("{at}: expected object, got {value}"));
                    return;
                };
                let props = s.get("properties").and_then(Value::as_object);
                let additional = s.get("additionalProperties");
                for (k, v) in obj {
                    match props.and_then(|p| p.get(k)) {
                        Some(p) => self.check(p, v, &format!("{at}.{k}"), errors),
                        None => match additional {
                            Some(a) if a.is_object() => {
                                self.check(a, v, &format!("{at}.{k}"), errors)
                            }
                            Some(Value::Bool(true)) => {}
                            // Free-form objects (google.protobuf.Struct) declare nothing.
                            _ if props.is_none() => {}
                            _ => errors.push(format!(
                                "{at}.{k}: property not declared in {}",
                                name.as_deref().unwrap_or("schema")
                            )),
                        },
                    }
                }
                let artifact = name
                    .as_deref()
                    .is_some_and(|n| ONEOF_ARTIFACTS.contains(&n));
                if !artifact && let Some(req) = s.get("required").and_then(Value::as_array) {
                    for r in req.iter().filter_map(Value::as_str) {
                        if !obj.contains_key(r) {
                            errors.push(format!("{at}: required property `{r}` missing"));
                        }
                    }
                }
            }
            return;
        }
        match ty {
            Some("array") => {
                let Some(items) = value.as_array() else {
                    errors.push(format!("{at}: expected array, got {value}"));
                    return;
                };
                for (i, item) in items.iter().enumerate() {
                    self.check(&s["items"], item, &format!("{at}[{i}]"), errors);
                }
            }
            Some("string") => {
                let Some(text) = value.as_str() else {
                    let hint = if matches!(format, Some("int64" | "uint64")) {
                        " (64-bit integers are strings in protojson)"
                    } else {
                        ""
                    };
                    errors.push(format!("{at}: expected string{hint}, got {value}"));
                    return;
                };
                if let Some(options) = s.get("enum").and_then(Value::as_array)
                    && !options.iter().any(|o| o.as_str() == Some(text))
                {
                    errors.push(format!("{at}: `{text}` is not one of the enum values"));
                }
                let valid = match format {
                    Some("int64" | "uint64") => {
                        let digits = text.strip_prefix('-').unwrap_or(text);
                        !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit())
                    }
                    Some("date-time") => time::OffsetDateTime::parse(
                        text,
                        &time::format_description::well_known::Rfc3339,
                    )
                    .is_ok(),
                    Some("byte") => {
                        use base64::Engine;
                        base64::engine::general_purpose::STANDARD
                            .decode(text)
                            .is_ok()
                    }
                    _ => true,
                };
                if !valid {
                    errors.push(format!(
                        "{at}: `{text}` is not a valid {}",
                        format.unwrap_or("value")
                    ));
                }
            }
            Some(scalar @ ("integer" | "number" | "boolean")) => {
                let valid = match scalar {
                    "integer" => value.is_i64() || value.is_u64(),
                    "number" => value.is_number(),
                    _ => value.is_boolean(),
                };
                if !valid {
                    errors.push(format!("{at}: expected {scalar}, got {value}"));
                }
            }
            _ => {}
        }
    }
}

/// The `rpcStatus` shape of REST errors, with ZITADEL's `ErrorDetail`.
pub fn check_error_body(body: &Value) -> Vec<String> {
    let mut errors = swagger().validate(
        &serde_json::json!({"$ref": "#/definitions/rpcStatus"}),
        body,
    );
    if !body["code"].is_i64() {
        errors.push("error code must be an integer".into());
    }
    for d in body["details"].as_array().into_iter().flatten() {
        if d["@type"] != "type.googleapis.com/zitadel.v1.ErrorDetail" {
            errors.push(format!("unexpected detail type {}", d["@type"]));
        }
        let id = d["id"].as_str().unwrap_or_default();
        if id.is_empty()
            || !body["message"]
                .as_str()
                .unwrap_or_default()
                .ends_with(&format!("({id})"))
        {
            errors.push(format!("message must end with the detail id: {body}"));
        }
    }
    errors
}

#[test]
fn validator_catches_what_it_must() {
    let sw = swagger();
    let details = serde_json::json!({"$ref": "#/definitions/v1ObjectDetails"});
    assert!(
        sw.validate(
            &details,
            &serde_json::json!({"sequence": "2", "creationDate": "2025-01-23T10:34:18.051Z"})
        )
        .is_empty()
    );
    // uint64 as a number, an undeclared property, a bad timestamp.
    assert_eq!(
        sw.validate(&details, &serde_json::json!({"sequence": 2}))
            .len(),
        1
    );
    assert_eq!(
        sw.validate(&details, &serde_json::json!({"extra": 1}))
            .len(),
        1
    );
    assert_eq!(
        sw.validate(&details, &serde_json::json!({"changeDate": "yesterday"}))
            .len(),
        1
    );
    // Enum values and required properties.
    let org = serde_json::json!({"$ref": "#/definitions/orgv1Org"});
    assert_eq!(
        sw.validate(&org, &serde_json::json!({"state": "ACTIVE"}))
            .len(),
        1
    );
    let add = serde_json::json!({"$ref": "#/definitions/v1AddOrgRequest"});
    assert_eq!(sw.validate(&add, &serde_json::json!({})).len(), 1);
    // Operation lookup by path + method, with fallbacks for collisions.
    assert!(matches!(
        sw.schemas("POST", "/management/v1/orgs"),
        Schemas::Found {
            request: Some(_),
            ..
        }
    ));
    assert!(matches!(
        sw.schemas("POST", "/management/v1/idps/google"),
        Schemas::Found {
            request: Some(_),
            ..
        }
    ));
    assert!(matches!(
        sw.schemas("GET", "/v2/users/123"),
        Schemas::Found { request: None, .. }
    ));
}
