//! Bearer tokens: looked up by the SHA-256 of the secret, always scoped to their user.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::db::models::api_token::{ApiToken, NewApiToken};
use crate::db::models::user::User;
use crate::db::schema::{api_tokens, users};
use crate::domain::ids::{ApiTokenId, UserId};

pub fn insert(conn: &mut PgConnection, new: &NewApiToken) -> QueryResult<ApiToken> {
    diesel::insert_into(api_tokens::table)
        .values(new)
        .returning(ApiToken::as_returning())
        .get_result(conn)
}

/// The user's tokens that still work, oldest first.
pub fn active_for_user(conn: &mut PgConnection, user: UserId) -> QueryResult<Vec<ApiToken>> {
    api_tokens::table
        .filter(api_tokens::user_id.eq(user))
        .filter(api_tokens::revoked_at.is_null())
        .order(api_tokens::id)
        .select(ApiToken::as_select())
        .load(conn)
}

/// Revokes one of the user's tokens; 0 when it is missing, revoked already, or someone else's.
pub fn revoke_for_user(
    conn: &mut PgConnection,
    user: UserId,
    id: ApiTokenId,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::update(
        api_tokens::table
            .filter(api_tokens::id.eq(id))
            .filter(api_tokens::user_id.eq(user))
            .filter(api_tokens::revoked_at.is_null()),
    )
    .set(api_tokens::revoked_at.eq(now))
    .execute(conn)
}

/// Revokes every live token of the user; how many there were.
pub fn revoke_all_for_user(
    conn: &mut PgConnection,
    user: UserId,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::update(
        api_tokens::table
            .filter(api_tokens::user_id.eq(user))
            .filter(api_tokens::revoked_at.is_null()),
    )
    .set(api_tokens::revoked_at.eq(now))
    .execute(conn)
}

/// The unrevoked token with this hash and the user it acts for.
pub fn active_with_user(
    conn: &mut PgConnection,
    token_hash: &str,
) -> QueryResult<Option<(ApiToken, User)>> {
    api_tokens::table
        .inner_join(users::table)
        .filter(api_tokens::token_hash.eq(token_hash))
        .filter(api_tokens::revoked_at.is_null())
        .select((ApiToken::as_select(), User::as_select()))
        .first(conn)
        .optional()
}

/// Records use, at most once a minute per token, so a busy client does not write every request.
pub fn mark_used(
    conn: &mut PgConnection,
    id: ApiTokenId,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    let a_minute_ago = now - chrono::Duration::minutes(1);
    diesel::update(
        api_tokens::table.filter(api_tokens::id.eq(id)).filter(
            api_tokens::last_used_at
                .is_null()
                .or(api_tokens::last_used_at.lt(a_minute_ago)),
        ),
    )
    .set(api_tokens::last_used_at.eq(now))
    .execute(conn)
}
