//! Destructive forms ask before they act. With JavaScript the page asks in a dialog and the
//! form arrives with `confirmed=1`; without it, the handler answers an unconfirmed form with a
//! confirmation page whose button sends the same form again, confirmed.

use actix_web::HttpResponse;
use actix_web::http::header;
use askama::Template;
use serde::Deserialize;

use crate::web::error::AppError;
use crate::web::render::Layout;

/// The `confirmed` field of a destructive form; any other field is the form's own.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Confirmation {
    confirmed: Option<String>,
}

impl Confirmation {
    pub fn given(&self) -> bool {
        is_given(self.confirmed.as_deref())
    }
}

/// Whether a form's `confirmed` field says yes.
pub fn is_given(confirmed: Option<&str>) -> bool {
    confirmed == Some("1")
}

/// What to ask before acting, and where to send the answer.
pub struct Ask {
    /// The question, naming what goes: "Delete the custom distro 'alpine'?"
    pub question: String,
    /// What cannot be undone, in a sentence or two.
    pub consequence: String,
    /// The form's action, sent again with `confirmed=1`.
    pub action: String,
    /// The fields of the form besides the CSRF token, sent again as they came.
    pub fields: Vec<(&'static str, String)>,
    /// The label of the button that acts.
    pub button: &'static str,
    /// Where "Cancel" goes back to.
    pub back: String,
}

#[derive(Template)]
#[template(path = "confirm.html")]
struct ConfirmPage {
    layout: Layout,
    ask: Ask,
}

/// The confirmation page (200: nothing went wrong, nothing happened yet).
pub fn page(layout: Layout, ask: Ask) -> Result<HttpResponse, AppError> {
    let page = ConfirmPage { layout, ask };
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(page.render()?))
}

/// Deleting a custom distro, and with `purge` its image files too.
pub fn delete_distro(id: impl std::fmt::Display, purge: bool) -> Ask {
    let (question, consequence, fields) = if purge {
        (
            "Delete this custom distro and its image files?",
            "The distro and every file of its image in the storage container are deleted. \
             This cannot be undone.",
            vec![("purge", "1".to_owned())],
        )
    } else {
        (
            "Delete this custom distro?",
            "The distro is deleted; its image files stay in the storage container.",
            Vec::new(),
        )
    };
    Ask {
        question: question.into(),
        consequence: consequence.into(),
        action: format!("/distros/{id}/delete"),
        fields,
        button: "Delete the distro",
        back: format!("/distros/{id}"),
    }
}

/// Putting a custom distro's previous image back.
pub fn roll_back(id: impl std::fmt::Display) -> Ask {
    Ask {
        question: "Roll back to the previous image?".into(),
        consequence: "The current image is replaced by the previous one, and the containers \
                      booting this distro restart."
            .into(),
        action: format!("/distros/{id}/rollback"),
        fields: Vec::new(),
        button: "Roll back",
        back: format!("/distros/{id}"),
    }
}

/// A container that stops storing custom distros.
pub fn storage_off(uid: impl std::fmt::Display) -> Ask {
    Ask {
        question: "Stop storing custom distros in this container?".into(),
        consequence: "The container restarts, and its custom distros can no longer be booted."
            .into(),
        action: format!("/containers/{uid}/storage"),
        fields: vec![("storage", "off".to_owned())],
        button: "Stop storing custom distros",
        back: format!("/containers/{uid}"),
    }
}

/// Deleting a container (staff, on a customer's behalf or for the platform).
pub fn delete_container(uid: impl std::fmt::Display, name: &str) -> Ask {
    Ask {
        question: format!("Delete the container '{name}' ({uid})?"),
        consequence: "The container and its configuration are deleted. This cannot be undone."
            .into(),
        action: format!("/staff/containers/{uid}/delete"),
        fields: Vec::new(),
        button: "Delete the container",
        back: format!("/staff/containers/{uid}/edit"),
    }
}

/// Deleting a platform distro.
pub fn delete_platform_distro(id: impl std::fmt::Display, name: &str) -> Ask {
    Ask {
        question: format!("Delete the distro '{name}'?"),
        consequence: "The platform distro is deleted. This cannot be undone.".into(),
        action: format!("/staff/distros/{id}/delete"),
        fields: Vec::new(),
        button: "Delete the distro",
        back: format!("/staff/distros/{id}/edit"),
    }
}

#[cfg(test)]
mod tests {
    use super::is_given;

    #[test]
    fn only_a_confirmed_field_of_1_confirms() {
        assert!(is_given(Some("1")));
        for no in [None, Some(""), Some("0"), Some("yes")] {
            assert!(!is_given(no), "{no:?}");
        }
    }
}
