//! Who a test acts as: an anonymous or logged-in browser (cookies, the CSRF token its pages
//! carry), an API client with Basic credentials, or one with a bearer token. Also a second web
//! node on the same database, for what must hold across nodes.

#![allow(dead_code)]

use std::sync::Arc;

use distropanel::Application;
use reqwest::Response;
use reqwest::cookie::{CookieStore, Jar};
use serde_json::Value;

use crate::helpers::{TestApp, TestDb, test_config};

/// `application/x-www-form-urlencoded`, as a browser sends a form.
pub fn form_body(fields: &[(&str, &str)]) -> String {
    fn encode(raw: &str) -> String {
        raw.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                b' ' => "+".into(),
                other => format!("%{other:02X}"),
            })
            .collect()
    }
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The value of the first `name="csrf_token"` hidden field in a page.
pub fn scrape_csrf(page: &str) -> Option<String> {
    let at = page.find("name=\"csrf_token\" value=\"")? + "name=\"csrf_token\" value=\"".len();
    let rest = &page[at..];
    Some(rest[..rest.find('"')?].to_owned())
}

/// A browser with its own cookie jar, following no redirects (tests look at them).
pub struct Browser {
    pub client: reqwest::Client,
    pub base: String,
    jar: Arc<Jar>,
}

impl Browser {
    pub fn new(app: &TestApp) -> Self {
        Self::at(&app.address)
    }

    pub fn at(base: &str) -> Self {
        Self::identified_as(base, "distropanel-tests")
    }

    /// A browser sending this `User-Agent`.
    pub fn identified_as(base: &str, user_agent: &str) -> Self {
        let jar = Arc::new(Jar::default());
        let client = reqwest::Client::builder()
            .pool_idle_timeout(crate::helpers::CLIENT_IDLE)
            .redirect(reqwest::redirect::Policy::none())
            .cookie_provider(jar.clone())
            .user_agent(user_agent)
            .build()
            .unwrap();
        Self {
            client,
            base: base.to_owned(),
            jar,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// The value of a cookie the browser holds for this site.
    pub fn cookie(&self, name: &str) -> Option<String> {
        let url = self.base.parse().unwrap();
        let header = self.jar.cookies(&url)?;
        header.to_str().unwrap().split("; ").find_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            (k == name).then(|| v.to_owned())
        })
    }

    /// Puts a cookie in the jar as if the site had set it (a planted or stolen one).
    pub fn set_cookie(&self, name: &str, value: &str) {
        let url = self.base.parse().unwrap();
        self.jar
            .add_cookie_str(&format!("{name}={value}; Path=/"), &url);
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    pub async fn get_text(&self, path: &str) -> (u16, String) {
        let response = self.get(path).await;
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    }

    /// POSTs a form exactly as given: no token is added.
    pub async fn post_raw(&self, path: &str, fields: &[(&str, &str)]) -> Response {
        self.client
            .post(self.url(path))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(form_body(fields))
            .send()
            .await
            .unwrap()
    }

    /// The CSRF token the page at `path` carries in its forms.
    pub async fn token_on(&self, path: &str) -> String {
        let (_, page) = self.get_text(path).await;
        scrape_csrf(&page).unwrap_or_else(|| panic!("no CSRF token on {path}: {page}"))
    }

    /// POSTs a form with the token the settings page carries, as the browser would.
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> Response {
        let token = self.token_on("/settings").await;
        let mut with_token = vec![("csrf_token", token.as_str())];
        with_token.extend_from_slice(fields);
        self.post_raw(path, &with_token).await
    }

    /// Fills in and sends the login form.
    pub async fn login(&self, username: &str, password: &str) -> Response {
        let token = self.token_on("/login").await;
        self.post_raw(
            "/login",
            &[
                ("csrf_token", &token),
                ("username", username),
                ("password", password),
            ],
        )
        .await
    }

    pub async fn logged_in(app: &TestApp, username: &str, password: &str) -> Self {
        let browser = Self::new(app);
        let response = browser.login(username, password).await;
        assert_eq!(response.status(), 303, "logging in as {username}");
        browser
    }

    /// A customer made with `app.customer(name)`, logged in with their password.
    pub async fn customer(app: &TestApp, name: &str) -> Self {
        Self::logged_in(app, name, &format!("{name}-password")).await
    }
}

/// An API client sending HTTP Basic credentials.
pub struct BasicClient {
    pub base: String,
    pub username: String,
    pub password: String,
    client: reqwest::Client,
}

impl BasicClient {
    pub fn new(base: &str, username: &str, password: &str) -> Self {
        Self {
            base: base.to_owned(),
            username: username.to_owned(),
            password: password.to_owned(),
            client: reqwest::Client::builder()
                .pool_idle_timeout(crate::helpers::CLIENT_IDLE)
                .build()
                .unwrap(),
        }
    }

    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{}", self.base, path))
            .basic_auth(&self.username, Some(&self.password))
    }

    pub async fn get(&self, path: &str) -> Response {
        self.request(reqwest::Method::GET, path)
            .send()
            .await
            .unwrap()
    }

    /// Makes a token through the API; returns (id, secret).
    pub async fn create_token(&self, name: &str) -> (i64, String) {
        let response = self
            .request(reqwest::Method::POST, "/api/tokens")
            .body(serde_json::json!({ "name": name }).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        let body: Value = response.json().await.unwrap();
        (
            body["id"].as_i64().unwrap(),
            body["token"].as_str().unwrap().to_owned(),
        )
    }
}

/// An API client sending a bearer token.
pub struct TokenClient {
    pub base: String,
    pub token: String,
    client: reqwest::Client,
}

impl TokenClient {
    pub fn new(base: &str, token: &str) -> Self {
        Self {
            base: base.to_owned(),
            token: token.to_owned(),
            client: reqwest::Client::builder()
                .pool_idle_timeout(crate::helpers::CLIENT_IDLE)
                .build()
                .unwrap(),
        }
    }

    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{}", self.base, path))
            .bearer_auth(&self.token)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.request(reqwest::Method::GET, path)
            .send()
            .await
            .unwrap()
    }
}

/// Another web node serving the same database: its own process state (credential cache,
/// session key), shared PostgreSQL.
pub struct Node {
    pub address: String,
    _host_root: tempfile::TempDir,
    _var_dir: tempfile::TempDir,
}

pub async fn another_node(db: &TestDb) -> Node {
    let host_root = tempfile::tempdir().unwrap();
    let var_dir = tempfile::tempdir().unwrap();
    let config = test_config(db, host_root.path(), var_dir.path());
    let app = Application::build(config).await.expect("the app builds");
    let port = app.port();
    tokio::spawn(app.run_until_stopped());
    Node {
        address: format!("http://127.0.0.1:{port}"),
        _host_root: host_root,
        _var_dir: var_dir,
    }
}

/// A fingerprint of every row of the tables identity touches, to show a refusal changed nothing.
pub fn snapshot(app: &TestApp) -> Vec<(String, String)> {
    use diesel::prelude::*;
    #[derive(QueryableByName)]
    struct Digest {
        #[diesel(sql_type = diesel::sql_types::Text)]
        digest: String,
    }
    [
        "users",
        "api_tokens",
        "sessions",
        "events",
        "customers",
        "containers",
    ]
    .iter()
    .map(|table| {
        let found: Digest = diesel::sql_query(format!(
            "SELECT coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') AS digest FROM {table} t"
        ))
        .get_result(&mut app.conn())
        .unwrap();
        (table.to_string(), found.digest)
    })
    .collect()
}

/// The one bigint a query returns, named `n`.
pub fn scalar(app: &TestApp, query: &str) -> i64 {
    use diesel::prelude::*;
    #[derive(QueryableByName)]
    struct One {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    diesel::sql_query(query)
        .get_result::<One>(&mut app.conn())
        .unwrap()
        .n
}

/// The public id of a user's newest session.
pub fn newest_session_of(app: &TestApp, username: &str) -> String {
    use diesel::prelude::*;
    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = diesel::sql_types::Text)]
        public_id: String,
    }
    diesel::sql_query(format!(
        "SELECT s.public_id FROM sessions s JOIN users u ON u.id = s.user_id \
         WHERE u.username = '{username}' ORDER BY s.created_at DESC LIMIT 1"
    ))
    .get_result::<Id>(&mut app.conn())
    .unwrap()
    .public_id
}
