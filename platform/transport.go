package platform

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/go-json-experiment/json"
	"go.uber.org/zap"
	"golang.org/x/time/rate"
)

type ctxKey int

const (
	endpointKey ctxKey = iota // string: the Observer's endpoint label
	statusKey                 // *int: receives the answer's status (token fetches)
)

// instrumented sets User-Agent on every request (token requests included) and reports each one.
type instrumented struct {
	base      http.RoundTripper
	platform  string
	userAgent string
	obs       Observer
}

func (t *instrumented) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	r := req.Clone(ctx)
	r.Header.Set("User-Agent", t.userAgent)
	endpoint, _ := ctx.Value(endpointKey).(string)
	start := time.Now()
	resp, err := t.base.RoundTrip(r)
	status := 0
	if err == nil {
		status = resp.StatusCode
		if p, ok := ctx.Value(statusKey).(*int); ok {
			*p = status
		}
	}
	observeRequest(ctx, t.obs, t.platform, endpoint, status, time.Since(start))
	return resp, err
}

// redirectPolicy follows a redirect only to the same scheme and host as allowed, keeping the
// method, at most 3 times; otherwise the 3xx answer itself is returned (and becomes a Permanent
// *Error).
func redirectPolicy(allowed *url.URL) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		if len(via) > 3 || req.URL.Host != allowed.Host || req.URL.Scheme != allowed.Scheme || req.Method != via[0].Method {
			return http.ErrUseLastResponse
		}
		return nil
	}
}

// defaultTransport is http.DefaultTransport keeping idle connections to the one platform host
// (0: DefaultMaxIdleConns).
func defaultTransport(idle int) http.RoundTripper {
	if idle <= 0 {
		idle = DefaultMaxIdleConns
	}
	if t, ok := http.DefaultTransport.(*http.Transport); ok {
		c := t.Clone()
		c.MaxIdleConns = max(c.MaxIdleConns, idle)
		c.MaxIdleConnsPerHost = idle
		return c
	}
	return http.DefaultTransport
}

// authenticator puts credentials on a request; invalidate drops what authorize used when the
// platform refused it (401).
type authenticator interface {
	authorize(ctx context.Context, req *http.Request) (handle any, err error)
	invalidate(handle any)
}

type basicAuth struct{ user, pass string }

func (b basicAuth) authorize(_ context.Context, req *http.Request) (any, error) {
	req.SetBasicAuth(b.user, b.pass)
	return nil, nil
}

func (basicAuth) invalidate(any) {}

// core is what both clients share: one HTTP client, a rate cap, the per-request timeout, the body
// cap, authentication with one retry on 401, and the error model.
type core struct {
	platform string
	http     *http.Client
	limiter  *rate.Limiter // nil: unlimited
	timeout  time.Duration
	maxBody  int64
	auth     authenticator
	jar      *sessionJar                 // Journey Manager only
	scrub    *scrubber                   // the client's secrets and Retry-After cap
	gates    func(endpoint string) *gate // the gate of endpoint's API
	obs      Observer
	log      *zap.Logger
}

type answer struct {
	status    int
	header    http.Header
	body      []byte
	truncated bool
}

func newLimiter(rps float64) *rate.Limiter {
	if rps <= 0 {
		return nil
	}
	burst := int(rps)
	if burst < 1 {
		burst = 1
	}
	return rate.NewLimiter(rate.Limit(rps), burst)
}

// call sends one logical request and returns its 2xx answer, or an *Error. Every HTTP request of
// it first passes its API's gate (see gate.admit) and its answer is recorded there. A 401 that DecodeError
// judges Auth drops the credentials used (and the session cookies), fetches new ones and retries
// once; a second 401 is Permanent. A 403 that sets a new XSRF-TOKEN cookie is retried once with it.
func (c *core) call(ctx context.Context, endpoint, method string, u *url.URL, body []byte) (*answer, error) {
	authRetried, csrfRetried := false, false
	for {
		ans, handle, sentXSRF, err := c.once(ctx, endpoint, method, u, body)
		if err != nil {
			return nil, err
		}
		if ans.status >= 200 && ans.status < 300 {
			c.gates(endpoint).observe(ans.status, nil)
			if ans.truncated {
				return nil, c.malformed(endpoint, ans, errors.New("answer larger than "+strconv.FormatInt(c.maxBody, 10)+" bytes"))
			}
			return ans, nil
		}
		e := decodeError(c.scrub, c.platform, endpoint, ans.status, ans.header, ans.body, time.Now())
		c.observeCode(e.Code)
		c.gates(endpoint).observe(ans.status, e)
		switch {
		case e.Verdict == Auth && !authRetried:
			authRetried = true
			c.auth.invalidate(handle)
			if c.jar != nil {
				c.jar.reset()
			}
			c.log.Info("credentials refused, retrying with new ones", zap.String("endpoint", endpoint), zap.String("code", e.Code))
			continue
		case e.Verdict == Auth:
			e.Verdict = Permanent
		case ans.status == http.StatusForbidden && c.jar != nil && !csrfRetried:
			if x := c.jar.xsrf(u); x != "" && x != sentXSRF {
				csrfRetried = true
				continue
			}
		}
		return nil, e
	}
}

// once sends one HTTP request: the API's gate, rate cap, per-request timeout, credentials, body
// read through the size cap.
func (c *core) once(ctx context.Context, endpoint, method string, u *url.URL, body []byte) (*answer, any, string, error) {
	if err := c.gates(endpoint).admit(ctx, endpoint, c.timeout); err != nil {
		return nil, nil, "", err
	}
	if c.limiter != nil {
		if err := c.limiter.Wait(ctx); err != nil {
			e := c.noAnswer(endpoint, "not sent, waiting for the rate limit", err)
			if ctx.Err() == nil {
				e.Message = "not sent: the rate limit wait would outlast the deadline"
			}
			return nil, nil, "", e
		}
	}
	rctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	rctx = context.WithValue(rctx, endpointKey, endpoint)
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(rctx, method, u.String(), rd)
	if err != nil {
		return nil, nil, "", &Error{Platform: c.platform, Endpoint: endpoint, Message: "cannot build request", Verdict: Permanent, Err: err}
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	handle, err := c.auth.authorize(ctx, req)
	if err != nil {
		return nil, nil, "", err
	}
	var xsrf string
	if c.jar != nil {
		if xsrf = c.jar.xsrf(u); xsrf != "" {
			req.Header.Set("X-XSRF-TOKEN", xsrf)
		}
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, nil, "", c.noAnswer(endpoint, "", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, c.maxBody+1))
	if err != nil {
		return nil, nil, "", &Error{Platform: c.platform, Endpoint: endpoint, HTTPStatus: resp.StatusCode,
			Message: "answer cut off", Verdict: Transient, Body: excerpt([]byte(c.scrub.text(string(data))), maxBodyExcerpt), Err: c.scrub.err(err)}
	}
	ans := &answer{status: resp.StatusCode, header: resp.Header, body: data}
	if int64(len(data)) > c.maxBody {
		ans.body, ans.truncated = data[:c.maxBody], true
	}
	return ans, handle, xsrf, nil
}

func (c *core) noAnswer(endpoint, what string, err error) *Error {
	return noAnswer(c.platform, endpoint, what, err)
}

// noAnswer is the Transient *Error of a request that got no HTTP answer; what says where it
// stopped ("" for the request itself).
func noAnswer(platform, endpoint, what string, err error) *Error {
	msg := "connection failed"
	if errors.Is(err, context.DeadlineExceeded) {
		msg = "timed out"
	} else if errors.Is(err, context.Canceled) {
		msg = "cancelled"
	}
	if what != "" {
		msg = what + ": " + msg
	}
	return &Error{Platform: platform, Endpoint: endpoint, Message: msg, Verdict: Transient, Err: err}
}

// malformed is the Transient MALFORMED_RESPONSE *Error of a 2xx answer that is not the documented
// JSON: its Message says why (err) and ends with the body's first bytes, which Body holds too.
func (c *core) malformed(endpoint string, ans *answer, err error) *Error {
	e := decodeError(c.scrub, c.platform, endpoint, ans.status, ans.header, ans.body, time.Now())
	if e.Code != CodeMalformedResponse { // decodeError only says so for 2xx
		e.Code, e.Verdict = CodeMalformedResponse, Transient
	}
	e.Err = c.scrub.err(err)
	e.Message = malformedMessage(e.Err.Error(), e.Body)
	c.observeCode(e.Code)
	return e
}

// jsonBody returns the body of a 2xx answer that must be a JSON object (open '{') or array ('['),
// without surrounding white space, or the MALFORMED_RESPONSE *Error when it opens with anything
// else.
func (c *core) jsonBody(endpoint string, ans *answer, open byte) ([]byte, error) {
	b := bytes.TrimSpace(ans.body)
	if len(b) == 0 || b[0] != open {
		return nil, c.malformed(endpoint, ans, errors.New("expected a JSON "+map[byte]string{'{': "object", '[': "array"}[open]))
	}
	return b, nil
}

// decode unmarshals (json v2, see answers.go) a 2xx answer that must be a JSON object (open '{')
// or array ('[').
func (c *core) decode(endpoint string, ans *answer, open byte, v any) error {
	b, err := c.jsonBody(endpoint, ans, open)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return c.malformed(endpoint, ans, err)
	}
	return nil
}

func (c *core) observeCode(code string) {
	if code != "" {
		c.obs.ObserveErrorCode(c.platform, code)
	}
}
