package platformtest

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Journey Manager session and CSRF names (Spring Security's usual ones).
const (
	SessionCookie = "JSESSIONID"   // session cookie set on the first authenticated answer
	XSRFCookie    = "XSRF-TOKEN"   // CSRF token cookie set with it
	XSRFHeader    = "X-XSRF-TOKEN" // header that must echo XSRFCookie on POSTs within a session
)

// maxSessions bounds stored JM sessions; beyond it arbitrary ones are forgotten (their next
// request simply logs in again).
const maxSessions = 10_000

// handleJM serves the Workspaces Txn API: session or credentials, CSRF, then cancel or query.
func (s *Simulator) handleJM(w http.ResponseWriter, r *http.Request, ep endpoint, now time.Time) reply {
	if rep, ok := s.jmAuth(w, r, now); !ok {
		return rep
	}
	if !isJSON(r.Header.Get("Content-Type")) {
		return jmError(http.StatusBadRequest, "badRequest", "Bad request or request parameter: Content-Type must be application/json")
	}
	body, err := readBody(r)
	if err != nil {
		return jmError(http.StatusBadRequest, "badRequest", "Bad request or request parameter: "+err.Error())
	}
	if ep == epJMCancel {
		return s.jmCancel(body, now)
	}
	return s.jmQuery(body, now)
}

// jmAuth accepts a known session (then the X-XSRF-TOKEN header must match its XSRF-TOKEN
// cookie: 403 otherwise) or, without one, HTTP Basic (JMUsers) or a live bearer token, and then
// opens a session: Set-Cookie JSESSIONID and XSRF-TOKEN.
func (s *Simulator) jmAuth(w http.ResponseWriter, r *http.Request, now time.Time) (reply, bool) {
	if c, err := r.Cookie(SessionCookie); err == nil {
		s.sessMu.Lock()
		xsrf, ok := s.sessions[c.Value]
		s.sessMu.Unlock()
		if ok {
			if subtle.ConstantTimeCompare([]byte(r.Header.Get(XSRFHeader)), []byte(xsrf)) != 1 {
				return jmError(http.StatusForbidden, "invalidCsrfToken", "Invalid CSRF token found for the request."), false
			}
			return reply{}, true
		}
	}
	authed := false
	if user, pass, ok := r.BasicAuth(); ok {
		want, known := s.cfg.JMUsers[user]
		authed = known && subtle.ConstantTimeCompare([]byte(pass), []byte(want)) == 1
	} else if _, ok := s.liveToken(bearer(r), now); ok {
		authed = true
	}
	if !authed {
		w.Header().Set("WWW-Authenticate", `Basic realm="Workspaces"`)
		return jmError(http.StatusUnauthorized, "unauthorized", "Full authentication is required to access this resource"), false
	}
	id, xsrf := rand.Text(), rand.Text()
	s.sessMu.Lock()
	if len(s.sessions) >= maxSessions {
		for k := range s.sessions {
			delete(s.sessions, k)
			if len(s.sessions) < maxSessions/2 {
				break
			}
		}
	}
	s.sessions[id] = xsrf
	s.sessMu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: id, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
	http.SetCookie(w, &http.Cookie{Name: XSRFCookie, Value: xsrf, Path: "/", SameSite: http.SameSiteLaxMode})
	return reply{}, true
}

// decodeAttrs decodes a JSON object into raw attributes, refusing names not in allowed.
func decodeAttrs(body []byte, allowed ...string) (map[string]json.RawMessage, reply, bool) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil || m == nil {
		return nil, jmError(http.StatusBadRequest, "badRequest", "Bad request or request parameter: the body must be a JSON object"), false
	}
	for k := range m {
		if !slices.Contains(allowed, k) {
			return nil, jmError(http.StatusBadRequest, "badRequest", fmt.Sprintf("Bad request or request parameter: invalid attribute '%s'", k)), false
		}
	}
	return m, reply{}, true
}

// optString decodes an optional JSON string (absent or null → "").
func optString(raw json.RawMessage) (string, bool) {
	if raw == nil || bytes.Equal(raw, []byte("null")) {
		return "", true
	}
	var v string
	return v, json.Unmarshal(raw, &v) == nil
}

// jmCancel is POST …/txn/cancel: {"params":{"submitKey","reason","milestones"}}.
func (s *Simulator) jmCancel(body []byte, now time.Time) reply {
	top, rep, ok := decodeAttrs(body, "params")
	if !ok {
		return rep
	}
	var key, reason, milestone string
	if raw := top["params"]; raw != nil && !bytes.Equal(raw, []byte("null")) {
		params, rep, ok := decodeAttrs(raw, "submitKey", "reason", "milestones")
		if !ok {
			return rep
		}
		var okK, okR, okM bool
		key, okK = optString(params["submitKey"])
		reason, okR = optString(params["reason"])
		milestone, okM = optString(params["milestones"])
		if !okK || !okR || !okM {
			return jmError(http.StatusBadRequest, "badRequest", "Bad request or request parameter: cancel attributes must be strings")
		}
	}
	if key == "" {
		return jmError(http.StatusBadRequest, "submitKeyNotSpecified", "submitKey not specified")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.txns[key]
	if t == nil {
		if !s.cfg.AutoCreate {
			return jmError(http.StatusBadRequest, "txnNotFound", "The transaction specified by the submitKey was not found.")
		}
		s.autoSeq++
		t = &Txn{SubmitKey: key, TrackingCode: fmt.Sprintf("S%06d", s.autoSeq%1_000_000), FormStatus: FormSaved}
		s.addTxnLocked(t, now)
	}
	if strings.EqualFold(t.FormStatus, FormCompleted) || strings.EqualFold(t.FormStatus, FormAbandoned) {
		return jmError(http.StatusBadRequest, "txnAlreadyFinished", "The transaction has already been finished (Completed or Abandoned).")
	}
	t.FormStatus, t.Reason, t.Modified = FormAbandoned, reason, now
	if milestone != "" {
		t.Milestones = append(t.Milestones, milestone)
	}
	s.cancels[key]++
	s.cancelsN++
	b := []byte(`{"submitKey":`)
	b = appendString(b, key)
	return reply{status: http.StatusOK, body: append(b, `,"formStatus":"Abandoned"}`...)}
}
