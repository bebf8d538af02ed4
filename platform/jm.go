package platform

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-json-experiment/json"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
)

const jmQueryPath = "/workspaces/secure/api/v1/txn/query"

// JMConfig configures the Journey Manager client. Exactly one way of authenticating is given:
// HTTP Basic (Username, Password) or an OAuth2 client-credentials bearer token (TokenURL,
// ClientID, ClientSecret).
type JMConfig struct {
	BaseURL  string // required, http(s)://host[:port][/prefix]
	Username string // HTTP Basic
	Password string // never logged
	TokenURL string // OAuth2 bearer instead
	ClientID string
	// ClientSecret is never logged.
	ClientSecret   string
	UserAgent      string               // required; sent on every request
	RPS            float64              // request rate cap; 0 = unlimited
	RequestTimeout time.Duration        // per request (and token fetch); default 10s
	MaxBodyBytes   int64                // response body cap; default 1 MiB
	MaxIdleConns   int                  // idle connections kept for reuse; default DefaultMaxIdleConns (see CorastoneConfig)
	MaxRetryAfter  time.Duration        // Error.RetryAfter cap; 0 = DefaultMaxRetryAfter (5m), negative refused (see CorastoneConfig)
	Transport      http.RoundTripper    // optional (tests); redirects are never followed off BaseURL's host
	TracerProvider trace.TracerProvider // client spans of every request (see CorastoneConfig); nil: none
}

// Validate names every problem of the configuration at once (errors.Join).
func (c JMConfig) Validate() error {
	var errs []error
	for _, p := range CheckURL(c.BaseURL) {
		errs = append(errs, errors.New("jm config: base url: "+p))
	}
	basic := c.Username != "" || c.Password != ""
	bearer := c.TokenURL != "" || c.ClientID != "" || c.ClientSecret != ""
	switch {
	case basic && bearer:
		errs = append(errs, errors.New("jm config: give either username and password or token url, client id and client secret, not both"))
	case basic && (c.Username == "" || c.Password == ""):
		errs = append(errs, errors.New("jm config: basic auth needs both username and password"))
	case bearer && (c.TokenURL == "" || c.ClientID == "" || c.ClientSecret == ""):
		errs = append(errs, errors.New("jm config: bearer auth needs token url, client id and client secret"))
	case !basic && !bearer:
		errs = append(errs, errors.New("jm config: credentials are required (username and password, or token url, client id and client secret)"))
	}
	if c.TokenURL != "" {
		for _, p := range CheckURL(c.TokenURL) {
			errs = append(errs, errors.New("jm config: token url: "+p))
		}
	}
	errs = append(errs, checkCommon("jm config", c.UserAgent, c.RPS, c.RequestTimeout, c.MaxBodyBytes, c.MaxIdleConns, c.MaxRetryAfter)...)
	return errors.Join(errs...)
}

// JM is the Journey Manager Workspaces Txn API client (cancel, query). It keeps the session
// cookies it is given and echoes an XSRF-TOKEN cookie as the X-XSRF-TOKEN header. It is safe for
// concurrent use.
type JM struct {
	core
	base  *url.URL
	gates map[string]*gate // by API
}

// NewJM validates cfg, applies its defaults and builds the client; it sends nothing. A nil logger
// logs nothing; a nil obs observes nothing.
func NewJM(cfg JMConfig, logger *zap.Logger, obs Observer) (*JM, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.RequestTimeout == 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if logger == nil {
		logger = zap.NewNop()
	}
	logger = logger.Named("jm")
	obs = observerOrNop(obs)
	base, _ := url.Parse(cfg.BaseURL)
	transport := cfg.Transport
	if transport == nil {
		transport = defaultTransport(cfg.MaxIdleConns)
	}
	rt := &instrumented{base: traced(transport, cfg.TracerProvider), platform: JourneyManager, userAgent: cfg.UserAgent, obs: obs}
	jar := newSessionJar()
	var auth authenticator = basicAuth{cfg.Username, cfg.Password}
	scrub := newScrubber(cfg.Username, cfg.Password, nil, cfg.MaxRetryAfter)
	gates := newGates(JourneyManager, cfg.MaxRetryAfter, obs)
	if cfg.TokenURL != "" {
		tokenURL, _ := url.Parse(cfg.TokenURL)
		tc := &http.Client{Transport: rt, Timeout: cfg.RequestTimeout, CheckRedirect: redirectPolicy(tokenURL)}
		ts := newTokenSource(JourneyManager, cfg.TokenURL, cfg.ClientID, cfg.ClientSecret, nil, tc, cfg.RequestTimeout, obs, logger)
		scrub = newScrubber(cfg.ClientID, cfg.ClientSecret, ts.held, cfg.MaxRetryAfter)
		ts.scrub, ts.gate, auth = scrub, gates[APIToken], ts
	}
	return &JM{base: base, gates: gates, core: core{
		platform: JourneyManager,
		http:     &http.Client{Transport: rt, Jar: jar, CheckRedirect: redirectPolicy(base)},
		limiter:  newLimiter(cfg.RPS),
		timeout:  cfg.RequestTimeout,
		maxBody:  cfg.MaxBodyBytes,
		auth:     auth,
		jar:      jar,
		scrub:    scrub,
		gates:    func(string) *gate { return gates[APITxn] },
		obs:      obs,
		log:      logger,
	}}, nil
}

// Held reports how much longer this client holds every request to api (APITxn, APIToken) after
// a Retry-After or a 429/503 back-off, and the *Error that started the hold; see Corastone.Held.
func (j *JM) Held(api string) (time.Duration, *Error) {
	return j.gates[api].remaining()
}

// Txn is a Journey Manager transaction as Query sees it.
type Txn struct {
	SubmitKey  string
	FormStatus string // Abandoned, Assigned, Completed, Opened, Saved, Submitted, Expired (any casing)
}

// Cancel abandons the transaction of a cancel-txn Request (POST …/txn/cancel). A 200 is checked
// before it is believed (see cancelled): ("Abandoned", nil) when it says or a Query confirms so,
// else a Transient MALFORMED_RESPONSE *Error with the body's first bytes. A 400 txnAlreadyFinished is told apart by a Query: Abandoned (any casing) →
// ("Abandoned", nil); another status → (that status, the txnAlreadyFinished *Error, Permanent); a
// transaction the query cannot find → ("", the txnAlreadyFinished *Error). Any other failure is
// returned as is (an *Error).
func (j *JM) Cancel(ctx context.Context, req *Request) (formStatus string, err error) {
	if req == nil || req.Action.spec == nil || req.Action.Platform != JourneyManager {
		return "", &Error{Platform: JourneyManager, Endpoint: actionName(req), Message: "not a Journey Manager request", Verdict: Permanent}
	}
	ans, err := j.call(ctx, req.Action.Name, req.Action.Method, j.url(req.Action.Path), req.body)
	if err == nil {
		return j.cancelled(ctx, req, ans)
	}
	var e *Error
	if !errors.As(err, &e) || e.Code != "txnAlreadyFinished" {
		return "", err
	}
	txn, qerr := j.Query(ctx, req.submitKey)
	var qe *Error
	switch {
	case errors.As(qerr, &qe) && qe.Code == "txnNotFound":
		return "", e
	case qerr != nil:
		return "", qerr
	case strings.EqualFold(txn.FormStatus, "Abandoned"):
		return "Abandoned", nil
	}
	e.Verdict = Permanent
	return txn.FormStatus, e
}

// Query returns the transaction with submitKey (POST …/txn/query filtered by submitKey, which
// also finds Abandoned and Completed ones). None → *Error Code "txnNotFound", Permanent.
func (j *JM) Query(ctx context.Context, submitKey string) (Txn, error) {
	if submitKey == "" || hasControl(submitKey) || utf8.RuneCountInString(submitKey) > maxIdentLen || !utf8.ValidString(submitKey) {
		return Txn{}, &Error{Platform: JourneyManager, Endpoint: endpointJMQuery, Message: "invalid submitKey", Verdict: Permanent}
	}
	body, err := json.Marshal(jmQuery{FetchLimit: 1, Filters: []jmFilter{{Criteria: []string{"submitKey = {0}"},
		Params: []string{submitKey}, Operator: "AND"}}})
	if err != nil { // submitKey is valid UTF-8: never
		return Txn{}, &Error{Platform: JourneyManager, Endpoint: endpointJMQuery, Message: "invalid submitKey", Verdict: Permanent, Err: err}
	}
	ans, err := j.call(ctx, endpointJMQuery, http.MethodPost, j.url(jmQueryPath), body)
	if err != nil {
		return Txn{}, err
	}
	var out struct {
		Result *[]struct {
			SubmitKey  *string `json:"submitKey"`
			FormStatus string  `json:"formStatus"`
		} `json:"result"`
	}
	if err := j.decode(endpointJMQuery, ans, '{', &out); err != nil {
		return Txn{}, err
	}
	if out.Result == nil {
		return Txn{}, j.malformed(endpointJMQuery, ans, errors.New("result missing"))
	}
	for _, row := range *out.Result {
		if row.SubmitKey != nil && *row.SubmitKey != submitKey {
			continue // not ours: the filter was not applied
		}
		if row.FormStatus == "" {
			return Txn{}, j.malformed(endpointJMQuery, ans, errors.New("formStatus missing"))
		}
		return Txn{SubmitKey: submitKey, FormStatus: row.FormStatus}, nil
	}
	j.observeCode("txnNotFound")
	return Txn{}, &Error{Platform: JourneyManager, Endpoint: endpointJMQuery, HTTPStatus: ans.status, Code: "txnNotFound",
		Message: "no transaction with that submitKey", Verdict: Permanent}
}

// jmQuery is the body of a Txn API query.
type jmQuery struct {
	FetchLimit  int        `json:"fetchLimit"`
	FetchOffset int        `json:"fetchOffset"`
	Filters     []jmFilter `json:"filters"`
}

type jmFilter struct {
	Criteria []string `json:"criteria"`
	Params   []string `json:"params"`
	Operator string   `json:"operator"`
}

func (j *JM) url(path string) *url.URL {
	u := *j.base
	u.Path = strings.TrimSuffix(j.base.Path, "/") + path
	u.RawPath = ""
	return &u
}

// cancelled judges a cancel's 2xx answer. Its body is not documented; the Open UX cancel answers
// {"formStatus":"Abandoned"} and the simulator {"submitKey":…,"formStatus":"Abandoned"}. A JSON
// object whose formStatus is Abandoned (any casing) and whose submitKey, when present, is the one
// sent is believed: ("Abandoned", nil). One with another formStatus or submitKey is not:
// MALFORMED_RESPONSE. Any other answer (empty, HTML such as a login page, other JSON) proves
// nothing, so the transaction is looked up (Query): Abandoned → ("Abandoned", nil); another status
// → (that status, MALFORMED_RESPONSE); a failed look-up → ("", MALFORMED_RESPONSE, the look-up's
// failure in its Message). MALFORMED_RESPONSE is Transient.
func (j *JM) cancelled(ctx context.Context, req *Request, ans *answer) (string, error) {
	var out struct {
		FormStatus *string `json:"formStatus"`
		SubmitKey  *string `json:"submitKey"`
	}
	b := bytes.TrimSpace(ans.body)
	if len(b) > 0 && b[0] == '{' && json.Unmarshal(b, &out) == nil && out.FormStatus != nil {
		switch {
		case out.SubmitKey != nil && *out.SubmitKey != req.submitKey:
			return "", j.malformed(req.Action.Name, ans, errors.New("submitKey is not the one sent"))
		case !strings.EqualFold(*out.FormStatus, "Abandoned"):
			return "", j.malformed(req.Action.Name, ans, errors.New("formStatus is not Abandoned"))
		}
		return "Abandoned", nil
	}
	txn, err := j.Query(ctx, req.submitKey)
	switch {
	case err != nil:
		return "", j.malformed(req.Action.Name, ans, errors.New("answer does not say Abandoned and the look-up failed ("+briefly(err)+")"))
	case !strings.EqualFold(txn.FormStatus, "Abandoned"):
		return txn.FormStatus, j.malformed(req.Action.Name, ans, errors.New("answer does not say Abandoned and the transaction is not"))
	}
	return "Abandoned", nil
}

// briefly names a failure by its status and code only ("http 200 MALFORMED_RESPONSE", "no
// answer").
func briefly(err error) string {
	var e *Error
	if !errors.As(err, &e) {
		return "error"
	}
	out := "no answer"
	if e.HTTPStatus != 0 {
		out = "http " + strconv.Itoa(e.HTTPStatus)
	}
	if e.Code != "" {
		out += " " + e.Code
	}
	return out
}
