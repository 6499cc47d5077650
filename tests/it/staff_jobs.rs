//! Support staff watch the host work queue and retry or cancel jobs, each action audited.

use crate::helpers::spawn_app;
use crate::host_fixtures::restart;
use crate::personas::{Browser, scalar};

#[tokio::test]
async fn staff_retry_a_failed_job_then_cancel_it_and_each_step_is_audited() {
    let app = spawn_app().await;
    app.staff("ops");
    app.customer("alice");
    app.server("s1");
    let web = app.container("alice", "s1", "web", None);
    let job = restart(&app, &web).id.0;
    app.sql(&format!(
        "UPDATE jobs SET state = 'failed', attempts = 5, error = 'disk full' WHERE id = {job}"
    ))
    .unwrap();
    let staff = Browser::logged_in(&app, "ops", "staff-password").await;

    let (status, page) = staff.get_text("/staff/jobs?state=failed").await;
    assert_eq!(status, 200);
    assert!(
        page.contains(&format!("id=\"job-{job}\"")) && page.contains("disk full"),
        "{page}"
    );

    let retried = staff
        .post_form(&format!("/staff/jobs/{job}/retry"), &[])
        .await;
    assert_eq!(retried.status(), 303);
    assert_eq!(
        scalar(
            &app,
            &format!(
                "SELECT attempts::bigint AS n FROM jobs WHERE id = {job} AND state = 'queued'"
            )
        ),
        0
    );

    let cancelled = staff
        .post_form(&format!("/staff/jobs/{job}/cancel"), &[])
        .await;
    assert_eq!(cancelled.status(), 303);
    let again = staff
        .post_form(&format!("/staff/jobs/{job}/cancel"), &[])
        .await;
    assert_eq!(
        again.status(),
        409,
        "a cancelled job cannot be cancelled again"
    );
    assert_eq!(
        app.sql(&format!(
            "SELECT 1 FROM jobs WHERE id = {job} AND state = 'cancelled'"
        )),
        Ok(1)
    );
    assert_eq!(
        scalar(
            &app,
            "SELECT count(*) AS n FROM events WHERE kind = 'audit' AND action IN ('retry job', 'cancel job') AND actor = 'ops'"
        ),
        2
    );
}

#[tokio::test]
async fn a_customer_finds_no_staff_jobs_page_and_cannot_retry() {
    let app = spawn_app().await;
    app.customer("alice");
    app.server("s1");
    let web = app.container("alice", "s1", "web", None);
    let job = restart(&app, &web).id.0;
    let alice = Browser::logged_in(&app, "alice", "alice-password").await;
    assert_eq!(alice.get("/staff/jobs").await.status(), 404);
    assert_eq!(
        alice
            .post_form(&format!("/staff/jobs/{job}/cancel"), &[])
            .await
            .status(),
        404
    );
    assert_eq!(
        app.sql(&format!(
            "SELECT 1 FROM jobs WHERE id = {job} AND state = 'queued'"
        )),
        Ok(1)
    );
}
