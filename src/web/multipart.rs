//! Reading a `multipart/form-data` body as it streams: small text fields whole and bounded,
//! file fields handed on as streams, so a large upload is never held in memory.

use actix_multipart::{Field, Multipart};
use futures_util::{StreamExt, TryStreamExt};

use crate::web::error::AppError;

/// A body that is not the multipart form it claims to be, or that broke off.
pub fn unreadable() -> AppError {
    AppError::BadRequest("The form could not be read; send it again.".into())
}

/// The next field, in the order the browser sent them.
pub async fn next_field(form: &mut Multipart) -> Result<Option<Field>, AppError> {
    form.try_next().await.map_err(|_| unreadable())
}

/// A text field as UTF-8, refused past `max` bytes.
pub async fn text(mut field: Field, max: usize) -> Result<String, AppError> {
    let name = field.name().unwrap_or("form").to_owned();
    let mut text = Vec::new();
    while let Some(piece) = field.next().await {
        let piece = piece.map_err(|_| unreadable())?;
        if text.len() + piece.len() > max {
            return Err(AppError::invalid(&name, "is too long"));
        }
        text.extend_from_slice(&piece);
    }
    String::from_utf8(text).map_err(|_| unreadable())
}

/// Reads a field to its end without keeping it.
pub async fn skip(mut field: Field) -> Result<(), AppError> {
    while let Some(piece) = field.next().await {
        piece.map_err(|_| unreadable())?;
    }
    Ok(())
}

/// A file input with a file chosen; an empty one still arrives, with an empty file name.
pub fn has_file_name(field: &Field) -> bool {
    field
        .content_disposition()
        .and_then(|disposition| disposition.get_filename())
        .is_some_and(|name| !name.is_empty())
}
