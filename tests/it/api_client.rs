//! Calling the JSON API as a customer would, and checking that refusals change nothing.

#![allow(dead_code)]

use diesel::prelude::*;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::{Made, TestApp, spawn_app_with};

/// A JSON answer: status, headers and body (`Value::Null` when the body is not JSON).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
    pub json: Value,
}

impl Answer {
    pub fn error(&self) -> &str {
        self.json["error"].as_str().unwrap_or("")
    }
    pub fn reason(&self) -> &str {
        self.json["reason"].as_str().unwrap_or("")
    }
}

/// An API caller with Basic credentials (`<username>-password`, as the builders make them).
pub struct Api<'a> {
    pub app: &'a TestApp,
    username: Option<String>,
    password: String,
}

impl<'a> Api<'a> {
    pub fn as_customer(app: &'a TestApp, username: &str) -> Self {
        Self {
            app,
            username: Some(username.to_owned()),
            password: format!("{username}-password"),
        }
    }

    pub fn anonymous(app: &'a TestApp) -> Self {
        Self {
            app,
            username: None,
            password: String::new(),
        }
    }

    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let builder = self.app.client.request(method, self.app.url(path));
        match &self.username {
            Some(user) => builder.basic_auth(user, Some(&self.password)),
            None => builder,
        }
    }

    pub async fn send(&self, builder: reqwest::RequestBuilder) -> Answer {
        let response = builder.send().await.expect("the app answers");
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            text,
            json,
        }
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.send(self.request(Method::GET, path)).await
    }

    /// POSTs `body` serialised as JSON, without a Content-Type, as uwsgiit-py does.
    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.send(self.request(Method::POST, path).body(body.to_string()))
            .await
    }

    pub async fn post_raw(&self, path: &str, body: impl Into<reqwest::Body>) -> Answer {
        self.send(self.request(Method::POST, path).body(body)).await
    }

    pub async fn delete(&self, path: &str) -> Answer {
        self.send(self.request(Method::DELETE, path)).await
    }
}

impl TestApp {
    pub fn api(&self, username: &str) -> Api<'_> {
        Api::as_customer(self, username)
    }

    /// Every row of every table a request could change, as text: equal snapshots mean
    /// nothing changed.
    pub fn snapshot(&self) -> String {
        #[derive(QueryableByName)]
        struct Dump {
            #[diesel(sql_type = diesel::sql_types::Text)]
            dump: String,
        }
        let tables = [
            "customers",
            "users",
            "servers",
            "distros",
            "containers",
            "custom_distros",
            "alarms",
            "jobs",
            "events",
            "api_tokens",
            "image_uploads",
            "image_upload_chunks",
        ];
        let select = tables
            .iter()
            .map(|t| format!("(SELECT coalesce(json_agg(t ORDER BY t)::text, '[]') FROM {t} t)"))
            .collect::<Vec<_>>()
            .join(" || ");
        let found: Dump = diesel::sql_query(format!("SELECT {select} AS dump"))
            .get_result(&mut self.conn())
            .unwrap();
        found.dump
    }

    /// One value from SQL, as text.
    pub fn scalar(&self, query: &str) -> String {
        #[derive(QueryableByName)]
        struct One {
            #[diesel(sql_type = diesel::sql_types::Text)]
            v: String,
        }
        let found: One = diesel::sql_query(format!("SELECT ({query})::text AS v"))
            .get_result(&mut self.conn())
            .unwrap();
        found.v
    }
}

/// Customer alice on server s1 with a storage container `images`, containers `web` (default
/// distro bookworm) and `bare` (no default distro); customer bob with a container on s1;
/// server s2 with alice's `far` storage container.
pub struct World {
    pub app: TestApp,
    pub bookworm: Made,
    pub images: Made,
    pub web: Made,
    pub bare: Made,
    pub far: Made,
    pub bobs: Made,
    pub bob_images: Made,
}

pub async fn world() -> World {
    world_with(|_| {}).await
}

/// [`world`] with its configuration adjusted first.
pub async fn world_with(adjust: impl FnOnce(&mut distropanel::config::Config)) -> World {
    let app = spawn_app_with(adjust).await;
    app.customer("alice");
    app.customer("bob");
    app.server("s1");
    app.server("s2");
    let bookworm = app.distro("bookworm");
    let images = app.storage_container("alice", "s1", "images");
    let web = app.container("alice", "s1", "web", Some(&bookworm));
    let bare = app.container("alice", "s1", "bare", None);
    let far = app.storage_container("alice", "s2", "far");
    let bobs = app.container("bob", "s1", "bobs", Some(&bookworm));
    let bob_images = app.storage_container("bob", "s1", "bob-images");
    World {
        app,
        bookworm,
        images,
        web,
        bare,
        far,
        bobs,
        bob_images,
    }
}

impl World {
    /// Creates a custom distro through the API and returns its id.
    pub async fn custom_distro(&self, owner: &str, storage: &Made, name: &str, path: &str) -> i64 {
        let answer = self
            .app
            .api(owner)
            .post(
                &format!("/api/custom_distros/{}", storage.uid()),
                serde_json::json!({ "name": name, "path": path, "note": "" }),
            )
            .await;
        assert_eq!(answer.status, 201, "{answer:?}");
        answer.json["id"].as_i64().expect("the created id")
    }

    /// Maps `container` to custom distro `id` through the API.
    pub async fn map(&self, owner: &str, container: &Made, id: i64) {
        let answer = self
            .app
            .api(owner)
            .post(
                &format!("/api/containers/{}", container.uid()),
                serde_json::json!({ "custom_distro": id }),
            )
            .await;
        assert_eq!(answer.status, 200, "{answer:?}");
    }
}

/// The Basic `Authorization` value of a builder-made customer.
pub fn basic(username: &str) -> String {
    use base64::Engine;
    let pair = format!("{username}:{username}-password");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

/// A POST with a chunked body, written by hand.
pub fn chunked_post(path: &str, username: &str, body: &str) -> Vec<u8> {
    let mut out = format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: {}\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        basic(username)
    )
    .into_bytes();
    for chunk in body.as_bytes().chunks(4096) {
        out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        out.extend_from_slice(chunk);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

/// Sends raw bytes and reads the answer until the server closes: (status, whole answer).
/// Status 0 means the server closed without answering.
pub async fn raw_http(app: &TestApp, request: &[u8]) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", app.port))
        .await
        .unwrap();
    // the server may answer (413) and close before it read everything we send
    let _ = stream.write_all(request).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        let mut buf = [0u8; 8192];
        while let Ok(n) = stream.read(&mut buf).await {
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&buf[..n]);
        }
    })
    .await;
    parse_answer(&answer)
}

/// As [`raw_http`], but closes the sending side first: the body can never be completed.
pub async fn raw_http_then_close(app: &TestApp, request: &[u8]) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", app.port))
        .await
        .unwrap();
    stream.write_all(request).await.unwrap();
    stream.shutdown().await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        stream.read_to_end(&mut answer),
    )
    .await;
    parse_answer(&answer)
}

fn parse_answer(answer: &[u8]) -> (u16, String) {
    let text = String::from_utf8_lossy(answer).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}
