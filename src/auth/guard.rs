//! Extractors that say who is calling. A handler that takes one is unreachable without it, and
//! each carries the scope its queries must use.
//!
//! - [`ApiCaller`]: the JSON API, by bearer token, HTTP Basic or the uwsgi.it headers.
//! - [`SignedIn`]: any signed-in browser session.
//! - [`Customer`]: a customer's session, carrying the customer every query is scoped to.
//! - [`Staff`]: a staff session; anyone else gets the 404 page (customers) or the login page.

use std::future::Future;
use std::pin::Pin;

use actix_session::SessionExt;
use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, web};
use chrono::Utc;

use crate::AppState;
use crate::auth::authenticate::{self, Refused};
use crate::auth::basic::{self, CredentialCache};
use crate::auth::{csrf, token};
use crate::db;
use crate::db::models::event::NewEvent;
use crate::db::models::user::Role;
use crate::db::queries::api_tokens;
use crate::domain::ids::{ContainerId, CustomerId, UserId};
use crate::web::error::{ApiError, AppError};
use crate::web::render::Layout;

pub use crate::auth::session::SignedIn;

/// An authenticated caller of the JSON API: a bearer token, HTTP Basic, or the uwsgi.it
/// `X-uwsgi-it-username` / `X-uwsgi-it-password` headers (hex-encoded).
#[derive(Debug, Clone)]
pub struct ApiCaller {
    pub user_id: UserId,
    pub username: String,
    pub role: Role,
    /// The customer whose data this caller sees; `None` for staff.
    pub customer_id: Option<CustomerId>,
}

impl ApiCaller {
    /// The caller's customer, or a refusal for staff (who use the staff pages).
    pub fn customer(&self) -> Result<CustomerId, ApiError> {
        self.customer_id.ok_or_else(|| {
            ApiError(AppError::Forbidden(
                "Staff accounts have no customer data of their own.".into(),
            ))
        })
    }
}

fn app_state(request: &HttpRequest) -> Result<web::Data<AppState>, AppError> {
    request
        .app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("no app state")))
}

async fn by_token(state: &AppState, secret: String) -> Result<ApiCaller, AppError> {
    let digest = token::digest(&secret);
    let now = Utc::now();
    db::run(&state.pool, move |conn| {
        let Some((token, user)) = api_tokens::active_with_user(conn, &digest)? else {
            return Err(AppError::Unauthorized);
        };
        let stale = token
            .last_used_at
            .is_none_or(|used| now - used > chrono::Duration::minutes(1));
        if stale {
            api_tokens::mark_used(conn, token.id, now)?;
        }
        Ok(ApiCaller {
            user_id: user.id,
            role: user.role(),
            customer_id: user.customer_id,
            username: user.username,
        })
    })
    .await
}

impl FromRequest for ApiCaller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = app_state(request);
        let cache = request.app_data::<web::Data<CredentialCache>>().cloned();
        let bearer = token::bearer(request).map(str::to_owned);
        let given = basic::credentials(request);
        let replayed_by_browser = csrf::basic_sent_by_another_site(request);
        let address = authenticate::client_address(request);
        Box::pin(async move {
            let state = state?;
            if let Some(secret) = bearer {
                return Ok(by_token(&state, secret).await?);
            }
            let given = given.ok_or(AppError::Unauthorized)?;
            if replayed_by_browser {
                return Err(ApiError(AppError::Forbidden(
                    "Another site sent this request with your saved credentials; it was refused."
                        .into(),
                )));
            }
            let cache = cache.ok_or_else(|| AppError::internal(anyhow::anyhow!("no cache")))?;
            match authenticate::check_password(&state.pool, Some(&cache), given, address).await? {
                Ok(user) => Ok(ApiCaller {
                    user_id: user.id,
                    role: user.role(),
                    customer_id: user.customer_id,
                    username: user.username,
                }),
                Err(Refused::WrongCredentials) => Err(ApiError(AppError::Unauthorized)),
                Err(Refused::Locked(locked)) => Err(ApiError(AppError::TooManyRequests {
                    retry_after_secs: locked.retry_after_secs,
                })),
            }
        })
    }
}

/// A page refused: either the login page is the way on, or the usual error page.
#[derive(Debug)]
pub enum Denied {
    LogInFirst { htmx: bool },
    Page(AppError),
}

impl std::fmt::Display for Denied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Denied::LogInFirst { .. } => f.write_str("log in first"),
            Denied::Page(error) => error.fmt(f),
        }
    }
}

impl ResponseError for Denied {
    fn status_code(&self) -> StatusCode {
        match self {
            Denied::LogInFirst { htmx: false } => StatusCode::SEE_OTHER,
            Denied::LogInFirst { htmx: true } => StatusCode::UNAUTHORIZED,
            Denied::Page(error) => error.status(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            // htmx would swap a followed redirect into the page; it navigates on HX-Redirect
            Denied::LogInFirst { htmx: true } => HttpResponse::Unauthorized()
                .insert_header(("HX-Redirect", "/login"))
                .finish(),
            Denied::LogInFirst { htmx: false } => HttpResponse::SeeOther()
                .insert_header((header::LOCATION, "/login"))
                .finish(),
            Denied::Page(error) => error.error_response(),
        }
    }
}

fn signed_in(request: &HttpRequest) -> Result<SignedIn, Denied> {
    SignedIn::read(&request.get_session()).ok_or(Denied::LogInFirst {
        htmx: request.headers().contains_key("HX-Request"),
    })
}

impl SignedIn {
    pub fn layout(&self) -> Layout {
        Layout {
            username: Some(self.username.clone()),
            is_staff: self.role == Role::Staff,
            csrf_token: self.csrf_token.clone(),
        }
    }
}

impl FromRequest for SignedIn {
    type Error = Denied;
    type Future = std::future::Ready<Result<Self, Denied>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(signed_in(request))
    }
}

/// A signed-in customer. Every customer page scopes its queries by `customer_id`.
#[derive(Debug, Clone)]
pub struct Customer {
    pub session: SignedIn,
    pub customer_id: CustomerId,
}

impl Customer {
    pub fn layout(&self) -> Layout {
        self.session.layout()
    }
}

impl Customer {
    /// Only a customer's session is one; staff have no customer data of their own.
    pub fn from_session(session: SignedIn) -> Result<Self, AppError> {
        match (session.role, session.customer_id) {
            (Role::Customer, Some(customer_id)) => Ok(Customer {
                session,
                customer_id,
            }),
            _ => Err(AppError::Forbidden(
                "Staff accounts have no containers of their own; use the staff pages.".into(),
            )),
        }
    }
}

impl FromRequest for Customer {
    type Error = Denied;
    type Future = std::future::Ready<Result<Self, Denied>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(
            signed_in(request)
                .and_then(|session| Customer::from_session(session).map_err(Denied::Page)),
        )
    }
}

/// A signed-in member of staff, with the address their actions are audited from.
#[derive(Debug, Clone)]
pub struct Staff {
    pub session: SignedIn,
    pub address: String,
}

impl Staff {
    pub fn layout(&self) -> Layout {
        self.session.layout()
    }

    /// The audit entry for an action of this member of staff on a customer's data; insert it
    /// in the transaction that makes the change.
    pub fn audit<'a>(
        &'a self,
        customer: Option<CustomerId>,
        container: Option<ContainerId>,
        action: &'a str,
        target: &'a str,
        detail: &'a str,
    ) -> NewEvent<'a> {
        NewEvent {
            kind: "audit",
            actor_user_id: Some(self.session.user_id),
            actor: &self.session.username,
            customer_id: customer,
            container_id: container,
            job_id: None,
            action,
            target,
            outcome: "ok",
            detail,
            ip: Some(&self.address),
        }
    }
}

impl Staff {
    /// Only a staff session is one; a customer cannot tell the staff pages from pages that do
    /// not exist.
    pub fn from_session(session: SignedIn, address: String) -> Result<Self, AppError> {
        match session.role {
            Role::Staff => Ok(Staff { session, address }),
            Role::Customer => Err(AppError::NotFound),
        }
    }
}

impl FromRequest for Staff {
    type Error = Denied;
    type Future = std::future::Ready<Result<Self, Denied>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(signed_in(request).and_then(|session| {
            Staff::from_session(session, authenticate::client_address(request))
                .map_err(Denied::Page)
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(role: Role, customer: Option<i32>) -> SignedIn {
        SignedIn {
            user_id: UserId(7),
            username: "someone".into(),
            role,
            customer_id: customer.map(CustomerId),
            csrf_token: "t".into(),
            public_id: "p".into(),
        }
    }

    #[test]
    fn a_customer_session_carries_its_customer_and_staff_are_not_customers() {
        let customer = Customer::from_session(session(Role::Customer, Some(3))).unwrap();
        assert_eq!(customer.customer_id, CustomerId(3));
        assert!(matches!(
            Customer::from_session(session(Role::Staff, None)),
            Err(AppError::Forbidden(_))
        ));
    }

    #[test]
    fn only_staff_are_staff_and_customers_see_a_missing_page() {
        assert!(Staff::from_session(session(Role::Staff, None), "::1".into()).is_ok());
        assert!(matches!(
            Staff::from_session(session(Role::Customer, Some(3)), "::1".into()),
            Err(AppError::NotFound)
        ));
    }

    #[test]
    fn an_audit_entry_names_the_actor_and_the_address() {
        let staff = Staff::from_session(session(Role::Staff, None), "192.0.2.1".into()).unwrap();
        let entry = staff.audit(Some(CustomerId(3)), None, "reset", "alice", "why");
        assert_eq!(entry.kind, "audit");
        assert_eq!(entry.actor, "someone");
        assert_eq!(entry.actor_user_id, Some(UserId(7)));
        assert_eq!(entry.customer_id, Some(CustomerId(3)));
        assert_eq!(entry.ip, Some("192.0.2.1"));
    }
}
