package platform

import (
	"encoding/base64"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// Redacted replaces every secret, token or credential removed from platform text.
const Redacted = "[redacted]"

// minSecretLen is the shortest written form of a configured secret searched for in platform text:
// shorter ones would match ordinary words (a 1-character password would remove every letter
// like it). Their Basic and base64 forms are still searched for.
const minSecretLen = 4

// DefaultMaxRetryAfter is the longest Retry-After honoured when CorastoneConfig.MaxRetryAfter or
// JMConfig.MaxRetryAfter is zero, and by DecodeError (SPEC §6 TXWORKER_MAX_RETRY_AFTER).
const DefaultMaxRetryAfter = 5 * time.Minute

var (
	// An Authorization value echoed back: the scheme, then the credentials (RFC 6750 b64token,
	// RFC 7617 base64).
	bearerLike = regexp.MustCompile(`(?i)\b(bearer)(\s+|%20|\+)[A-Za-z0-9\-._~+/]+=*`)
	basicLike  = regexp.MustCompile(`(?i)\b(basic)(\s+|%20|\+)([A-Za-z0-9+/]+=*)`)
	// Credential-carrying fields of a JSON or form-encoded text (a token answer, an echoed request).
	secretField = regexp.MustCompile(`(?i)("(?:access_token|refresh_token|id_token|client_secret|password)"\s*:\s*")(?:[^"\\]|\\.)*`)
	secretParam = regexp.MustCompile(`(?i)\b((?:access_token|refresh_token|id_token|client_secret|password)=)[^&\s"]*`)
)

// scrubber is what a client knows of its own credentials: it removes them from any text that
// comes from the platform before the text is stored in an *Error, and caps Retry-After. The
// nil *scrubber removes only what looks like a credential (Bearer and Basic values, token fields)
// and caps Retry-After at DefaultMaxRetryAfter.
type scrubber struct {
	secrets       []string        // every written form of the configured secrets, longest first
	tokens        func() []string // the bearer tokens the client holds now (nil: none)
	maxRetryAfter time.Duration
}

// newScrubber builds the scrubber of a client whose secret is sent as-is (JM password, client
// secret) and, with user, as HTTP Basic credentials user:secret (raw, and with both parts
// query-escaped as golang.org/x/oauth2 sends client credentials).
func newScrubber(user, secret string, tokens func() []string, maxRetryAfter time.Duration) *scrubber {
	if maxRetryAfter <= 0 {
		maxRetryAfter = DefaultMaxRetryAfter
	}
	s := &scrubber{tokens: tokens, maxRetryAfter: maxRetryAfter}
	if secret == "" {
		return s
	}
	var forms []string
	for _, pair := range [][2]string{{user, secret}, {url.QueryEscape(user), url.QueryEscape(secret)}} {
		basic := pair[0] + ":" + pair[1]
		forms = append(forms, pair[1], basic, base64.StdEncoding.EncodeToString([]byte(basic)),
			base64.RawStdEncoding.EncodeToString([]byte(basic)), base64.URLEncoding.EncodeToString([]byte(basic)))
	}
	forms = append(forms, jsonEscaped(secret), strings.ReplaceAll(jsonEscaped(secret), "/", `\/`), url.PathEscape(secret))
	s.secrets = slices.DeleteFunc(longestFirst(forms), func(f string) bool { return len(f) < minSecretLen })
	return s
}

// text returns t without the client's secrets, its bearer tokens, anything written as a Bearer
// or Basic credential (and, for Basic, the decoded user:password and password wherever they stand)
// and the values of token, client_secret and password fields; each becomes Redacted.
func (s *scrubber) text(t string) string {
	if t == "" {
		return t
	}
	var forms []string
	if s != nil {
		forms = append(forms, s.secrets...)
		if s.tokens != nil {
			for _, tok := range s.tokens() {
				forms = append(forms, tok, jsonEscaped(tok))
			}
		}
	}
	for _, m := range basicLike.FindAllStringSubmatch(t, -1) {
		forms = append(forms, decodedBasic(m[3])...)
	}
	if len(forms) > 0 {
		forms = longestFirst(forms)
		pairs := make([]string, 0, 2*len(forms))
		for _, f := range forms {
			pairs = append(pairs, f, Redacted)
		}
		t = strings.NewReplacer(pairs...).Replace(t)
	}
	t = bearerLike.ReplaceAllString(t, "${1} "+Redacted)
	t = basicLike.ReplaceAllString(t, "${1} "+Redacted)
	t = secretField.ReplaceAllString(t, "${1}"+Redacted)
	return secretParam.ReplaceAllString(t, "${1}"+Redacted)
}

// code returns code, or "" when it holds something text would remove.
func (s *scrubber) code(code string) string {
	if code != "" && s.text(code) != code {
		return ""
	}
	return code
}

// retryAfter caps d at the client's MaxRetryAfter.
func (s *scrubber) retryAfter(d time.Duration) time.Duration {
	limit := DefaultMaxRetryAfter
	if s != nil {
		limit = s.maxRetryAfter
	}
	return min(d, limit)
}

// decodedBasic returns "user:password" and, when at least 4 bytes long, "password" of a Basic
// credential b64 (any base64 alphabet, padded or not); nothing when it is not one.
func decodedBasic(b64 string) []string {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		raw, err := enc.DecodeString(b64)
		if err != nil || !utf8.Valid(raw) {
			continue
		}
		user, pass, ok := strings.Cut(string(raw), ":")
		if !ok {
			return nil
		}
		out := []string{user + ":" + pass}
		if len(pass) >= 4 {
			out = append(out, pass, jsonEscaped(pass))
		}
		return out
	}
	return nil
}

// jsonEscaped is s as it appears inside a JSON string written by encoding/json (<, >, &, U+2028
// and U+2029 escaped as \uXXXX), the most escaped form a server echoing it is likely to write.
func jsonEscaped(s string) string {
	b, err := json.Marshal(s, jsontext.EscapeForHTML(true), jsontext.EscapeForJS(true))
	if err != nil { // invalid UTF-8: the callers pass valid strings only
		return s
	}
	return string(b[1 : len(b)-1])
}

// longestFirst returns the distinct non-empty forms, longest first (so that a secret inside a
// longer form does not leave the rest of it behind).
func longestFirst(forms []string) []string {
	out := slices.DeleteFunc(slices.Clone(forms), func(f string) bool { return f == "" })
	slices.SortFunc(out, func(a, b string) int {
		if len(a) != len(b) {
			return len(b) - len(a)
		}
		return strings.Compare(a, b)
	})
	return slices.Compact(out)
}

// err returns err, or an error with its redacted text when its text holds something text
// removes (an oauth2 error quotes the token endpoint's whole answer).
func (s *scrubber) err(err error) error {
	if err == nil {
		return nil
	}
	if msg := err.Error(); s.text(msg) != msg {
		return scrubbedError(s.text(msg))
	}
	return err
}

// scrubbedError replaces an underlying error whose text held a secret: its redacted text only
// (it does not unwrap, so nothing reaches the original's fields).
type scrubbedError string

func (e scrubbedError) Error() string { return string(e) }
