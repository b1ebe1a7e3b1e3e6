//! Runs `Effect`s against the server with the typed client and reports every outcome as an
//! `Action` on the channel. Runs in spawned tasks: nothing here is awaited by the draw loop.

use crate::action::{Action, Effect, Op, Secret};
use futures_util::StreamExt;
use pressluft_common::{Client, ClientError, JobType};
use std::time::Duration;
use tokio::sync::mpsc::UnboundedSender;

/// How often the follower polls a job once its event stream failed.
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);

fn failed(op: Op, err: ClientError) -> Action {
    match err {
        ClientError::Api { code, message, .. } => Action::Failed {
            op,
            code: Some(code),
            message,
        },
        other => Action::Failed {
            op,
            code: None,
            message: other.to_string(),
        },
    }
}

/// Performs one effect and sends its result(s) to `tx`. `FollowJob` keeps sending until the job
/// is terminal or the receiver is gone.
pub async fn execute_effect(client: Client, effect: Effect, tx: UnboundedSender<Action>) {
    let action = match effect {
        Effect::Login { email, password } => login(client, email, password).await,
        Effect::LoadSites => match client.sites().await {
            Ok(sites) => Action::SitesLoaded(sites),
            Err(e) => failed(Op::LoadSites, e),
        },
        Effect::LoadSiteDetail { site_id } => match load_site_detail(&client, &site_id).await {
            Ok(action) => action,
            Err(e) => failed(Op::LoadSiteDetail, e),
        },
        Effect::LoadBackups { environment_id } => match client.backups(&environment_id).await {
            Ok(backups) => Action::BackupsLoaded {
                environment_id,
                backups,
            },
            Err(e) => failed(Op::LoadBackups, e),
        },
        Effect::Preflight {
            environment_id,
            backup_id,
        } => match client.restore_preflight(&environment_id, &backup_id).await {
            Ok(preflight) => Action::PreflightLoaded {
                environment_id,
                backup_id,
                preflight,
            },
            Err(e) => failed(Op::Preflight, e),
        },
        Effect::Restore {
            environment_id,
            backup_id,
        } => match client.restore(&environment_id, &backup_id).await {
            Ok(accepted) => Action::JobStarted {
                job_id: accepted.job_id,
                job_type: JobType::EnvRestore,
                environment_id,
            },
            Err(e) => failed(Op::Restore, e),
        },
        Effect::CreateBackup {
            environment_id,
            scope,
        } => match client.create_backup(&environment_id, scope).await {
            Ok(accepted) => Action::JobStarted {
                job_id: accepted.job_id,
                job_type: JobType::BackupCreate,
                environment_id,
            },
            Err(e) => failed(Op::CreateBackup, e),
        },
        Effect::CancelJob { job_id } => match client.cancel_job(&job_id).await {
            Ok(answer) => Action::CancelAnswered {
                job_id,
                status: answer.status,
            },
            Err(e) => failed(Op::CancelJob, e),
        },
        Effect::FollowJob { job_id } => return follow_job(&client, &job_id, &tx).await,
    };
    // A closed channel means the app has quit; the answer no longer matters.
    let _ = tx.send(action);
}

async fn login(mut client: Client, email: String, password: Secret) -> Action {
    match client.login(&email, password.expose()).await {
        Ok(_) => match client.token() {
            Some(token) => Action::LoggedIn {
                email,
                token: Secret(token.to_string()),
            },
            None => failed(
                Op::Login,
                ClientError::Protocol("login answer without a session".into()),
            ),
        },
        Err(e) => failed(Op::Login, e),
    }
}

async fn load_site_detail(client: &Client, site_id: &str) -> Result<Action, ClientError> {
    let site = client.site(site_id).await?;
    let environments = client.site_environments(site_id).await?;
    let active_job = client
        .jobs()
        .await?
        .into_iter()
        .filter(|j| j.site_id.as_deref() == Some(site_id) && !j.status.is_terminal())
        .max_by(|a, b| a.created_at.cmp(&b.created_at));
    Ok(Action::SiteDetailLoaded {
        site,
        environments,
        active_job,
    })
}

/// Streams the job's events; when the stream cannot be opened or breaks before the terminal
/// status, polls `GET /jobs/{id}` every second instead.
async fn follow_job(client: &Client, job_id: &str, tx: &UnboundedSender<Action>) {
    let reason = match client.job_events(job_id, None).await {
        Ok(stream) => {
            let mut stream = std::pin::pin!(stream);
            loop {
                match stream.next().await {
                    Some(Ok(event)) => {
                        let terminal = event.is_terminal();
                        let sent = tx.send(Action::JobEvent {
                            job_id: job_id.to_string(),
                            event,
                        });
                        if terminal || sent.is_err() {
                            return;
                        }
                    }
                    Some(Err(e)) => break e.to_string(),
                    None => break "the server closed the event stream".to_string(),
                }
            }
        }
        Err(e) => e.to_string(),
    };
    let lost = Action::JobStreamLost {
        job_id: job_id.to_string(),
        reason,
    };
    if tx.send(lost).is_err() {
        return;
    }
    loop {
        let (action, stop) = match client.job(job_id).await {
            Ok(job) => {
                let terminal = job.status.is_terminal();
                (Action::JobSnapshot(job), terminal)
            }
            // A missing job or a refused session will not heal by polling again.
            Err(e) => {
                let fatal = matches!(e.status(), Some(401 | 403 | 404));
                (failed(Op::FollowJob, e), fatal)
            }
        };
        if tx.send(action).is_err() || stop {
            return;
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}
