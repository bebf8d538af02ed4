package platformtest

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"
)

// token is one issued access token.
type token struct {
	client  string
	org     string
	scopes  []string
	expires int64 // unix nanoseconds
	revoked bool
}

// caller is who a bearer token speaks for.
type caller struct {
	client, org string
}

// tokenPruneAt is the token count above which issuing a token first drops dead ones.
const tokenPruneAt = 10_000

// handleToken is POST /oauth2/token: RFC 6749 §4.4 client credentials with HTTP Basic client
// authentication and a form body; errors as RFC 6749 §5.2 JSON.
func (s *Simulator) handleToken(w http.ResponseWriter, r *http.Request, now time.Time) reply {
	id, secret, ok := r.BasicAuth()
	if !ok {
		w.Header().Set("WWW-Authenticate", `Basic realm="oauth2"`)
		return oauthError(http.StatusUnauthorized, "invalid_client", "HTTP Basic client authentication is required")
	}
	cl, known := s.cfg.Clients[id]
	if !known || subtle.ConstantTimeCompare([]byte(secret), []byte(cl.Secret)) != 1 {
		w.Header().Set("WWW-Authenticate", `Basic realm="oauth2"`)
		return oauthError(http.StatusUnauthorized, "invalid_client", "unknown client or wrong secret")
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		return oauthError(http.StatusBadRequest, "invalid_request", "the body is not a valid form")
	}
	switch gt := r.PostForm.Get("grant_type"); gt {
	case "":
		return oauthError(http.StatusBadRequest, "invalid_request", "grant_type is required")
	case "client_credentials":
	default:
		return oauthError(http.StatusBadRequest, "unsupported_grant_type", "only client_credentials is supported")
	}
	var granted []string
	for sc := range strings.FieldsSeq(r.PostForm.Get("scope")) {
		if !slices.Contains(cl.Scopes, sc) {
			return oauthError(http.StatusBadRequest, "invalid_scope", "the client may not request scope "+sc)
		}
		if !slices.Contains(granted, sc) {
			granted = append(granted, sc)
		}
	}
	if granted == nil {
		granted = slices.Clone(cl.Scopes)
	}
	t := &token{client: id, org: cl.OrgID, scopes: granted, expires: now.Add(s.cfg.TokenTTL).UnixNano()}
	access := rand.Text()
	s.authMu.Lock()
	if len(s.tokens) >= tokenPruneAt {
		for k, old := range s.tokens {
			if old.revoked || old.expires <= now.UnixNano() {
				delete(s.tokens, k)
			}
		}
	}
	s.tokens[access] = t
	s.authMu.Unlock()
	body, err := json.Marshal(struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int64  `json:"expires_in"`
		Scope       string `json:"scope"`
	}{access, "Bearer", int64(s.cfg.TokenTTL / time.Second), strings.Join(granted, " ")})
	if err != nil {
		return plain(http.StatusInternalServerError)
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	return reply{status: http.StatusOK, body: body}
}

func oauthError(status int, code, desc string) reply {
	body, err := json.Marshal(struct {
		Error string `json:"error"`
		Desc  string `json:"error_description"`
	}{code, desc})
	if err != nil {
		return plain(http.StatusInternalServerError)
	}
	return reply{status: status, body: body}
}

// bearer returns the request's bearer token, "" if none.
func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// liveToken looks a token up: ok is false if it is unknown, expired or revoked.
func (s *Simulator) liveToken(access string, now time.Time) (t token, ok bool) {
	if access == "" {
		return token{}, false
	}
	s.authMu.RLock()
	defer s.authMu.RUnlock()
	p := s.tokens[access]
	if p == nil || p.revoked || p.expires <= now.UnixNano() {
		return token{}, false
	}
	return *p, true
}

// authorize checks a Corastone request's bearer token (AU0001, 401) and scope (AU0002, 403).
func (s *Simulator) authorize(w http.ResponseWriter, r *http.Request, scope string, now time.Time) (caller, reply, bool) {
	t, ok := s.liveToken(bearer(r), now)
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		return caller{}, coraError(http.StatusUnauthorized, codeToken, msgToken), false
	}
	if !slices.Contains(t.scopes, scope) {
		return caller{}, coraError(http.StatusForbidden, codeScope, "You do not have access to this scope: "+scope), false
	}
	return caller{client: t.client, org: t.org}, reply{}, true
}

// revokeBearer revokes the request's bearer token (RevokeRate fault); false if it has none.
func (s *Simulator) revokeBearer(r *http.Request) bool {
	access := bearer(r)
	s.authMu.Lock()
	defer s.authMu.Unlock()
	t := s.tokens[access]
	if t != nil {
		t.revoked = true
	}
	return t != nil
}

// RevokeTokens revokes every token issued so far: the next request with any of them gets
// AU0001 (Corastone) or 401 (Journey Manager). Tokens issued later are not affected.
func (s *Simulator) RevokeTokens() {
	s.authMu.Lock()
	defer s.authMu.Unlock()
	for _, t := range s.tokens {
		t.revoked = true
	}
}
