//! A tower layer that puts a [`TokenSource`]'s bearer token on every request
//! of a kube-rs client, caching the token and asking for a new one a minute
//! before it expires (so EKS and GKE tokens, and static ones, plug in alike).
//! This file must not log or print a token.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use http::{HeaderValue, Request};
use tower::{BoxError, Layer, Service};

use crate::{ClusterError, Token, TokenSource};

/// Refresh this long before a token expires.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(60);

/// A token that never changes (a simulated cluster's, a kubeconfig's).
pub struct StaticToken(pub String);

#[async_trait::async_trait]
impl TokenSource for StaticToken {
    async fn token(&self) -> Result<Token, ClusterError> {
        Ok(Token { value: self.0.clone(), expires: None })
    }
}

/// The cached token of one source, shared by every clone of the service.
pub struct TokenCache {
    source: Arc<dyn TokenSource>,
    current: tokio::sync::Mutex<Option<(Token, HeaderValue)>>,
}

impl TokenCache {
    pub fn new(source: Arc<dyn TokenSource>) -> Arc<TokenCache> {
        Arc::new(TokenCache { source, current: tokio::sync::Mutex::new(None) })
    }

    fn fresh(token: &Token) -> bool {
        match token.expires {
            None => true,
            Some(at) => SystemTime::now() + REFRESH_MARGIN < at,
        }
    }

    /// The `Authorization` header value, minting a new token when the cached
    /// one is missing or about to expire.
    pub async fn header(&self) -> Result<HeaderValue, ClusterError> {
        let mut current = self.current.lock().await;
        if let Some((token, header)) = current.as_ref() {
            if Self::fresh(token) {
                return Ok(header.clone());
            }
        }
        let token = self.source.token().await?;
        let mut header = HeaderValue::from_str(&format!("Bearer {}", token.value)).map_err(|_| ClusterError::Credentials {
            target: String::new(),
            message: "the token source returned a token that is not a valid HTTP header value".into(),
        })?;
        header.set_sensitive(true);
        *current = Some((token, header.clone()));
        Ok(header)
    }
}

/// The layer: wraps a service in [`BearerAuth`].
#[derive(Clone)]
pub struct BearerAuthLayer {
    cache: Arc<TokenCache>,
}

impl BearerAuthLayer {
    pub fn new(source: Arc<dyn TokenSource>) -> BearerAuthLayer {
        BearerAuthLayer { cache: TokenCache::new(source) }
    }
}

impl<S> Layer<S> for BearerAuthLayer {
    type Service = BearerAuth<S>;
    fn layer(&self, inner: S) -> BearerAuth<S> {
        BearerAuth { inner, cache: self.cache.clone(), pending: None, ready: None }
    }
}

type HeaderFuture = Pin<Box<dyn Future<Output = Result<HeaderValue, ClusterError>> + Send>>;

/// Gets the header in `poll_ready` (the service need not be `Clone`), and
/// sets it in `call`.
pub struct BearerAuth<S> {
    inner: S,
    cache: Arc<TokenCache>,
    pending: Option<HeaderFuture>,
    ready: Option<HeaderValue>,
}

impl<S, B> Service<Request<B>> for BearerAuth<S>
where
    S: Service<Request<B>>,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        if self.ready.is_none() {
            let cache = self.cache.clone();
            let fut = self.pending.get_or_insert_with(|| Box::pin(async move { cache.header().await }));
            match fut.as_mut().poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(r) => {
                    self.pending = None;
                    self.ready = Some(r.map_err(|e| Box::new(e) as BoxError)?);
                }
            }
        }
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        if let Some(header) = self.ready.take() {
            req.headers_mut().insert(http::header::AUTHORIZATION, header);
        }
        let fut = self.inner.call(req);
        Box::pin(async move { fut.await.map_err(Into::into) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// Mints `token-N`, valid for `life`.
    struct Counting {
        minted: AtomicU32,
        life: Duration,
    }

    #[async_trait::async_trait]
    impl TokenSource for Counting {
        async fn token(&self) -> Result<Token, ClusterError> {
            let n = self.minted.fetch_add(1, Ordering::SeqCst);
            Ok(Token { value: format!("token-{n}"), expires: Some(SystemTime::now() + self.life) })
        }
    }

    #[tokio::test]
    async fn a_fresh_token_is_reused_and_one_about_to_expire_is_replaced() {
        let long = Arc::new(Counting { minted: AtomicU32::new(0), life: Duration::from_secs(3600) });
        let cache = TokenCache::new(long.clone());
        assert_eq!(cache.header().await.unwrap(), "Bearer token-0");
        assert_eq!(cache.header().await.unwrap(), "Bearer token-0");
        assert_eq!(long.minted.load(Ordering::SeqCst), 1);

        // Inside the refresh margin: every request gets a new one.
        let short = Arc::new(Counting { minted: AtomicU32::new(0), life: REFRESH_MARGIN / 2 });
        let cache = TokenCache::new(short.clone());
        assert_eq!(cache.header().await.unwrap(), "Bearer token-0");
        assert_eq!(cache.header().await.unwrap(), "Bearer token-1");
        assert!(cache.header().await.unwrap().is_sensitive());
    }
}
