package platform

import (
	"bytes"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// Verdict says what a caller should do about an *Error.
type Verdict int

// Verdicts (SPEC §5).
const (
	// Permanent: do not retry (400, 401 AU0003, 403, 404, 409, other 4xx, a second 401, 3xx).
	Permanent Verdict = iota + 1
	// Transient: retry with back-off (408, 429, 5xx, connection error, timeout, malformed 2xx body).
	// Callers give 500 a smaller budget: check Error.HTTPStatus == 500.
	Transient
	// Auth: the token was refused (401 AU0001). The clients already fetch a new token once and
	// retry, so a caller only sees Auth from DecodeError, never from a client call.
	Auth
)

// String returns "permanent", "transient", "auth" or "verdict(N)".
func (v Verdict) String() string {
	switch v {
	case Permanent:
		return "permanent"
	case Transient:
		return "transient"
	case Auth:
		return "auth"
	}
	return "verdict(" + strconv.Itoa(int(v)) + ")"
}

// Error is every failure the clients return (always *Error; test with errors.As).
type Error struct {
	Platform   string        // PlatformCorastone | JourneyManager
	Endpoint   string        // an action name, "orchestrations", "transactions", "token" or "jm-query"
	HTTPStatus int           // 0: no HTTP answer (connection error, timeout)
	Code       string        // platform code (IS0012, AU0001, txnAlreadyFinished…), "" if none
	Message    string        // platform message if found, else a short description
	Verdict    Verdict       // what to do about it
	RetryAfter time.Duration // from Retry-After (seconds or HTTP-date); 0 if absent
	Body       string        // first 256 bytes of the answer's body (valid UTF-8)
	Err        error         // underlying error, if any
}

// Error renders "platform endpoint: http 409 IS0012: message" (or "no answer" for status 0).
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Platform)
	b.WriteByte(' ')
	b.WriteString(e.Endpoint)
	b.WriteString(": ")
	if e.HTTPStatus != 0 {
		b.WriteString("http ")
		b.WriteString(strconv.Itoa(e.HTTPStatus))
	} else {
		b.WriteString("no answer")
	}
	if e.Code != "" {
		b.WriteByte(' ')
		b.WriteString(e.Code)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.Err != nil && (e.Message == "" || !strings.Contains(e.Message, e.Err.Error())) {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

const (
	maxBodyExcerpt = 256
	maxMessage     = 512
	maxRetryAfter  = 24 * time.Hour
)

var (
	corastoneCode = regexp.MustCompile(`[A-Z]{2}[0-9]{4}`)
	tokenLike     = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.-]{0,63}$`)
)

// jmCodes returns the documented Journey Manager error keys.
func jmCodes() []string {
	return []string{"internalError", "submitKeyNotSpecified", "txnAlreadyFinished", "txnNotFound", "unableToResolvePortal", "txnDataDeleted"}
}

// DecodeError turns an HTTP answer into an *Error. It never fails and never panics, whatever the
// body. The code is found anywhere in the body: for Corastone a `[A-Z]{2}\d{4}` code (a JSON
// "code" field first, else the first such token in the text); for Journey Manager a documented
// error key (internalError, submitKeyNotSpecified, txnAlreadyFinished, txnNotFound,
// unableToResolvePortal…), else any token-like "error"/"code" string field. The message is the
// platform's ("message" next to the code, else any "message" field), else the status text. The
// Verdict follows SPEC §5 from the status and code; a 2xx status means the body was not the
// documented JSON: Transient with Code CodeMalformedResponse, the Message ending with the body's
// first bytes. now resolves an HTTP-date Retry-After, capped at DefaultMaxRetryAfter. Message, Body
// and Code never hold what looks like a credential (a Bearer or Basic value, a token field): it is
// replaced by Redacted. The clients also remove their own secrets and tokens.
func DecodeError(platform, endpoint string, status int, h http.Header, body []byte, now time.Time) *Error {
	return decodeError(nil, platform, endpoint, status, h, body, now)
}

// decodeError is DecodeError removing what s knows of the client's credentials from the body
// before it is excerpted and from the message before it is cut, and capping Retry-After at s's.
func decodeError(s *scrubber, platform, endpoint string, status int, h http.Header, body []byte, now time.Time) *Error {
	e := &Error{Platform: platform, Endpoint: endpoint, HTTPStatus: status, Body: excerpt([]byte(s.text(string(body))), maxBodyExcerpt)}
	if h != nil {
		e.RetryAfter = s.retryAfter(ParseRetryAfter(h.Get("Retry-After"), now))
	}
	if status >= 200 && status < 300 {
		e.Code, e.Verdict, e.Message = CodeMalformedResponse, Transient, malformedMessage("", e.Body)
		return e
	}
	doc := searchable(body)
	var msg string
	if platform == JourneyManager {
		e.Code, msg = jmCode(doc, body, status)
	} else {
		e.Code, msg = corastoneCodeOf(doc, body)
	}
	if msg == "" {
		msg = findString(doc, "message", "errorMessage", "error_description", "detail")
	}
	e.Code = s.code(e.Code)
	e.Message = cleanText(s.text(msg), maxMessage)
	if e.Message == "" {
		e.Message = strings.ToLower(http.StatusText(status))
		if e.Message == "" {
			e.Message = "unexpected answer"
		}
	}
	e.Verdict = verdictFor(platform, endpoint, status, e.Code)
	return e
}

// searchable is the first JSON value of body as any (objects map[string]any, arrays []any), for
// the code search, or nil when body does not open with one. It is lenient: names may repeat (the
// last one counts), strings may hold invalid UTF-8 (replaced), anything may follow the value. Its
// size is bounded by the client's MaxBodyBytes and its nesting by jsontext's limit (10,000 levels).
func searchable(body []byte) any {
	var doc any
	if json.UnmarshalDecode(jsontext.NewDecoder(bytes.NewReader(body), lenient), &doc, lenient) != nil {
		return nil
	}
	return doc
}

// verdictFor applies SPEC §5. A 401 is Auth (new credentials, one retry) when Corastone says
// AU0001 (or nothing) and always on Journey Manager (an expired session or token); AU0003 and a
// refusal of the client credentials themselves are Permanent.
func verdictFor(platform, endpoint string, status int, code string) Verdict {
	switch {
	case status == 401 && endpoint == endpointToken:
		return Permanent
	case status == 401 && (platform == JourneyManager || code == "" || code == "AU0001"):
		return Auth
	case status == 408 || status == 429:
		return Transient
	case status >= 400 && status < 500:
		return Permanent
	case status >= 500 && status < 600, status == 0:
		return Transient
	}
	return Permanent // 1xx, 3xx (redirects are not followed) and nonsense
}

// corastoneCodeOf finds a Corastone code: a "code" field holding exactly one (with its sibling
// "message"), else the first code-shaped token in the body, preferring one that stands alone.
func corastoneCodeOf(doc any, body []byte) (code, msg string) {
	walkObjects(doc, func(m map[string]any) bool {
		for _, k := range []string{"code", "errorCode"} {
			if s, ok := m[k].(string); ok && len(s) == 6 && corastoneCode.MatchString(s) {
				code, msg = s, stringField(m, "message")
				return true
			}
		}
		return false
	})
	if code != "" {
		return code, msg
	}
	var loose string
	for _, loc := range corastoneCode.FindAllIndex(body, -1) {
		c := string(body[loc[0]:loc[1]])
		before := loc[0] == 0 || !isAlnum(body[loc[0]-1])
		after := loc[1] == len(body) || !isAlnum(body[loc[1]])
		if before && after {
			return c, ""
		}
		if loose == "" {
			loose = c
		}
	}
	return loose, ""
}

// jmCode finds a Journey Manager error key. A bare status text ({"error":"Forbidden"}, Spring's
// default body) is not a code.
func jmCode(doc any, body []byte, status int) (code, msg string) {
	codes := jmCodes()
	known := func(s string) bool { return slices.Contains(codes, s) }
	// 1. a documented key in an "error"/"code" field, 2. a documented key as any string value.
	for _, fields := range [][]string{{"error", "code", "errorKey"}, nil} {
		walkObjects(doc, func(m map[string]any) bool {
			for _, k := range slices.Sorted(maps.Keys(m)) {
				if fields != nil && !slices.Contains(fields, k) {
					continue
				}
				if s, ok := m[k].(string); ok && known(s) {
					code, msg = s, stringField(m, "message")
					return true
				}
			}
			return false
		})
		if code != "" {
			return code, msg
		}
	}
	// 3. a documented key anywhere in the text (non-JSON bodies).
	for _, k := range codes {
		if bytes.Contains(body, []byte(k)) {
			return k, ""
		}
	}
	// 4. any token-like "error"/"code" string field.
	walkObjects(doc, func(m map[string]any) bool {
		for _, k := range []string{"error", "code"} {
			if s, ok := m[k].(string); ok && tokenLike.MatchString(s) && !strings.EqualFold(s, http.StatusText(status)) {
				code, msg = s, stringField(m, "message")
				return true
			}
		}
		return false
	})
	return code, msg
}

// walkObjects visits every JSON object in doc depth-first (keys in sorted order, arrays in order)
// until visit returns true.
func walkObjects(doc any, visit func(map[string]any) bool) bool {
	switch v := doc.(type) {
	case map[string]any:
		if visit(v) {
			return true
		}
		for _, k := range slices.Sorted(maps.Keys(v)) {
			if walkObjects(v[k], visit) {
				return true
			}
		}
	case []any:
		for _, x := range v {
			if walkObjects(x, visit) {
				return true
			}
		}
	}
	return false
}

// findString returns the first string field named one of names anywhere in doc.
func findString(doc any, names ...string) string {
	var out string
	walkObjects(doc, func(m map[string]any) bool {
		for _, n := range names {
			if s := stringField(m, n); s != "" {
				out = s
				return true
			}
		}
		return false
	})
	return out
}

func stringField(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// malformedMessage is the Message of a MALFORMED_RESPONSE: "answer is not the documented JSON",
// why (reason, when given), then the body's first bytes (body, already an excerpt), at most
// maxMessage bytes in all.
func malformedMessage(reason, body string) string {
	m := "answer is not the documented JSON"
	if reason != "" {
		m += ": " + cleanText(reason, 160)
	}
	if b := cleanText(body, maxBodyExcerpt); b != "" {
		m += "; body: " + b
	} else {
		m += "; body empty"
	}
	return cleanText(m, maxMessage)
}

// excerpt returns the start of b as valid UTF-8 (invalid bytes as U+FFFD), at most n bytes, cut
// at a rune boundary.
func excerpt(b []byte, n int) string {
	s := strings.ToValidUTF8(string(b[:min(len(b), n)]), "\uFFFD")
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

// cleanText makes s safe for messages: valid UTF-8, control characters as spaces, at most n bytes.
func cleanText(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
	return strings.TrimSpace(excerpt([]byte(s), n))
}

// ParseRetryAfter reads a Retry-After value: delay-seconds or an HTTP-date (relative to now).
// Absent, invalid or past values give 0; values are capped at 24h (the clients and DecodeError
// cap them further, at their MaxRetryAfter).
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if strings.Trim(v, "0123456789") == "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n > int64(maxRetryAfter/time.Second) {
			return maxRetryAfter
		}
		return time.Duration(n) * time.Second
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0
	}
	d := t.Sub(now)
	switch {
	case d < 0:
		return 0
	case d > maxRetryAfter:
		return maxRetryAfter
	}
	return d
}
