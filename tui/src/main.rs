//! `pressluft`: parses the command line, sets up the terminal and hands over to the runtime.

use clap::Parser;
use pressluft_common::Client;
use pressluft_tui::cli::{start_auth, Cli};
use pressluft_tui::{runtime, App};

#[tokio::main]
async fn main() -> color_eyre::Result<()> {
    let cli = Cli::parse();
    color_eyre::install()?;
    let config = cli.config();
    let (auth, token) = start_auth(|name| std::env::var(name).ok());
    let mut client = Client::new(&config.server_url);
    if let Some(token) = token {
        client = client.with_token(token);
    }
    let mut app = App::new(config);
    let initial = app.start(auth);
    let mut terminal = ratatui::init();
    let result = runtime::run(&mut terminal, app, client, initial).await;
    ratatui::restore();
    result
}
