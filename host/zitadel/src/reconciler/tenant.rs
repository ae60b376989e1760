//! Tenant → organization (with a custom login policy).
//!
//! Organizations are created with a caller-chosen id (the tenant id), so a create whose answer
//! was lost is recognised by its id on the next attempt instead of producing a second
//! organization. Organization names are unique in a ZITADEL instance while tenant names are
//! not: when the tenant's name is taken by another organization, the name gets the tenant's
//! (unique) slug appended.

use gatehouse_core::{
    id::TenantId,
    tenant::{Tenant, TenantStatus},
};

use super::{
    failure::SyncError,
    job::{Job, Outcome},
};
use crate::client::{
    AddOrganizationRequest, Organization, OrganizationState, Updated, ZitadelError,
};

/// ZITADEL's limit on organization names.
const MAX_NAME_CHARS: usize = 200;

/// The organization id Gatehouse asks ZITADEL to use for a tenant.
pub fn org_id_for(tenant: &TenantId) -> String {
    tenant.as_str().to_owned()
}

/// The organization names for a tenant: its name, and the fallback when another
/// organization already has that name (`"Acme (acme-eu)"`).
pub fn org_names(tenant: &Tenant) -> [String; 2] {
    let suffix = format!(" ({})", tenant.slug);
    let room = MAX_NAME_CHARS.saturating_sub(suffix.chars().count());
    let base: String = tenant.name.chars().take(room).collect();
    [tenant.name.clone(), format!("{}{suffix}", base.trim_end())]
}

pub async fn sync(job: &mut Job) -> Result<Outcome, SyncError> {
    let id = TenantId::from_stored(job.record.id.clone());
    let tenant = match job.record.desired {
        gatehouse_core::sync::Desired::Present => job
            .inner
            .store
            .get_tenant(&id)
            .await
            .map_err(|e| SyncError::store("reading the tenant", e))?,
        gatehouse_core::sync::Desired::Absent => None,
    };
    match tenant {
        Some(tenant) => upsert(job, &tenant).await,
        None => remove(job, &id).await,
    }
}

async fn remove(job: &mut Job, id: &TenantId) -> Result<Outcome, SyncError> {
    const STEP: &str = "deleting the organization";
    let client = job.inner.client.clone();
    // Also the chosen id: a create whose answer was lost may have left an organization there.
    let mut candidates = vec![org_id_for(id)];
    if let Some(recorded) = job.id("org_id")
        && !candidates.contains(&recorded)
    {
        candidates.insert(0, recorded);
    }
    for org_id in candidates {
        client
            .delete_org(&org_id)
            .await
            .map_err(|e| SyncError::zitadel(STEP, e))?;
    }
    Ok(Outcome::Removed)
}

async fn upsert(job: &mut Job, tenant: &Tenant) -> Result<Outcome, SyncError> {
    let client = job.inner.client.clone();
    let names = org_names(tenant);
    // Keep the fallback name once it was needed (the plain name is still taken).
    let wanted = if job.id("org_name").as_deref() == Some(names[1].as_str()) {
        names[1].clone()
    } else {
        names[0].clone()
    };

    let recorded = job.id("org_id");
    let lookup = recorded.clone().unwrap_or_else(|| org_id_for(&tenant.id));
    let existing = client
        .get_org(&lookup)
        .await
        .map_err(|e| SyncError::zitadel("reading the organization", e))?;
    let org = match existing {
        Some(org) => org,
        None => {
            let recreate = recorded.is_some();
            if recreate {
                job.missing("reading the organization", "the organization")?;
                job.drift("the organization was deleted").await?;
            }
            let org = create(job, tenant, &names, &wanted).await?;
            if recreate {
                // The apps' projects went with the old organization: re-check them now rather
                // than at their next drift check.
                let now = super::now(job);
                job.inner
                    .store
                    .schedule_sync_now(true, Some(&tenant.id), now)
                    .await
                    .map_err(|e| SyncError::store("scheduling the tenant's apps", e))?;
            }
            org
        }
    };
    job.set("org_id", org.id.clone());
    job.set("org_name", org.name.clone());

    if org.name != wanted {
        job.drift(format!("the organization was renamed to `{}`", org.name))
            .await?;
        let name = rename(job, &org.id, &names, &wanted).await?;
        job.set("org_name", name);
        job.wrote();
    }

    let state_unsupported = job.ids.get("org_state_unsupported") == Some(&true.into());
    match (tenant.status, &org.state) {
        (TenantStatus::Suspended, OrganizationState::Active) if !state_unsupported => {
            set_active(job, &org.id, false).await?;
        }
        (TenantStatus::Active, OrganizationState::Inactive) => {
            job.drift("the organization was deactivated").await?;
            set_active(job, &org.id, true).await?;
        }
        _ => {
            job.set("org_active", org.state == OrganizationState::Active);
        }
    }

    // IdPs can only be linked to a custom policy; create it now so providers need no extra step.
    let policy = client
        .ensure_custom_login_policy(&org.id)
        .await
        .map_err(|e| SyncError::zitadel("creating the organization's login policy", e))?;
    if policy == Updated::Applied {
        if job.id("login_policy").is_some() {
            job.drift("the custom login policy was removed").await?;
        }
        job.wrote();
    }
    job.set("login_policy", "custom");
    Ok(Outcome::Synced)
}

/// Creates the organization with the tenant's id. A 409 means either that id exists already
/// (an earlier create whose answer was lost: adopt it) or the name is taken (use the fallback
/// name).
async fn create(
    job: &mut Job,
    tenant: &Tenant,
    names: &[String; 2],
    wanted: &str,
) -> Result<Organization, SyncError> {
    const STEP: &str = "creating the organization";
    let client = job.inner.client.clone();
    let custom_id = org_id_for(&tenant.id);
    let mut name = wanted.to_owned();
    loop {
        let request = AddOrganizationRequest {
            name: name.clone(),
            organization_id: Some(custom_id.clone()),
            ..Default::default()
        };
        match client.create_org(&request).await {
            Ok(created) => {
                // Versions without custom ids choose their own: record whatever it is.
                let org_id = created.organization_id;
                job.set("org_id", org_id.clone());
                job.wrote();
                return Ok(Organization {
                    id: org_id,
                    name,
                    state: OrganizationState::Active,
                    ..Default::default()
                });
            }
            Err(err) if err.is_already_exists() => {
                // Ours already? (by id, or by the fallback name that carries the unique slug)
                if let Some(org) = find_ours(job, &custom_id, names).await? {
                    tracing::info!(org_id = %org.id, "adopting the organization an earlier attempt created");
                    return Ok(org);
                }
                if name == names[1] {
                    return Err(SyncError::zitadel(STEP, err));
                }
                name = names[1].clone();
            }
            Err(err) => return Err(SyncError::zitadel(STEP, err)),
        }
    }
}

async fn find_ours(
    job: &Job,
    custom_id: &str,
    names: &[String; 2],
) -> Result<Option<Organization>, SyncError> {
    const STEP: &str = "looking up the organization";
    let client = &job.inner.client;
    if let Some(org) = client
        .get_org(custom_id)
        .await
        .map_err(|e| SyncError::zitadel(STEP, e))?
    {
        return Ok(Some(org));
    }
    client
        .find_org_by_name(&names[1])
        .await
        .map_err(|e| SyncError::zitadel(STEP, e))
}

/// Renames the organization to `wanted`, or to the fallback name if `wanted` is taken.
async fn rename(
    job: &mut Job,
    org_id: &str,
    names: &[String; 2],
    wanted: &str,
) -> Result<String, SyncError> {
    const STEP: &str = "renaming the organization";
    let client = job.inner.client.clone();
    match client.rename_org(org_id, wanted).await {
        Ok(_) => Ok(wanted.to_owned()),
        Err(err) if err.is_already_exists() && wanted != names[1] => {
            client
                .rename_org(org_id, &names[1])
                .await
                .map_err(|e| SyncError::zitadel(STEP, e))?;
            Ok(names[1].clone())
        }
        Err(err) => Err(SyncError::zitadel(STEP, err)),
    }
}

/// Deactivates (suspended tenant) or reactivates the organization. ZITADEL versions or
/// emulators without the endpoint answer 404/501: the tenant is then synced without it, which
/// the `org_active` id shows.
async fn set_active(job: &mut Job, org_id: &str, active: bool) -> Result<(), SyncError> {
    let client = job.inner.client.clone();
    let (step, result) = if active {
        (
            "reactivating the organization",
            client.activate_org(org_id).await,
        )
    } else {
        (
            "deactivating the organization",
            client.deactivate_org(org_id).await,
        )
    };
    match result {
        Ok(_) => {
            job.set("org_active", active);
            job.unset("org_state_unsupported");
            job.wrote();
            Ok(())
        }
        Err(err) if unsupported(&err) => {
            tracing::warn!(
                org_id,
                active,
                "this ZITADEL cannot (de)activate organizations; the tenant's status is not mirrored"
            );
            job.set("org_active", !active);
            job.set("org_state_unsupported", true);
            Ok(())
        }
        Err(err) => Err(SyncError::zitadel(step, err)),
    }
}

/// The organization was just read, so NotFound here means the endpoint is missing.
fn unsupported(err: &ZitadelError) -> bool {
    use crate::client::Code;
    matches!(err.code(), Some(Code::NotFound | Code::Unimplemented))
}

#[cfg(test)]
mod tests {
    use gatehouse_core::{Timestamp, sync::SyncStatus};

    use super::*;

    fn tenant(name: &str, slug: &str) -> Tenant {
        Tenant {
            id: TenantId::generate(),
            name: name.into(),
            slug: slug.into(),
            domains: vec![],
            status: TenantStatus::Active,
            created_at: Timestamp::now(),
            updated_at: Timestamp::now(),
            sync: SyncStatus::pending(),
        }
    }

    #[test]
    fn names_fall_back_to_the_slug_within_zitadels_limit() {
        let t = tenant("Acme", "acme-eu");
        assert_eq!(
            org_names(&t),
            ["Acme".to_owned(), "Acme (acme-eu)".to_owned()]
        );
        let long = tenant(&"é".repeat(200), "x-1");
        let [plain, fallback] = org_names(&long);
        assert_eq!(plain.chars().count(), 200);
        assert_eq!(fallback.chars().count(), 200);
        assert!(fallback.ends_with(" (x-1)"));
        assert_eq!(org_id_for(&t.id), t.id.as_str());
    }
}
