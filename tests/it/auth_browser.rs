//! The identity screens in a real browser: logging in, making and revoking a token, and
//! logging out, all with plain forms.

use fantoccini::Locator;

use crate::browser::Browser;
use crate::helpers::spawn_app;

#[tokio::test(flavor = "multi_thread")]
async fn a_customer_logs_in_makes_and_revokes_a_token_and_logs_out_in_a_real_browser() {
    let app = spawn_app().await;
    app.customer("alice");
    let browser = Browser::start().await;
    let c = &browser.client;

    c.goto(&app.url("/login")).await.unwrap();
    browser.fill("username", "alice").await;
    browser.fill("password", "wrong-password").await;
    browser.click("main form button[type=submit]").await;
    // the click returns before the answer is in: wait for it
    let alert = c
        .wait()
        .for_element(Locator::Css(".flash.error"))
        .await
        .unwrap();
    assert_eq!(alert.text().await.unwrap(), "Wrong username or password.");

    browser.fill("password", "alice-password").await;
    browser.click("main form button[type=submit]").await;
    c.wait()
        .for_element(Locator::LinkText("alice"))
        .await
        .unwrap();
    assert_eq!(c.current_url().await.unwrap().path(), "/dashboard");

    c.goto(&app.url("/settings")).await.unwrap();
    c.find(Locator::Id("token_name"))
        .await
        .unwrap()
        .send_keys("laptop")
        .await
        .unwrap();
    c.find(Locator::Css("#tokens form:last-of-type button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let secret = c
        .wait()
        .for_element(Locator::Css("#new-token code.secret"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(secret.starts_with("dpt_"), "{secret}");
    assert_eq!(app.count("api_tokens"), 1);

    c.find(Locator::Css("#tokens table button.danger"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    // revoking asks first, in a dialog
    browser.click("#confirm-dialog-yes").await;
    let notice = c
        .wait()
        .for_element(Locator::Css(".flash.ok"))
        .await
        .unwrap();
    assert!(notice.text().await.unwrap().contains("revoked"));
    assert_eq!(
        app.sql("SELECT 1 FROM api_tokens WHERE revoked_at IS NOT NULL")
            .unwrap(),
        1
    );

    c.find(Locator::Css("header form button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait()
        .for_element(Locator::LinkText("Log in"))
        .await
        .unwrap();
    assert_eq!(app.count("sessions"), 0);
    c.goto(&app.url("/settings")).await.unwrap();
    assert_eq!(c.current_url().await.unwrap().path(), "/login");
    browser.stop().await;
}
