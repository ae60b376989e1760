//! The OpenAPI 3.1 document, generated from the handlers' annotations. Standard error
//! responses are added to every operation here, so the document lists every status a client
//! can get without repeating them on each handler.

use utoipa::{
    Modify, OpenApi,
    openapi::{
        self, RefOr, ResponseBuilder,
        security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
    },
};

use crate::error::ErrorBody;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Gatehouse API",
        description = "Admin API of Gatehouse, a self-hosted identity control plane in front of ZITADEL. \
                       Authenticate with `Authorization: Bearer <API key>`. Errors use \
                       `{\"error\":{\"code\",\"message\",\"field\"}}`. POSTs accept `Idempotency-Key`.",
        license(name = "Apache-2.0")
    ),
    components(schemas(ErrorBody)),
    modifiers(&Security),
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API key (`ghk_…`) or the bootstrap credential."))
                    .build(),
            ),
        );
    }
}

/// Adds the error responses each operation can produce, and bearer security to `/v1` routes.
pub fn finish(mut doc: openapi::OpenApi) -> openapi::OpenApi {
    doc.openapi = openapi::OpenApiVersion::Version31;
    let error = |description: &str| -> RefOr<openapi::Response> {
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                openapi::content::ContentBuilder::new()
                    .schema(Some(openapi::Ref::from_schema_name("ErrorBody")))
                    .build(),
            )
            .build()
            .into()
    };
    let bearer = openapi::security::SecurityRequirement::new("bearer", Vec::<String>::new());
    for (path, item) in doc.paths.paths.iter_mut() {
        let authenticated = path.starts_with("/v1/") && path != "/v1/openapi.json";
        let has_params = path.contains('{');
        for (method, op) in [
            ("get", item.get.as_mut()),
            ("post", item.post.as_mut()),
            ("put", item.put.as_mut()),
            ("patch", item.patch.as_mut()),
            ("delete", item.delete.as_mut()),
        ] {
            let Some(op) = op else { continue };
            let mut add = |code: &str, description: &str| {
                op.responses
                    .responses
                    .entry(code.to_owned())
                    .or_insert_with(|| error(description));
            };
            if authenticated {
                add("401", "Missing, invalid or revoked credentials");
                add("403", "The credential may not perform this operation");
                add(
                    "422",
                    "Invalid input; `error.field` names the offending field or parameter",
                );
            }
            if has_params {
                add("404", "Not found (or owned by another tenant)");
            }
            if matches!(method, "post" | "patch" | "put") && authenticated {
                add("400", "Malformed JSON");
                add(
                    "409",
                    "Conflict with existing state (e.g. duplicate slug, reused Idempotency-Key)",
                );
                add("413", "Request body too large");
                add("415", "Body is not application/json");
            }
            add(
                "500",
                "Internal error (opaque; quote the x-request-id header)",
            );
            add("503", "A dependency is unavailable; retry");
            if authenticated {
                op.security = Some(vec![bearer.clone()]);
            }
        }
    }
    doc
}
