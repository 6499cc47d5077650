//! Queries grouped by aggregate. Each function takes a `&mut PgConnection` and returns
//! `QueryResult`, so callers choose the transaction.

pub mod alarms;
pub mod api_jobs;
pub mod api_tokens;
pub mod audit;
pub mod container_pages;
pub mod containers;
pub mod custom_distros;
pub mod customers;
pub mod dashboard;
pub mod distro_jobs;
pub mod distros;
pub mod events;
pub mod fair_use;
pub mod host_alarms;
pub mod host_facts;
pub mod host_reports;
pub mod image_uploads;
pub mod images;
pub mod jobs;
pub mod list_changes;
pub mod login_attempts;
pub mod metrics;
pub mod overview;
pub mod provision;
pub mod server_tokens;
pub mod servers;
pub mod sessions;
pub mod staff_act;
pub mod staff_alarms;
pub mod staff_jobs;
pub mod staff_search;
pub mod staff_views;
pub mod users;

/// A fixed piece of SQL as a typed expression of its own: `$name` selects `$sql`, of SQL type
/// `$st`, wherever `$column` may be selected (the SQL names that column's table). Unlike
/// diesel's `sql()` literal, a statement using it keeps a static identity, so it is prepared
/// once per connection and not parsed and planned on every run.
macro_rules! fixed_sql_expression {
    ($(#[$meta:meta])* $vis:vis $name:ident: $st:ty, on $column:path, $sql:expr) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, diesel::query_builder::QueryId)]
        $vis struct $name;

        impl diesel::expression::Expression for $name {
            type SqlType = $st;
        }

        impl<QS> diesel::expression::AppearsOnTable<QS> for $name where
            $column: diesel::expression::AppearsOnTable<QS>
        {
        }

        impl<QS> diesel::expression::SelectableExpression<QS> for $name where
            $column: diesel::expression::SelectableExpression<QS>
        {
        }

        impl<GB> diesel::expression::ValidGrouping<GB> for $name {
            type IsAggregate = diesel::expression::is_aggregate::Never;
        }

        impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for $name {
            fn walk_ast<'b>(
                &'b self,
                mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
            ) -> diesel::QueryResult<()> {
                out.push_sql($sql);
                Ok(())
            }
        }
    };
}
pub(crate) use fixed_sql_expression;
