// Package platform holds txworker's HTTP clients for the two platforms it acts on: the Corastone
// Integration API (four asynchronous actions, the Transactions API, OAuth2 client credentials) and
// the Temenos Journey Manager Workspaces Txn API (cancel and query).
//
// The package owns three things the rest of the service relies on:
//
//   - the action table ([Actions], [LookupAction]) and strict parameter validation ([Action.Parse]):
//     a command whose params do not follow the platform documentation never reaches a platform;
//   - the clients ([Corastone], [JM]): bounded (per-request timeout, response size cap, rate cap),
//     instrumented (every request and every error code goes to an [Observer]) and safe (a
//     User-Agent on every request, values escaped into URLs, redirects never followed to another
//     host, no panic on any answer); answers are decoded with github.com/go-json-experiment/json
//     (json v2) under its rules: exact member names, a repeated name or invalid UTF-8 makes an
//     answer (or one element of a list page) unreadable, members not used are ignored;
//   - one gate per API ([APIsOf]: Corastone's actions, Transactions API, token endpoint and Sequencer; Journey
//     Manager's Txn API and token endpoint), shared by every caller of the client: a 429 or 503
//     holds every later request to that API for its Retry-After (capped at MaxRetryAfter) or, without
//     one, a back-off; requests in flight aside. A request waits a hold out when its deadline allows,
//     else fails at once without being sent ([ErrHeld]); [Corastone.Held] and [JM.Held] report it;
//   - the error model ([Error], [Verdict], [DecodeError]): every failure is an *Error whose Verdict
//     tells the caller whether to retry, whose Retry-After is capped (MaxRetryAfter) and whose
//     platform text has the client's secrets, tokens and Basic credentials replaced by [Redacted].
//
// It imports none of txworker's other packages.
package platform

import "time"

// Platform names, used in [Error.Platform], [Action.Platform] and as the Observer's platform label.
// (The Corastone name is PlatformCorastone because the client type is called Corastone.)
const (
	PlatformCorastone = "corastone"
	JourneyManager    = "jm"
)

// Endpoint label values besides the five action names (the closed set of the design contract).
const (
	endpointOrchestrations = "orchestrations"
	endpointTransactions   = "transactions"
	endpointToken          = "token"
	endpointJMQuery        = "jm-query"
)

// CodeMalformedResponse is the Error.Code of a 2xx answer whose body is not the documented JSON
// (or exceeds the size cap, or names ids that cannot be believed: see ValidID). Its Verdict is
// Transient; Error.Body holds the body's first bytes and Error.Message ends with them.
const CodeMalformedResponse = "MALFORMED_RESPONSE"

// Observer receives client telemetry; metrics.Metrics implements it. A nil Observer is a no-op.
// Implementations must be safe for concurrent use and must not block.
type Observer interface {
	// ObserveRequest is called once per HTTP request sent (token requests included) when its
	// answer's headers arrive or it fails; status 0 means no HTTP answer (connection error,
	// timeout). elapsed runs from sending to the answer's headers.
	ObserveRequest(platform, endpoint string, status int, elapsed time.Duration)
	// ObserveErrorCode is called for every error answer that carries a code (platform codes such
	// as IS0012 or txnAlreadyFinished, OAuth2 error codes, and CodeMalformedResponse).
	ObserveErrorCode(platform, code string)
	// ObserveTokenFetch is called once per OAuth2 token request.
	ObserveTokenFetch(platform string, ok bool)
}

type nopObserver struct{}

func (nopObserver) ObserveRequest(string, string, int, time.Duration) {}
func (nopObserver) ObserveErrorCode(string, string)                   {}
func (nopObserver) ObserveTokenFetch(string, bool)                    {}

func observerOrNop(o Observer) Observer {
	if o == nil {
		return nopObserver{}
	}
	return o
}
