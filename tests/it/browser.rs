//! A real browser (headless Chromium through chromedriver) against the real app.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;

/// A chromedriver process of this test's own, and a browser session on it. Both end on drop.
pub struct Browser {
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

/// The port chromedriver started with `--port=0` chose, read from the line it prints once it
/// listens ("ChromeDriver was started successfully on port 39219."); the rest of its output
/// is read and dropped so that it never blocks on a full pipe.
fn listening_port(stdout: ChildStdout) -> u16 {
    let mut lines = BufReader::new(stdout).lines();
    let port = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|line| {
            line.strip_prefix("ChromeDriver was started successfully on port ")
                .and_then(|rest| rest.trim_end_matches('.').parse().ok())
        })
        .expect("chromedriver says which port it listens on");
    std::thread::spawn(move || lines.for_each(drop));
    port
}

impl Browser {
    pub async fn start() -> Self {
        let mut driver = Command::new("chromedriver")
            .arg("--port=0")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver is installed (scripts/setup installs it)");
        let stdout = driver.stdout.take().expect("piped");
        let port = tokio::time::timeout(
            Duration::from_secs(30),
            tokio::task::spawn_blocking(move || listening_port(stdout)),
        )
        .await
        .expect("chromedriver starts within 30 s")
        .unwrap();
        let profile = tempfile::tempdir().unwrap();
        let capabilities = json!({
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", format!("--user-data-dir={}", profile.path().display()),
                ]
            }
        });
        let capabilities = capabilities.as_object().unwrap().clone();
        let url = format!("http://127.0.0.1:{port}");
        let mut last_error = None;
        for _ in 0..50 {
            match ClientBuilder::new(HttpConnector::new())
                .capabilities(capabilities.clone())
                .connect(&url)
                .await
            {
                Ok(client) => {
                    return Self {
                        client,
                        driver,
                        _profile: profile,
                    };
                }
                Err(e) => last_error = Some(e),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no browser session: {last_error:?}");
    }

    /// Types `text` into the field with id `id`.
    pub async fn fill(&self, id: &str, text: &str) {
        self.client
            .find(Locator::Id(id))
            .await
            .unwrap()
            .send_keys(text)
            .await
            .unwrap();
    }

    /// Clicks the first element `css` selects, once it is there.
    pub async fn click(&self, css: &str) {
        self.client
            .wait()
            .for_element(Locator::Css(css))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    }

    /// Follows the link with this text, once it is there.
    pub async fn follow(&self, link_text: &str) {
        self.client
            .wait()
            .for_element(Locator::LinkText(link_text))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    }

    /// Logs in through the form at `login_url` and waits for the user's name in the top bar.
    pub async fn log_in(&self, login_url: &str, username: &str, password: &str) {
        self.client.goto(login_url).await.unwrap();
        self.fill("username", username).await;
        self.fill("password", password).await;
        self.click("main form button[type=submit]").await;
        self.client
            .wait()
            .for_element(Locator::LinkText(username))
            .await
            .unwrap();
    }

    pub async fn stop(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_visitor_sees_the_start_page_with_its_script_and_style_under_the_content_policy() {
    let app = crate::helpers::spawn_app().await;
    let browser = Browser::start().await;
    let c = &browser.client;
    c.goto(&app.url("/")).await.unwrap();
    assert_eq!(c.title().await.unwrap(), "Welcome · distropanel");
    let brand = c.find(Locator::Css("header .brand")).await.unwrap();
    assert_eq!(brand.text().await.unwrap(), "distropanel");
    // htmx loads from our own origin (script-src 'self'), and the stylesheet applies
    let htmx = c
        .execute(
            "return typeof window.htmx === 'object' && htmx.version",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(htmx, json!("2.0.11"));
    let background = c
        .execute(
            "return getComputedStyle(document.querySelector('.topbar')).backgroundColor",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(background, json!("rgb(20, 32, 43)"));
    c.find(Locator::LinkText("Log in")).await.unwrap();
    browser.stop().await;
}
