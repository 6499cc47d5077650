//! The extractors that say who is calling: a handler that takes an [`ApiCaller`], a
//! [`SignedIn`], a [`Customer`] or a [`Staff`] is unreachable without one. Refusals are
//! answered here, in JSON for the API and with the login or error page for the panel.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::http::{Method, StatusCode};
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, web};

use crate::AppState;
use crate::auth::authenticate;
use crate::auth::basic::CredentialCache;
use crate::auth::extract::{self, client_address};
use crate::auth::guard::{Admin, ApiCaller, Customer, SignedIn, Staff};
use crate::db::models::user::Role;
use crate::domain::staff_role::StaffRole;
use crate::web::error::{ApiError, AppError};
use crate::web::render::Layout;

impl FromRequest for ApiCaller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = request.app_data::<web::Data<AppState>>().cloned();
        let cache = request.app_data::<web::Data<CredentialCache>>().cloned();
        let presented = extract::api_credentials(request);
        // a read-only token may read; anything else under /api changes state
        let reads = matches!(*request.method(), Method::GET | Method::HEAD);
        Box::pin(async move {
            let state = state.ok_or_else(|| AppError::internal(anyhow::anyhow!("no app state")))?;
            let cache = cache.ok_or_else(|| AppError::internal(anyhow::anyhow!("no cache")))?;
            let caller =
                authenticate::api_caller(&state.pool, &state.login_gate, &cache, presented).await?;
            if !reads {
                caller.may_change()?;
            }
            Ok(caller)
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
    extract::signed_in(request).ok_or(Denied::LogInFirst {
        htmx: request.headers().contains_key("HX-Request"),
    })
}

impl FromRequest for SignedIn {
    type Error = Denied;
    type Future = std::future::Ready<Result<Self, Denied>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(signed_in(request))
    }
}

impl FromRequest for Customer {
    type Error = Denied;
    type Future = std::future::Ready<Result<Self, Denied>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(signed_in(request).and_then(|session| {
            Customer::from_session(session).map_err(|refused| Denied::Page(refused.into()))
        }))
    }
}

impl FromRequest for Staff {
    type Error = Denied;
    type Future = std::future::Ready<Result<Self, Denied>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(signed_in(request).and_then(|session| {
            Staff::from_session(session, client_address(request))
                .map_err(|refused| Denied::Page(refused.into()))
        }))
    }
}

impl FromRequest for Admin {
    type Error = Denied;
    type Future = std::future::Ready<Result<Self, Denied>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(signed_in(request).and_then(|session| {
            Staff::from_session(session, client_address(request))
                .and_then(Staff::require_admin)
                .map_err(|refused| Denied::Page(refused.into()))
        }))
    }
}

impl SignedIn {
    /// The page layout for this user: their name, their links, their CSRF token.
    pub fn layout(&self) -> Layout {
        Layout {
            username: Some(self.username.clone()),
            is_staff: self.role == Role::Staff,
            is_admin: self.staff_role.is_some_and(StaffRole::may_provision),
            csrf_token: self.csrf_token.clone(),
            jobs: None,
        }
    }
}

impl Customer {
    pub fn layout(&self) -> Layout {
        self.session.layout()
    }
}

impl Staff {
    pub fn layout(&self) -> Layout {
        self.session.layout()
    }
}
