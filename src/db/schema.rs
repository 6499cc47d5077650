// @generated automatically by Diesel CLI.

diesel::table! {
    alarms (id) {
        id -> Int8,
        container_id -> Int4,
        customer_id -> Int4,
        unix -> Timestamptz,
        level -> Int2,
        color -> Text,
        msg -> Text,
        line -> Nullable<Int4>,
        func -> Nullable<Text>,
        filename -> Nullable<Text>,
        class -> Nullable<Text>,
        vassal -> Nullable<Text>,
    }
}

diesel::table! {
    api_tokens (id) {
        id -> Int4,
        user_id -> Int4,
        name -> Text,
        token_hash -> Text,
        created_at -> Timestamptz,
        last_used_at -> Nullable<Timestamptz>,
        revoked_at -> Nullable<Timestamptz>,
        read_only -> Bool,
    }
}

diesel::table! {
    container_disk_use (container_id) {
        container_id -> Int4,
        home_bytes -> Int8,
        images_bytes -> Int8,
        measured_at -> Timestamptz,
    }
}

diesel::table! {
    containers (id) {
        id -> Int4,
        name -> Text,
        customer_id -> Int4,
        server_id -> Int4,
        distro_id -> Nullable<Int4>,
        custom_distros_storage -> Bool,
        custom_distro_id -> Nullable<Int4>,
        memory_mb -> Int4,
        storage_mb -> Int4,
        note -> Text,
        uuid -> Uuid,
        alarm_key -> Nullable<Uuid>,
        quota_threshold -> Int4,
        alarm_freq -> Int4,
        nofollow -> Bool,
        ssh_keys -> Array<Nullable<Text>>,
        tags -> Array<Nullable<Text>>,
        jid -> Text,
        jid_destinations -> Text,
        pushover_user -> Text,
        pushover_token -> Text,
        pushover_sound -> Text,
        pushbullet_token -> Text,
        slack_webhook -> Text,
        last_reboot -> Nullable<Timestamptz>,
        ssh_keys_changed_at -> Timestamptz,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        fallback_reason -> Nullable<Text>,
        restarted_at -> Nullable<Timestamptz>,
        booted_kind -> Nullable<Text>,
        booted_custom_distro_id -> Nullable<Int4>,
    }
}

diesel::table! {
    custom_distros (id) {
        id -> Int4,
        container_id -> Int4,
        server_id -> Int4,
        customer_id -> Int4,
        in_storage -> Bool,
        name -> Text,
        path -> Text,
        note -> Text,
        uuid -> Uuid,
        image_state -> Text,
        image_bytes -> Nullable<Int8>,
        image_sha256 -> Nullable<Text>,
        check_report -> Nullable<Jsonb>,
        checked_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        previous_bytes -> Nullable<Int8>,
        previous_sha256 -> Nullable<Text>,
    }
}

diesel::table! {
    customers (id) {
        id -> Int4,
        company -> Text,
        vat -> Text,
        uuid -> Uuid,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    distros (id) {
        id -> Int4,
        name -> Text,
        path -> Text,
        note -> Text,
        created_at -> Timestamptz,
        retired_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    events (id) {
        id -> Int8,
        at -> Timestamptz,
        kind -> Text,
        actor_user_id -> Nullable<Int4>,
        actor -> Text,
        customer_id -> Nullable<Int4>,
        container_id -> Nullable<Int4>,
        job_id -> Nullable<Int8>,
        action -> Text,
        target -> Text,
        outcome -> Text,
        detail -> Text,
        ip -> Nullable<Text>,
        by_staff -> Bool,
    }
}

diesel::table! {
    image_upload_chunks (upload_id, seq) {
        upload_id -> Int8,
        seq -> Int4,
        data -> Bytea,
    }
}

diesel::table! {
    image_uploads (id) {
        id -> Int8,
        custom_distro_id -> Int4,
        state -> Text,
        bytes -> Int8,
        sha256 -> Nullable<Text>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    jobs (id) {
        id -> Int8,
        kind -> Text,
        container_id -> Nullable<Int4>,
        customer_id -> Nullable<Int4>,
        server_id -> Int4,
        payload -> Jsonb,
        state -> Text,
        attempts -> Int4,
        max_attempts -> Int4,
        run_after -> Timestamptz,
        locked_by -> Nullable<Text>,
        locked_until -> Nullable<Timestamptz>,
        error -> Nullable<Text>,
        report -> Jsonb,
        created_at -> Timestamptz,
        started_at -> Nullable<Timestamptz>,
        finished_at -> Nullable<Timestamptz>,
        vassal_written_at -> Nullable<Timestamptz>,
        progress -> Nullable<Jsonb>,
        cancel_requested -> Bool,
        failure_permanent -> Bool,
    }
}

diesel::table! {
    login_attempts (id) {
        id -> Int8,
        username -> Text,
        ip -> Text,
        at -> Timestamptz,
    }
}

diesel::table! {
    login_successes (user_id, ip) {
        user_id -> Int4,
        ip -> Text,
        at -> Timestamptz,
    }
}

diesel::table! {
    host_reports (server_id) {
        server_id -> Int4,
        worker -> Text,
        reported_at -> Timestamptz,
    }
}

diesel::table! {
    password_links (id) {
        id -> Int4,
        user_id -> Int4,
        token_hash -> Text,
        created_by -> Nullable<Int4>,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
        used_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    servers (id) {
        id -> Int4,
        name -> Text,
        address -> Text,
        memory_mb -> Nullable<Int4>,
        storage_mb -> Nullable<Int4>,
        customer_id -> Nullable<Int4>,
        created_at -> Timestamptz,
        token_hash -> Nullable<Text>,
        pull -> Bool,
    }
}

diesel::table! {
    sessions (key_hash) {
        key_hash -> Text,
        user_id -> Nullable<Int4>,
        state -> Jsonb,
        ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        created_at -> Timestamptz,
        last_seen -> Timestamptz,
        expires_at -> Timestamptz,
        public_id -> Nullable<Text>,
    }
}

diesel::table! {
    users (id) {
        id -> Int4,
        username -> Text,
        email -> Text,
        password_hash -> Text,
        role -> Text,
        customer_id -> Nullable<Int4>,
        password_changed_at -> Timestamptz,
        created_at -> Timestamptz,
        alarms_seen_at -> Nullable<Timestamptz>,
        staff_role -> Nullable<Text>,
    }
}

diesel::joinable!(api_tokens -> users (user_id));
diesel::joinable!(containers -> customers (customer_id));
diesel::joinable!(containers -> distros (distro_id));
diesel::joinable!(container_disk_use -> containers (container_id));
diesel::joinable!(containers -> servers (server_id));
diesel::joinable!(host_reports -> servers (server_id));
diesel::joinable!(events -> containers (container_id));
diesel::joinable!(events -> customers (customer_id));
diesel::joinable!(events -> jobs (job_id));
diesel::joinable!(events -> users (actor_user_id));
diesel::joinable!(login_successes -> users (user_id));
diesel::joinable!(image_upload_chunks -> image_uploads (upload_id));
diesel::joinable!(image_uploads -> custom_distros (custom_distro_id));
diesel::joinable!(jobs -> containers (container_id));
diesel::joinable!(jobs -> customers (customer_id));
diesel::joinable!(jobs -> servers (server_id));
diesel::joinable!(servers -> customers (customer_id));
diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(users -> customers (customer_id));

diesel::allow_tables_to_appear_in_same_query!(
    alarms,
    api_tokens,
    container_disk_use,
    containers,
    custom_distros,
    customers,
    distros,
    events,
    host_reports,
    image_upload_chunks,
    image_uploads,
    jobs,
    login_attempts,
    login_successes,
    password_links,
    servers,
    sessions,
    users,
);
