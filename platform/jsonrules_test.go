package platform

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The answers are read under json v2's rules (answers.go): exact member names, a repeated name
// or invalid UTF-8 makes the value unreadable, unknown members are ignored. These tests hold each
// client to them.

// TestActionReplyJSONRules: an action reply json v2 refuses, or one whose orchestrationId is only
// given under a case-changed name, is a Transient MALFORMED_RESPONSE naming the problem, with the
// body's first bytes; unknown members do not matter.
func TestActionReplyJSONRules(t *testing.T) {
	tests := []struct {
		name, body string
		problem    string // "" → believed
	}{
		{"unknown members", `{"processId":"` + testPID + `","orchestrationId":"` + testPID + `","extra":{"a":[1,2]},"n":1e999}`, ""},
		{"repeated processId", `{"processId":"` + testPID + `","processId":"` + testPID + `","orchestrationId":"` + testPID + `"}`, "duplicate"},
		{"repeated unknown member", `{"orchestrationId":"` + testPID + `","x":1,"x":2}`, "duplicate"},
		{"invalid UTF-8 in an unknown member", "{\"orchestrationId\":\"" + testPID + "\",\"x\":\"\xff\"}", "invalid UTF-8"},
		{"case-changed name", `{"processId":"` + testPID + `","OrchestrationId":"` + testPID + `"}`, "orchestrationId missing"},
		{"data after the object", `{"orchestrationId":"` + testPID + `"} {}`, "after top-level value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeCorastone(t)
			f.setAPI(func(w http.ResponseWriter, r *http.Request, _ []byte) { writeJSON(w, 200, tt.body) })
			c := newTestCorastone(t, f.config(), nil)
			acc, err := c.Execute(context.Background(), mustParse(t, "cancel-offering", `{"securityId":"S"}`), testPID)
			if tt.problem == "" {
				if err != nil || acc.OrchestrationID != testPID {
					t.Fatalf("got %+v, %v", acc, err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || e.Code != CodeMalformedResponse || e.Verdict != Transient || e.Body == "" ||
				!strings.Contains(e.Message, tt.problem) {
				t.Fatalf("got %+v, %v; want MALFORMED_RESPONSE naming %q", acc, err, tt.problem)
			}
		})
	}
}

// TestPageElementJSONRules: a repeated name, invalid UTF-8 or a status under a case-changed name
// inside one element of an orchestrations page sets that element aside (Unreadable) and no
// other; invalid UTF-8 or a repeated name between elements is not the page's fault.
func TestPageElementJSONRules(t *testing.T) {
	page := `[{"orchestrationId":"a","status":"success","timestamp":"2026-01-02T03:04:05Z"},` +
		`{"orchestrationId":"b","status":"queued","status":"success"},` +
		"{\"orchestrationId\":\"c\",\"status\":\"success\",\"note\":\"\xff\"}," +
		`{"orchestrationId":"d","Status":"success"},` +
		`{"orchestrationId":"e","status":"in_progress","startDate":1767322800000,"processIds":["e"]}]`
	f := newFakeCorastone(t)
	f.setAPI(func(w http.ResponseWriter, r *http.Request, _ []byte) { writeJSON(w, 200, page) })
	c := newTestCorastone(t, f.config(), nil)
	got, err := c.Orchestrations(context.Background(), []string{"a", "b", "c", "d", "e"})
	if err != nil || len(got) != 5 {
		t.Fatalf("got %+v, %v", got, err)
	}
	unreadable := map[string]bool{}
	for _, o := range got {
		if o.Unreadable != nil {
			if o.Unreadable.Code != CodeMalformedResponse || o.Unreadable.Verdict != Transient || o.Unreadable.Body == "" {
				t.Errorf("%s: %+v", o.OrchestrationID, o.Unreadable)
			}
			unreadable[o.OrchestrationID] = true
		}
	}
	if len(unreadable) != 3 || !unreadable["b"] || !unreadable["c"] || !unreadable["d"] {
		t.Errorf("unreadable %v, want b, c, d", unreadable)
	}
	for _, o := range got {
		switch o.OrchestrationID {
		case "a":
			if o.Status != "success" || !o.Timestamp.Equal(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) {
				t.Errorf("a: %+v", o)
			}
		case "e":
			if o.Status != "in_progress" || o.StartDate.UnixMilli() != 1767322800000 || len(o.ProcessIDs) != 1 {
				t.Errorf("e: %+v", o)
			}
		}
	}
}

// TestErrorBodySearchIsLenient: the code search reads an error body whatever JSON v2 would refuse
// in it — a repeated name (the last counts), invalid UTF-8 (replaced), data after the value — and
// still finds the code and its message.
func TestErrorBodySearchIsLenient(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name, platform, body string
		status               int
		code, message        string
	}{
		{"repeated message", PlatformCorastone, `{"errorDetails":[{"code":"IS0012","message":"first","message":"Security busy"}]}`, 409, "IS0012", "Security busy"},
		{"invalid UTF-8", PlatformCorastone, "{\"errorDetails\":[{\"code\":\"IS0012\",\"message\":\"bad \xff state\"}]}", 409, "IS0012", "bad \uFFFD state"},
		{"data after the value", JourneyManager, `{"error":"txnAlreadyFinished","message":"finished"} <html>`, 400, "txnAlreadyFinished", "finished"},
		{"deep", JourneyManager, strings.Repeat(`{"a":`, 200) + `{"error":"txnNotFound","message":"gone"}` + strings.Repeat(`}`, 200), 404, "txnNotFound", "gone"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := DecodeError(tt.platform, "cancel-offering", tt.status, nil, []byte(tt.body), now)
			if e.Code != tt.code || e.Message != tt.message || e.Verdict != Permanent {
				t.Errorf("got code %q message %q verdict %v; want %q %q permanent", e.Code, e.Message, e.Verdict, tt.code, tt.message)
			}
		})
	}
}

// TestJMQueryJSONRules: a look-up answer json v2 refuses is MALFORMED_RESPONSE, not a status.
func TestJMQueryJSONRules(t *testing.T) {
	f := newFakeJM(t, false)
	j := newTestJM(t, f.basicConfig(), nil)
	for _, body := range []string{
		`{"result":[{"submitKey":"completed-key","formStatus":"Saved","formStatus":"Abandoned"}]}`,
		"{\"result\":[{\"submitKey\":\"completed-key\",\"formStatus\":\"Saved\",\"x\":\"\xff\"}]}",
	} {
		f.mu.Lock()
		f.queryFn = func(w http.ResponseWriter) bool { writeJSON(w, 200, body); return true }
		f.mu.Unlock()
		txn, err := j.Query(context.Background(), "completed-key")
		var e *Error
		if !errors.As(err, &e) || e.Code != CodeMalformedResponse || e.Verdict != Transient {
			t.Errorf("%q: %+v, %v", body, txn, err)
		}
	}
}
