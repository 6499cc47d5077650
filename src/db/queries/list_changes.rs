//! The state a customer's container list is read against: how many changes to it have been
//! committed (`list_changes`, kept by triggers), its containers' pending jobs and the top bar's
//! counts, in one statement.

use chrono::Utc;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Integer, Nullable, Timestamptz};

use crate::db::fixed;
use crate::db::queries::dashboard::{FAILED_SHOWN_FOR, JobCounts};
use crate::domain::ids::{ContainerId, CustomerId};

/// What a customer's lists show besides the containers' own rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListState {
    /// Grows with every committed change to what the lists show, and with nothing else.
    pub version: i64,
    /// The container of each pending job that has one, in order, once per job.
    pub pending: Vec<ContainerId>,
    pub counts: JobCounts,
}

#[derive(QueryableByName)]
struct StateRow {
    #[diesel(sql_type = BigInt)]
    version: i64,
    #[diesel(sql_type = Array<Nullable<Integer>>)]
    pending: Vec<Option<i32>>,
    #[diesel(sql_type = BigInt)]
    failed: i64,
}

const STATE: &str = "SELECT \
    (SELECT COALESCE(sum(changes), 0)::int8 FROM list_changes WHERE customer_id = $1) AS version, \
    ARRAY(SELECT jobs.container_id FROM jobs WHERE jobs.customer_id = $1 \
          AND jobs.state IN ('queued', 'running', 'retrying') \
          ORDER BY jobs.container_id) AS pending, \
    (SELECT count(*) FROM jobs WHERE jobs.customer_id = $1 AND jobs.state = 'failed' \
          AND jobs.finished_at > $2) AS failed";

/// The customer's list state. Read it before the rows it versions: rows read after it are at
/// least as new as it says.
pub fn state(conn: &mut PgConnection, customer: CustomerId) -> QueryResult<ListState> {
    let shown_after = Utc::now() - FAILED_SHOWN_FOR;
    let row: StateRow = fixed::statement(STATE, |q| {
        q.bind::<Integer, _>(customer.0)
            .bind::<Timestamptz, _>(shown_after)
    })
    .get_result(conn)?;
    let pending_jobs = row.pending.len() as i64;
    Ok(ListState {
        version: row.version,
        pending: row.pending.into_iter().flatten().map(ContainerId).collect(),
        counts: JobCounts {
            pending: pending_jobs,
            failed: row.failed,
        },
    })
}

/// Folds each customer's rows into one that holds their sum, so reading a version stays one
/// short index scan; the sums stay as they were. Rows of customers gone are dropped. How many
/// rows fewer the table has.
pub fn fold(conn: &mut PgConnection) -> QueryResult<usize> {
    #[derive(QueryableByName)]
    struct Removed {
        #[diesel(sql_type = BigInt)]
        removed: i64,
    }
    let done: Removed = fixed::statement(
        "WITH removed AS ( \
             DELETE FROM list_changes \
             WHERE customer_id IN (SELECT customer_id FROM list_changes \
                                   GROUP BY customer_id HAVING count(*) > 1) \
                OR customer_id NOT IN (SELECT id FROM customers) \
             RETURNING customer_id, changes), \
         kept AS ( \
             INSERT INTO list_changes (customer_id, changes) \
             SELECT customer_id, sum(changes) FROM removed \
             WHERE customer_id IN (SELECT id FROM customers) \
             GROUP BY customer_id RETURNING 1) \
         SELECT (SELECT count(*) FROM removed) - (SELECT count(*) FROM kept) AS removed",
        |q| q,
    )
    .get_result(conn)?;
    Ok(done.removed.max(0) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lists_count_the_same_pending_states_as_the_top_bar() {
        let pending = crate::db::queries::api_jobs::IS_PENDING_SQL;
        assert_eq!(STATE.matches(pending).count(), 1, "{STATE}");
    }
}
