//! Raw statements whose SQL text is a constant, kept prepared on each connection.
//!
//! diesel never keeps a `sql_query` prepared, since its text may have been built at run time
//! and a cache keyed by it could grow without bound. The job queue's claim and settle
//! statements are long constants run thousands of times a minute: parsing and planning them
//! again on every run cost the database more than running them. [`statement`] only takes a
//! `&'static str`, so what it keeps prepared is bounded by the program's text.

use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId, SqlQuery};
use diesel::{QueryResult, RunQueryDsl};

/// A raw statement that diesel keeps prepared, keyed by its text and its binds' types. It
/// loads rows that derive `QueryableByName`, as `sql_query` does.
#[derive(Debug, Clone)]
#[must_use = "a statement does nothing until it is run"]
pub struct Fixed<Q>(Q);

/// The statement `sql` with the binds `bind` adds to it (`|q| q.bind::<Text, _>(name)`),
/// to be run like any diesel query.
pub fn statement<Q>(sql: &'static str, bind: impl FnOnce(SqlQuery) -> Q) -> Fixed<Q> {
    Fixed(bind(diesel::sql_query(sql)))
}

impl<Q: Query> Query for Fixed<Q> {
    type SqlType = Q::SqlType;
}

impl<Q> QueryId for Fixed<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q: QueryFragment<Pg>> QueryFragment<Pg> for Fixed<Q> {
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        self.0.walk_ast(pass)
    }

    /// The text came from the program, not from a run: one entry per statement of it.
    fn is_safe_to_cache_prepared(&self, _backend: &Pg) -> QueryResult<bool> {
        Ok(true)
    }
}

impl<Q, C> RunQueryDsl<C> for Fixed<Q> {}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::sql_types::{BigInt, Text as SqlText};

    #[test]
    fn a_fixed_statement_is_its_text_with_its_binds_in_order() {
        let query = statement("SELECT $1::int8, $2::text", |q| {
            q.bind::<BigInt, _>(7_i64).bind::<SqlText, _>("seven")
        });
        let shown = diesel::debug_query::<Pg, _>(&query).to_string();
        assert_eq!(shown, r#"SELECT $1::int8, $2::text -- binds: [7, "seven"]"#);
    }

    #[test]
    fn a_fixed_statement_may_be_kept_prepared() {
        let query = statement("SELECT $1::int8", |q| q.bind::<BigInt, _>(7_i64));
        assert!(query.is_safe_to_cache_prepared(&Pg).unwrap());
        assert!(
            !diesel::sql_query("SELECT 1")
                .is_safe_to_cache_prepared(&Pg)
                .unwrap()
        );
    }
}
