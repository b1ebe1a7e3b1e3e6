//! The thin event loop: draw, wait for a terminal event or an effect's answer, update, spawn the
//! new effects. The only place that touches the terminal and the network client.

use crate::action::{Action, Effect};
use crate::app::App;
use crate::effects::execute_effect;
use crate::ui;
use crossterm::event::{Event, EventStream, KeyEventKind};
use futures_util::StreamExt;
use pressluft_common::Client;
use ratatui::DefaultTerminal;
use tokio::sync::mpsc::{self, UnboundedSender};

fn spawn_all(client: &Client, effects: Vec<Effect>, tx: &UnboundedSender<Action>) {
    for effect in effects {
        tokio::spawn(execute_effect(client.clone(), effect, tx.clone()));
    }
}

/// Runs the app until it asks to quit. `initial` are the effects of `App::start`.
pub async fn run(
    terminal: &mut DefaultTerminal,
    mut app: App,
    mut client: Client,
    initial: Vec<Effect>,
) -> color_eyre::Result<()> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut events = EventStream::new();
    spawn_all(&client, initial, &tx);
    while !app.should_quit {
        terminal.draw(|frame| ui::render(&app, frame))?;
        let action = tokio::select! {
            event = events.next() => match event {
                Some(Ok(Event::Key(key))) if key.kind != KeyEventKind::Release => Action::Key(key),
                Some(Ok(Event::Resize(..))) => Action::Resize,
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(e.into()),
                None => break,
            },
            Some(action) = rx.recv() => action,
        };
        // The session token lives in the client, never in the app state.
        if let Action::LoggedIn { token, .. } = &action {
            client = client.clone().with_token(token.expose());
        }
        let effects = app.update(action);
        spawn_all(&client, effects, &tx);
    }
    Ok(())
}
