//! Keystone v3: the token description.

use chrono::Duration;

use protector_core::api::AuthInfo;

use super::Caller;
use crate::state::World;

/// `POST /v3/auth/tokens`: what the token says (default lifetime one hour).
pub(crate) fn auth_info(world: &World, caller: &Caller) -> AuthInfo {
    AuthInfo {
        user_id: caller.user_id.clone(),
        user_name: caller.user_name.clone(),
        project_id: caller.project_id.clone(),
        project_name: caller.project_name.clone(),
        roles: caller.roles.clone(),
        expires_at: Some(world.now() + Duration::hours(1)),
    }
}
