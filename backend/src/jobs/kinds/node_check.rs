//! `node_check`: runs `ansible/playbooks/node-check.yml` against the job's node (reachability,
//! Python, free disk) and keeps the node's status in line: `unreachable` when it cannot be
//! reached, back to `active` when a check succeeds.

use crate::error::AppError;
use crate::jobs::handler::{BoxFuture, JobContext, JobFailure, JobHandler, Settlement};
use crate::jobs::store::JobRow;
use pressluft_common::JobType;
use rusqlite::{params, Transaction};
use serde_json::Value;

pub const PLAYBOOK: &str = "node-check.yml";

pub struct NodeCheck;

impl JobHandler for NodeCheck {
    fn job_type(&self) -> JobType {
        JobType::NodeCheck
    }

    fn run<'a>(&'a self, ctx: &'a JobContext) -> BoxFuture<'a, Result<Value, JobFailure>> {
        Box::pin(async move {
            // The payload may tune the check (e.g. `min_free_bytes`); it is passed as extra-vars.
            let vars = match &ctx.job.payload {
                Value::Object(m) => Value::Object(m.clone()),
                _ => Value::Object(Default::default()),
            };
            let outcome = ctx.run_playbook(PLAYBOOK, vars).await?;
            Ok(outcome.result)
        })
    }

    fn settle(
        &self,
        tx: &Transaction<'_>,
        job: &JobRow,
        outcome: &Settlement<'_>,
    ) -> Result<(), AppError> {
        let Some(node_id) = &job.node_id else {
            return Ok(());
        };
        let (from, to) = match outcome {
            Settlement::Succeeded { .. } => ("unreachable", "active"),
            Settlement::Failed { failure } if failure.code == "ANSIBLE_HOST_UNREACHABLE" => {
                ("active", "unreachable")
            }
            _ => return Ok(()),
        };
        tx.execute(
            "UPDATE nodes SET status = ?3, state_version = state_version + 1, updated_at = ?4 \
             WHERE id = ?1 AND status = ?2",
            params![node_id, from, to, crate::util::now()],
        )?;
        Ok(())
    }
}
