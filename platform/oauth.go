package platform

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"sync"
	"time"

	"go.uber.org/zap"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// tokenSource is the OAuth2 client-credentials token cache: one token shared by all requests,
// fetched once at a time (concurrent callers wait for the same fetch, each within its own ctx),
// refreshed shortly before it expires (a fifth of its lifetime, at most a minute) and dropped when
// the platform refuses it.
type tokenSource struct {
	platform string
	conf     clientcredentials.Config
	client   *http.Client // User-Agent, Observer, timeout, redirect policy
	timeout  time.Duration
	obs      Observer
	log      *zap.Logger

	scrub *scrubber // set by the client: its secrets, these tokens, its Retry-After cap
	gate  *gate     // set by the client: the token endpoint's gate (nil: none)

	sem       chan struct{} // one fetch at a time
	mu        sync.Mutex
	tok       *oauth2.Token
	recent    [2]string // the last two access tokens fetched (a refused one may still be echoed)
	refreshAt time.Time // zero: no expiry given, keep until refused
	now       func() time.Time
}

func newTokenSource(platform, tokenURL, id, secret string, scopes []string, client *http.Client,
	timeout time.Duration, obs Observer, log *zap.Logger) *tokenSource {
	return &tokenSource{
		platform: platform,
		conf: clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: tokenURL, Scopes: scopes,
			AuthStyle: oauth2.AuthStyleInHeader},
		client:  client,
		timeout: timeout,
		obs:     obs,
		log:     log,
		sem:     make(chan struct{}, 1),
		now:     time.Now,
	}
}

func (t *tokenSource) authorize(ctx context.Context, req *http.Request) (any, error) {
	tok, err := t.get(ctx)
	if err != nil {
		return nil, err
	}
	tok.SetAuthHeader(req)
	return tok, nil
}

// invalidate drops tok if it is still the cached one (concurrent 401s cause one refetch, not many).
func (t *tokenSource) invalidate(handle any) {
	tok, _ := handle.(*oauth2.Token)
	t.mu.Lock()
	defer t.mu.Unlock()
	if tok != nil && t.tok == tok {
		t.tok = nil
	}
}

// held returns the access tokens the source holds or held last (for redaction).
func (t *tokenSource) held() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return []string{t.recent[0], t.recent[1]}
}

func (t *tokenSource) cached() *oauth2.Token {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tok != nil && (t.refreshAt.IsZero() || t.now().Before(t.refreshAt)) {
		return t.tok
	}
	return nil
}

// get returns the cached token or fetches one (bounded by the request timeout).
func (t *tokenSource) get(ctx context.Context) (*oauth2.Token, error) {
	if tok := t.cached(); tok != nil {
		return tok, nil
	}
	select {
	case t.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, noAnswer(t.platform, endpointToken, "waiting for a token", ctx.Err())
	}
	defer func() { <-t.sem }()
	if tok := t.cached(); tok != nil {
		return tok, nil
	}
	if err := t.gate.admit(ctx, endpointToken, t.timeout); err != nil {
		return nil, err
	}
	status := 0
	fctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	fctx = context.WithValue(fctx, oauth2.HTTPClient, t.client)
	fctx = context.WithValue(fctx, endpointKey, endpointToken)
	fctx = context.WithValue(fctx, statusKey, &status)
	start := time.Now()
	tok, err := t.conf.Token(fctx)
	t.obs.ObserveTokenFetch(t.platform, err == nil)
	if err != nil {
		e := t.tokenError(err, status)
		if e.HTTPStatus != 0 {
			t.gate.observe(e.HTTPStatus, e)
		}
		if e.Code != "" {
			t.obs.ObserveErrorCode(t.platform, e.Code)
		}
		t.log.Warn("token fetch failed", zap.Int("http_status", e.HTTPStatus), zap.String("code", e.Code),
			zap.Stringer("verdict", e.Verdict))
		return nil, e
	}
	t.gate.observe(status, nil)
	var refreshAt time.Time
	if !tok.Expiry.IsZero() {
		margin := min(tok.Expiry.Sub(start)/5, time.Minute)
		refreshAt = tok.Expiry.Add(-margin)
	}
	t.mu.Lock()
	t.tok, t.refreshAt = tok, refreshAt
	t.recent = [2]string{tok.AccessToken, t.recent[0]}
	t.mu.Unlock()
	t.log.Debug("token fetched", zap.Time("expiry", tok.Expiry))
	return tok, nil
}

// tokenError turns an oauth2 failure into an *Error: an error answer is decoded (the OAuth2
// "error" value becomes the code when no platform code is found; 400/401 are Permanent), no
// answer is Transient, and a 2xx answer without a usable token is MALFORMED_RESPONSE.
func (t *tokenSource) tokenError(err error, status int) *Error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		e := decodeError(t.scrub, t.platform, endpointToken, re.Response.StatusCode, re.Response.Header, re.Body, time.Now())
		if code := t.scrub.code(re.ErrorCode); tokenLike.MatchString(code) && (e.Code == "" || e.Code == CodeMalformedResponse) {
			e.Code = code
		}
		if e.HTTPStatus >= 200 && e.HTTPStatus < 300 && re.ErrorCode != "" {
			e.Verdict = Permanent // a 2xx carrying an OAuth2 error
		}
		if re.ErrorDescription != "" {
			e.Message = cleanText(t.scrub.text(re.ErrorDescription), maxMessage)
		}
		// The oauth2 error's text quotes the whole answer: keep only its redacted text, never the
		// answer itself.
		e.Err = scrubbedError(t.scrub.text(err.Error()))
		return e
	}
	var ue *url.Error
	if errors.As(err, &ue) || status == 0 {
		return noAnswer(t.platform, endpointToken, "", t.scrub.err(err))
	}
	return &Error{Platform: t.platform, Endpoint: endpointToken, HTTPStatus: status, Code: CodeMalformedResponse,
		Message: "token answer unusable", Verdict: Transient, Err: t.scrub.err(err)}
}
