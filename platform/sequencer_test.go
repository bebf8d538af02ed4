package platform

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSequencerScopeOnlyWhenEnabled(t *testing.T) {
	for _, tc := range []struct {
		name string
		on   bool
		want []string
	}{
		{"off: the old scope set", false, []string{"cancelOffering", "manageServiceProviders", "readTransactionData", "rejectSubscription", "revertCompletedToActive"}},
		{"on: readSequencer added", true, []string{"cancelOffering", "manageServiceProviders", "readSequencer", "readTransactionData", "rejectSubscription", "revertCompletedToActive"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeCorastone(t)
			cfg := f.config()
			cfg.Sequencer = tc.on
			c := newTestCorastone(t, cfg, nil)
			if got := c.Scopes(); !slices.Equal(got, tc.want) {
				t.Errorf("Scopes() = %v, want %v", got, tc.want)
			}
			if err := c.Token(t.Context()); err != nil {
				t.Fatal(err)
			}
			if got := f.scopes; len(got) != 1 || got[0] != strings.Join(tc.want, " ") {
				t.Errorf("token request scope = %q, want %q", got, strings.Join(tc.want, " "))
			}
		})
	}
}

func TestSequenceOffSendsNothing(t *testing.T) {
	f := newFakeCorastone(t)
	c := newTestCorastone(t, f.config(), nil)
	_, err := c.Sequence(t.Context(), SequenceQuery{})
	var pe *Error
	if !errors.As(err, &pe) || pe.Verdict != Permanent {
		t.Fatalf("Sequence with the Sequencer off: %v, want a Permanent *Error", err)
	}
	if n := len(f.requests()); n != 0 {
		t.Errorf("%d requests sent, want none", n)
	}
}

func TestSequenceRequestAndDecoding(t *testing.T) {
	f := newFakeCorastone(t)
	cfg := f.config()
	cfg.Sequencer = true
	obs := &observed{}
	c := newTestCorastone(t, cfg, obs)
	var body string
	f.setAPI(func(w http.ResponseWriter, r *http.Request, _ []byte) { writeJSON(w, 200, body) })
	from := time.Date(2024, 9, 12, 10, 0, 0, 123_000_000, time.UTC)
	to := from.Add(time.Second)

	body = `{"sequence":[
	  {"transaction":{"processId":"p1","orchestrationId":"o1","status":"success","timestamp":"2024-09-12T10:00:00.500Z","type":"chaincode","method":"cancelOffering","orgId":"US9QI","blockchainDetails":{"blockNumber":1},"details":{}}},
	  {"transaction":{"processId":"p2","orchestrationId":"o1","status":"in_progress","timestamp":"2024-09-12T10:00:00.500Z","orchestrationId":"dup"}},
	  {"transaction":{"processId":"p3","orchestrationId":"o2","status":"failed","timestamp":{"no":1}}},
	  {"orchestration":{"orchestrationId":"o3","status":"success","timestamp":1726135200600}},
	  {"error":{"whatever":true}},
	  {"job":{}},
	  {"transaction":{"processId":"p4"},"orchestration":{}},
	  "not an object",
	  {"transaction":{}}
	],"extra":1}`
	page, err := c.Sequence(t.Context(), SequenceQuery{From: from, To: to, PageSize: 100, Offset: 200})
	if err != nil {
		t.Fatal(err)
	}
	reqs := f.apiRequests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	q := reqs[0]
	if q.Path != "/external/v1/sequencer" || q.Method != http.MethodGet {
		t.Errorf("request %s %s", q.Method, q.Path)
	}
	for k, v := range map[string]string{"pageSize": "100", "offset": "200", "fromDate": "2024-09-12T10:00:00.123Z", "toDate": "2024-09-12T10:00:01.123Z"} {
		if got := q.Query.Get(k); got != v {
			t.Errorf("query %s = %q, want %q (raw %s)", k, got, v, q.RawQuery)
		}
	}
	if strings.Contains(q.RawQuery, ":") {
		t.Errorf("query not escaped: %s", q.RawQuery)
	}
	want := []SequenceEntry{
		{Kind: "transaction", ProcessID: "p1", OrchestrationID: "o1", Status: "success", Type: "chaincode", Method: "cancelOffering", OrgID: "US9QI",
			Timestamp: time.Date(2024, 9, 12, 10, 0, 0, 500_000_000, time.UTC)},
		{Kind: "orchestration", OrchestrationID: "o3", Status: "success", Timestamp: time.UnixMilli(1726135200600).UTC()},
		{Kind: "error"},
		{Kind: "job"},
	}
	if !slices.Equal(page.Entries, want) {
		t.Errorf("entries:\n got %+v\nwant %+v", page.Entries, want)
	}
	if page.Records != 9 || page.Unreadable != 5 {
		t.Errorf("records %d unreadable %d, want 9 and 5", page.Records, page.Unreadable)
	}
	if _, codes, _ := obs.snapshot(); !slices.Contains(codes, "corastone MALFORMED_RESPONSE") {
		t.Errorf("unreadable entries not observed: %v", codes)
	}
	if reqs, _, _ := obs.snapshot(); !slices.Contains(reqs, "corastone sequencer 200") {
		t.Errorf("request not observed under the sequencer endpoint: %v", reqs)
	}

	for _, bad := range []string{`[]`, `{}`, `{"sequence":{}}`, `{"sequence":[],"sequence":[]}`, `{"sequence":[]} x`, `<html>`} {
		body = bad
		_, err := c.Sequence(t.Context(), SequenceQuery{})
		var pe *Error
		if !errors.As(err, &pe) || pe.Code != CodeMalformedResponse || pe.Verdict != Transient {
			t.Errorf("answer %q: %v, want a Transient MALFORMED_RESPONSE", bad, err)
		}
	}
	for _, q := range []SequenceQuery{{PageSize: 101}, {PageSize: -1}, {Offset: -1}} {
		if _, err := c.Sequence(t.Context(), q); err == nil {
			t.Errorf("query %+v accepted", q)
		}
	}
}

func TestSequenceBodyCap(t *testing.T) {
	f := newFakeCorastone(t)
	cfg := f.config()
	cfg.Sequencer = true
	cfg.MaxBodyBytes = 64
	c := newTestCorastone(t, cfg, nil)
	f.setAPI(func(w http.ResponseWriter, r *http.Request, _ []byte) {
		writeJSON(w, 200, `{"sequence":[`+strings.Repeat(`{"job":{}},`, 50)+`{"job":{}}]}`)
	})
	_, err := c.Sequence(t.Context(), SequenceQuery{})
	var pe *Error
	if !errors.As(err, &pe) || pe.Code != CodeMalformedResponse {
		t.Fatalf("oversized answer: %v, want MALFORMED_RESPONSE", err)
	}
}

// A Retry-After of the Sequencer holds the Sequencer only: the actions and
// the Transactions API of the same client are not held by it.
func TestSequencerHoldIsItsOwn(t *testing.T) {
	f := newFakeCorastone(t)
	cfg := f.config()
	cfg.Sequencer = true
	c := newTestCorastone(t, cfg, &observed{})
	f.setAPI(func(w http.ResponseWriter, r *http.Request, _ []byte) {
		w.Header().Set("Retry-After", "60")
		writeJSON(w, 429, `{"code":"GN0429"}`)
	})
	_, err := c.Sequence(t.Context(), SequenceQuery{From: time.Now().Add(-time.Second), To: time.Now(), PageSize: 100})
	if err == nil {
		t.Fatal("a 429 answered nil")
	}
	if d, _ := c.Held(APISequencer); d <= 0 {
		t.Errorf("sequencer not held after its 429")
	}
	for _, api := range []string{APIActions, APITransactions, APIToken} {
		if d, _ := c.Held(api); d > 0 {
			t.Errorf("%s held for %s by the Sequencer's 429", api, d)
		}
	}
}
