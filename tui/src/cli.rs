//! Command-line arguments and how they and the environment turn into a `Config` and the
//! credentials to start with. Secrets come only from the environment, never from argv.

use crate::action::Secret;
use crate::app::{Config, StartAuth};
use crate::strings;
use clap::Parser;

#[derive(Debug, Parser)]
#[command(name = "pressluft", version, about = strings::ABOUT, after_help = strings::CLI_AFTER_HELP)]
pub struct Cli {
    /// Base URL of the Pressluft server.
    #[arg(long, env = "PRESSLUFT_URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// Open this site's detail view directly (its slug).
    #[arg(long, value_name = "SLUG")]
    pub site: Option<String>,
}

/// The start credentials from `PRESSLUFT_TOKEN`, or `PRESSLUFT_EMAIL` + `PRESSLUFT_PASSWORD`.
pub fn start_auth(lookup: impl Fn(&str) -> Option<String>) -> (StartAuth, Option<String>) {
    let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
    if let Some(token) = get("PRESSLUFT_TOKEN") {
        return (StartAuth::Token, Some(token));
    }
    match (get("PRESSLUFT_EMAIL"), get("PRESSLUFT_PASSWORD")) {
        (Some(email), Some(password)) => (
            StartAuth::Credentials {
                email,
                password: Secret(password),
            },
            None,
        ),
        _ => (StartAuth::Form, None),
    }
}

impl Cli {
    pub fn config(&self) -> Config {
        Config {
            server_url: self.url.trim_end_matches('/').to_string(),
            site_slug: self.site.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_wins_over_email_and_password() {
        let env = |k: &str| match k {
            "PRESSLUFT_TOKEN" => Some("tok".to_string()),
            "PRESSLUFT_EMAIL" => Some("a@b.c".to_string()),
            "PRESSLUFT_PASSWORD" => Some("pw".to_string()),
            _ => None,
        };
        assert_eq!(start_auth(env), (StartAuth::Token, Some("tok".to_string())));
        let creds = |k: &str| (k != "PRESSLUFT_TOKEN").then(|| "x".to_string());
        assert!(matches!(start_auth(creds).0, StartAuth::Credentials { .. }));
        assert_eq!(start_auth(|_| None), (StartAuth::Form, None));
    }

    #[test]
    fn cli_parses_url_and_site() {
        let cli = Cli::parse_from(["pressluft", "--url", "http://h:1/", "--site", "acme"]);
        let config = cli.config();
        assert_eq!(config.server_url, "http://h:1");
        assert_eq!(config.site_slug.as_deref(), Some("acme"));
    }
}
