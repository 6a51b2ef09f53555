//! The `timconv-server` binary: `serve` (the default) runs the server; `mint-token` prints a
//! token for a user.

use std::io::Write;
use std::net::SocketAddr;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "timconv-server",
    version,
    about = "Reference sync server for timconv devices"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve(ServeArgs),
    /// Print a token that authenticates a device as a user.
    MintToken {
        /// The user.
        #[arg(long)]
        user: String,
        /// How long it stays valid, in seconds.
        #[arg(long, default_value_t = 86_400)]
        ttl: u64,
        /// The server secret it is signed with.
        #[arg(long, env = "TIMCONV_SECRET", hide_env_values = true)]
        secret: String,
    },
}

#[derive(clap::Args, Clone)]
struct ServeArgs {
    /// `sqlite:FILE?mode=rwc` (the default, a file here) or `postgres://user:pw@host:port/db`.
    #[arg(
        long,
        env = "TIMCONV_DATABASE_URL",
        default_value = "sqlite:timconv-server.db?mode=rwc"
    )]
    database_url: String,
    /// Address to listen on.
    #[arg(long, env = "TIMCONV_LISTEN", default_value = "127.0.0.1:8787")]
    listen: SocketAddr,
    /// Signs user tokens (a random one for this run if absent).
    #[arg(long, env = "TIMCONV_SECRET", hide_env_values = true)]
    secret: Option<String>,
    /// Guards the admin endpoints (a random one for this run if absent).
    #[arg(long, env = "TIMCONV_ADMIN_SECRET", hide_env_values = true)]
    admin_secret: Option<String>,
    /// How often, in milliseconds, the versions of connected users are polled where
    /// notifications do not reach (SQLite; PostgreSQL while its listener reconnects).
    #[arg(long, env = "TIMCONV_POLL_INTERVAL_MS", default_value_t = 1000)]
    poll_interval_ms: u64,
}

/// 128 random bits, hex, from the standard library's randomly keyed hasher.
fn random_secret() -> String {
    use std::hash::{BuildHasher, Hasher};
    (0..2)
        .map(|n| {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u32(n);
            format!("{:016x}", h.finish())
        })
        .collect()
}

async fn serve(args: ServeArgs) -> Result<(), Box<dyn std::error::Error>> {
    let secret = args.secret.unwrap_or_else(|| {
        let s = random_secret();
        tracing::warn!(
            "no --secret (or TIMCONV_SECRET): tokens for this run are signed with {s}; \
             mint one with `timconv-server mint-token --secret {s} --user NAME`"
        );
        s
    });
    let admin = args.admin_secret.unwrap_or_else(|| {
        let s = random_secret();
        tracing::warn!("no --admin-secret (or TIMCONV_ADMIN_SECRET): it is {s} for this run");
        s
    });
    let options = timconv_server::Options::new(args.database_url, secret, admin)
        .listen(args.listen)
        .poll_interval(std::time::Duration::from_millis(
            args.poll_interval_ms.max(1),
        ));
    let server = timconv_server::start(options).await?;
    stop_signal().await?;
    tracing::info!("stopping");
    server.shutdown().await;
    Ok(())
}

/// Waits for Ctrl-C (SIGINT) or, on Unix, SIGTERM.
async fn stop_signal() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result,
            _ = term.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
        Some(Command::MintToken { user, ttl, secret }) => {
            let token = timconv_server::Keys::new(secret, Vec::new()).mint(&user, ttl);
            writeln!(std::io::stdout(), "{token}")?;
            Ok(())
        }
        Some(Command::Serve(args)) => serve(args).await,
        None => serve(cli.serve).await,
    }
}
