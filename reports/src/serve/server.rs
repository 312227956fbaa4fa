//! The axum application: routes, and running it.
//!
//! [`router`] is the whole application over one store directory; [`serve`]
//! runs it until the process ends (its own single-threaded tokio runtime: the
//! work is file IO, done on tokio's blocking pool so one slow request does not
//! stall the others); [`spawn`] runs it on a background thread and stops it
//! when the returned [`Background`] is dropped (for tests). The store is read
//! afresh on every request, so runs that appear while serving are listed at
//! once; nothing is ever written.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;

use axum::extract::{Query, State};
use axum::http::{header, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::sync::oneshot;

use super::index::{render, IndexQuery};
use super::runs::{matches, scan};

/// Why `serve` could not run. One line each.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The store is not a directory.
    #[error("store {0} is not a directory")]
    NoStore(PathBuf),
    /// The address could not be bound (in use, not local, no permission).
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The async runtime could not start.
    #[error("cannot start the server runtime: {0}")]
    Runtime(std::io::Error),
    /// The server stopped with an error.
    #[error("server failed: {0}")]
    Serve(std::io::Error),
}

#[derive(Clone)]
struct App {
    store: Arc<PathBuf>,
}

/// The application over `store` (`<store>/<test>/<timestamp>/` runs).
pub fn router(store: PathBuf) -> Router {
    let app = App {
        store: Arc::new(store),
    };
    Router::new()
        .route("/", get(index))
        .route("/runs/{*rest}", get(runs))
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
        .with_state(app)
}

async fn index(State(app): State<App>, Query(query): Query<IndexQuery>) -> Response {
    let store = Arc::clone(&app.store);
    let page = tokio::task::spawn_blocking(move || index_page(&store, &query)).await;
    match page {
        Ok(html) => ([(header::CACHE_CONTROL, "no-cache")], Html(html)).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// The index HTML for `store` filtered by `query` (blocking).
pub fn index_page(store: &Path, query: &IndexQuery) -> String {
    let all = scan(store);
    let total = all.len();
    let shown: Vec<_> = all
        .into_iter()
        .filter(|r| matches(r, query.q.as_deref(), query.verdict.as_deref()))
        .collect();
    render(&shown, total, query)
}

async fn runs(State(app): State<App>, uri: Uri) -> Response {
    let store = Arc::clone(&app.store);
    let raw = uri.path().strip_prefix("/runs/").unwrap_or("").to_string();
    let query = uri.query().map(str::to_string);
    tokio::task::spawn_blocking(move || super::run::answer(&store, &raw, query.as_deref()))
        .await
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

fn runtime() -> Result<tokio::runtime::Runtime, ServeError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .map_err(ServeError::Runtime)
}

fn bind(store: &Path, addr: SocketAddr) -> Result<TcpListener, ServeError> {
    if !store.is_dir() {
        return Err(ServeError::NoStore(store.to_path_buf()));
    }
    let listener = TcpListener::bind(addr).map_err(|source| ServeError::Bind { addr, source })?;
    listener
        .set_nonblocking(true)
        .map_err(|source| ServeError::Bind { addr, source })?;
    Ok(listener)
}

async fn run(
    listener: TcpListener,
    store: PathBuf,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let listener = tokio::net::TcpListener::from_std(listener).map_err(ServeError::Serve)?;
    axum::serve(listener, router(store))
        .with_graceful_shutdown(stop)
        .await
        .map_err(ServeError::Serve)
}

/// Serves `store` on `bind` until the process is stopped. Blocking.
pub fn serve(store: PathBuf, bind_addr: SocketAddr) -> Result<(), ServeError> {
    let listener = bind(&store, bind_addr)?;
    runtime()?.block_on(run(listener, store, std::future::pending()))
}

/// A server running on a background thread; dropping it stops the server
/// and waits for the thread.
pub struct Background {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<Result<(), ServeError>>>,
}

impl Background {
    /// The address actually bound (port 0 picks a free port).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://<addr>` followed by `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Starts serving `store` on `bind_addr` on a background thread.
pub fn spawn(store: PathBuf, bind_addr: SocketAddr) -> Result<Background, ServeError> {
    let listener = bind(&store, bind_addr)?;
    let addr = listener.local_addr().map_err(|source| ServeError::Bind {
        addr: bind_addr,
        source,
    })?;
    let rt = runtime()?;
    let (tx, rx) = oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("faultline-serve".into())
        .spawn(move || {
            rt.block_on(run(listener, store, async {
                let _ = rx.await;
            }))
        })
        .map_err(ServeError::Runtime)?;
    Ok(Background {
        addr,
        stop: Some(tx),
        thread: Some(thread),
    })
}
