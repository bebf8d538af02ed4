package platform

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
)

func TestValidIDNamesTheProblem(t *testing.T) {
	tests := []struct {
		id, problem string // problem "": valid
	}{
		{"2159457f-0167-4e93-a969-9cf0db05e0bf", ""},
		{"client/ref?x#y%20", ""},
		{strings.Repeat("é", 128), ""},
		{"", "empty id"},
		{strings.Repeat("x", 129), "longer than 128"},
		{strings.Repeat("é", 129), "longer than 128"},
		{"a,b", "a comma"},
		{"a b", "white space"},
		{"a\u00a0b", "white space"},
		{"a\u2028b", "white space"},
		{"a\tb", "control character"},
		{"a\x00b", "control character"},
		{"a\u0085b", "control character"},
		{"a\xffb", "not valid UTF-8"},
		{"\xed\xa0\x80", "not valid UTF-8"}, // a lone surrogate
	}
	for _, tt := range tests {
		err := ValidID(tt.id)
		switch {
		case tt.problem == "" && err != nil:
			t.Errorf("%q: %v, want valid", tt.id, err)
		case tt.problem != "" && (err == nil || !strings.Contains(err.Error(), tt.problem)):
			t.Errorf("%q: %v, want an error naming %q", tt.id, err, tt.problem)
		}
	}
}

// countingObserver is observed plus AnswerObserver.
type countingObserver struct {
	observed
	umu         sync.Mutex
	unrequested map[string]int // endpoint → elements
}

func (o *countingObserver) ObserveUnrequested(platform, endpoint string, n int) {
	o.umu.Lock()
	defer o.umu.Unlock()
	if o.unrequested == nil {
		o.unrequested = map[string]int{}
	}
	o.unrequested[platform+" "+endpoint] += n
}

func (o *countingObserver) unrequestedOf(endpoint string) int {
	o.umu.Lock()
	defer o.umu.Unlock()
	return o.unrequested["corastone "+endpoint]
}

func (o *countingObserver) malformedCodes() int {
	_, codes, _ := o.snapshot()
	n := 0
	for _, c := range codes {
		if c == "corastone "+CodeMalformedResponse {
			n++
		}
	}
	return n
}

// TestOrchestrationsElementByElement: one element of a page that cannot be read affects only its
// own orchestration (returned with Unreadable and the element's first bytes); an element whose id
// cannot be read affects nobody and is counted (SPEC §5).
func TestOrchestrationsElementByElement(t *testing.T) {
	good := func(id string) string {
		return fmt.Sprintf(`{"orchestrationId":%q,"status":"success","timestamp":"2026-01-02T03:04:05Z","processIds":[%q]}`, id, id)
	}
	tests := []struct {
		name, bad string
		badID     string // "": the element's id cannot be read
	}{
		{"timestamp year 99999", `{"orchestrationId":"o-03","status":"success","timestamp":"99999-01-01T00:00:00Z"}`, "o-03"},
		{"timestamp number too big", `{"orchestrationId":"o-03","status":"success","timestamp":1e300}`, "o-03"},
		{"currentStep too big", `{"orchestrationId":"o-03","status":"in_progress","currentStep":99999999999999999999999}`, "o-03"},
		{"status of the wrong type", `{"orchestrationId":"o-03","status":7}`, "o-03"},
		{"processIds of the wrong type", `{"orchestrationId":"o-03","status":"queued","processIds":"o-03"}`, "o-03"},
		{"unknown status", `{"orchestrationId":"o-03","status":"exploded"}`, "o-03"},
		{"status missing", `{"orchestrationId":"o-03"}`, "o-03"},
		{"id of the wrong type", `{"orchestrationId":3,"status":"success"}`, ""},
		{"id missing", `{"status":"success"}`, ""},
		{"null element", `null`, ""},
		{"a number", `12`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := ids("o", 10)
			elems := make([]string, len(want))
			for i, id := range want {
				elems[i] = good(id)
			}
			elems[3] = tt.bad
			f := newFakeCorastone(t)
			f.setAPI(func(w http.ResponseWriter, r *http.Request, _ []byte) {
				writeJSON(w, 200, "["+strings.Join(elems, ",")+"]")
			})
			obs := &countingObserver{}
			c := newTestCorastone(t, f.config(), obs)
			got, err := c.Orchestrations(context.Background(), want)
			if err != nil {
				t.Fatalf("the page failed: %v", err)
			}
			readable := map[string]bool{}
			var unreadable []Orchestration
			for _, o := range got {
				if o.Unreadable != nil {
					unreadable = append(unreadable, o)
					continue
				}
				if o.Status != "success" || o.Timestamp.IsZero() {
					t.Errorf("%s: %+v", o.OrchestrationID, o)
				}
				readable[o.OrchestrationID] = true
			}
			if len(readable) != 9 || readable["o-003"] {
				t.Errorf("readable %v, want the 9 others", readable)
			}
			if obs.malformedCodes() != 1 {
				t.Errorf("MALFORMED_RESPONSE observed %d times, want 1", obs.malformedCodes())
			}
			if tt.badID == "" {
				if len(unreadable) != 0 {
					t.Errorf("unreadable %+v, want none: the id cannot be read", unreadable)
				}
				return
			}
			// The bad element names "o-03", not asked for: the fixture asks for o-000…o-009.
			// Ask again with its id among them.
			want[3] = tt.badID
			got, err = c.Orchestrations(context.Background(), want)
			if err != nil {
				t.Fatal(err)
			}
			unreadable = nil
			for _, o := range got {
				if o.Unreadable != nil {
					unreadable = append(unreadable, o)
				}
			}
			if len(got) != 10 || len(unreadable) != 1 {
				t.Fatalf("%d orchestrations, %d unreadable; want 10 and 1", len(got), len(unreadable))
			}
			u := unreadable[0]
			e := u.Unreadable
			if u.OrchestrationID != tt.badID || u.Status != "" || u.Terminal() || e.Code != CodeMalformedResponse ||
				e.Verdict != Transient || e.HTTPStatus != 200 || e.Endpoint != "orchestrations" {
				t.Errorf("unreadable %+v, error %+v", u, e)
			}
			if e.Body != excerpt([]byte(tt.bad), 256) || !strings.Contains(e.Message, tt.badID) {
				t.Errorf("body %q message %q: want the element's bytes and its id", e.Body, e.Message)
			}
		})
	}
}

// TestUnreadableLosesToReadable: an id answered by a readable and an unreadable element is the
// readable one.
func TestUnreadableLosesToReadable(t *testing.T) {
	f := newFakeCorastone(t)
	f.setAPI(func(w http.ResponseWriter, r *http.Request, _ []byte) {
		writeJSON(w, 200, `[{"orchestrationId":"a","status":"bogus"},{"orchestrationId":"a","status":"success"}]`)
	})
	c := newTestCorastone(t, f.config(), nil)
	got, err := c.Orchestrations(context.Background(), []string{"a"})
	if err != nil || len(got) != 1 || got[0].Unreadable != nil || got[0].Status != "success" {
		t.Errorf("got %+v, %v", got, err)
	}
}

// TestFilterIgnored: a platform that answers every request with a full page of ids not asked for
// is noticed on the first page: one request per chunk of 50, not 100 pages; the unrequested
// elements are counted and dropped, and the requested ids it does answer are kept.
func TestFilterIgnored(t *testing.T) {
	for _, endpoint := range []string{"orchestrations", "transactions"} {
		t.Run(endpoint, func(t *testing.T) {
			f := newFakeCorastone(t)
			f.setAPI(func(w http.ResponseWriter, r *http.Request, _ []byte) {
				off := r.URL.Query().Get("offset")
				var elems []string
				for i := range pageSize {
					id := fmt.Sprintf("other-%s-%02d", off, i)
					if i == 7 {
						id = "asked-007" // one requested id among the strangers
					}
					elems = append(elems, fmt.Sprintf(`{"orchestrationId":%q,"processId":%q,"status":"success"}`, id, id))
				}
				writeJSON(w, 200, "["+strings.Join(elems, ",")+"]")
			})
			obs := &countingObserver{}
			c := newTestCorastone(t, f.config(), obs)
			asked := ids("asked", 120)
			var found []string
			switch endpoint {
			case "orchestrations":
				got, err := c.Orchestrations(context.Background(), asked)
				if err != nil {
					t.Fatal(err)
				}
				for _, o := range got {
					found = append(found, o.OrchestrationID)
				}
			default:
				got, err := c.Transactions(context.Background(), TransactionFilter{ProcessIDs: asked})
				if err != nil {
					t.Fatal(err)
				}
				for _, tx := range got {
					found = append(found, tx.ProcessID)
				}
			}
			if len(found) != 1 || found[0] != "asked-007" {
				t.Errorf("found %q, want only asked-007", found)
			}
			if n := len(f.apiRequests()); n != 3 {
				t.Errorf("%d requests for 120 ids, want 3 (one per chunk)", n)
			}
			// Chunk 1 holds asked-007: 49 strangers; chunks 2 and 3: 50 each.
			if n := obs.unrequestedOf(endpoint); n != 149 {
				t.Errorf("unrequested counted %d, want 149", n)
			}
		})
	}
}

// TestTransactionsElementByElement: an unreadable transaction is dropped (and counted), the
// others kept.
func TestTransactionsElementByElement(t *testing.T) {
	f := newFakeCorastone(t)
	f.setAPI(func(w http.ResponseWriter, r *http.Request, _ []byte) {
		writeJSON(w, 200, `[{"processId":"p1","orchestrationId":"o","status":"failed"},`+
			`{"processId":"p2","orchestrationId":"o","status":"success","timestamp":"99999-01-01T00:00:00Z"},`+
			`{"processId":"p3","orchestrationId":"o","status":"success"}]`)
	})
	obs := &countingObserver{}
	c := newTestCorastone(t, f.config(), obs)
	got, err := c.Transactions(context.Background(), TransactionFilter{OrchestrationIDs: []string{"o"}})
	if err != nil || len(got) != 2 || got[0].ProcessID != "p1" || got[1].ProcessID != "p3" {
		t.Errorf("got %+v, %v", got, err)
	}
	if obs.malformedCodes() != 1 {
		t.Errorf("MALFORMED_RESPONSE observed %d times", obs.malformedCodes())
	}
}

// TestDecodeOrchestrationsPage holds the element-by-element decoder to json v2's Unmarshal of
// each element.
func TestDecodeOrchestrationsPage(t *testing.T) {
	for _, data := range orchestrationPageSamples() {
		checkOrchestrationsPage(t, []byte(data))
	}
}

func orchestrationPageSamples() []string {
	return []string{
		`[]`, `[null]`, `[1,"a",true,{}]`, `{}`, `null`, `[`, `[{"orchestrationId":"a","status":"queued"}]`,
		`[{"orchestrationId":"a","status":"queued"},{"orchestrationId":"b","status":"done"}]`,
		`[{"orchestrationId":"a","status":"success","timestamp":"99999-01-01T00:00:00Z"},{"orchestrationId":"b","status":"dlq"}]`,
		`[{"orchestrationId":"a","currentStep":1e400,"status":"failed"}]`,
		`[{"orchestrationId":"a","status":"success","ORCHESTRATIONID":"b"}]`,
		"[{\"orchestrationId\":\"\xff\",\"status\":\"success\",\"startDate\":1726099200000}]",
		`[{"orchestrationId":"a","status":"queued"},{"orchestrationId":"b","status":"queued","status":"failed"}]`,
		"[{\"orchestrationId\":\"a\",\"status\":\"queued\"},{\"orchestrationId\":\"b\",\"status\":\"queued\",\"x\":\"\xff\"}]",
		`[{"orchestrationId":"a","status":"queued"}] x`, `[{"orchestrationId":"a","status":"queued"},]`,
	}
}

// checkOrchestrationsPage: decodeOrchestrationsPage fails exactly when data is not a JSON array (or null);
// otherwise every element is either returned (equal to json v2's Unmarshal of it, with a
// documented status) or set aside (json v2 or the status check refuses it), in order. The page is
// split as encoding/json splits it: a name given twice or invalid UTF-8 affects one element only.
func checkOrchestrationsPage(t *testing.T, data []byte) {
	t.Helper()
	var raws []json.RawMessage
	arrayErr := json.Unmarshal(data, &raws)
	page, bad, err := decodeOrchestrationsPage(data)
	if (err != nil) != (arrayErr != nil) {
		t.Fatalf("%q: err %v, json.Unmarshal into []RawMessage %v", data, err, arrayErr)
	}
	if err != nil {
		return
	}
	if len(page)+len(bad) != len(raws) {
		t.Fatalf("%q: %d read + %d set aside, %d elements", data, len(page), len(bad), len(raws))
	}
	i, j := 0, 0
	for _, raw := range raws {
		var o Orchestration
		uerr := jsonv2.Unmarshal(raw, &o)
		if uerr == nil {
			uerr = checkOrchestration(o)
		}
		if uerr != nil {
			if j >= len(bad) || string(bad[j].raw) != string(raw) || bad[j].err == nil {
				t.Fatalf("%q: element %s should be set aside (%v)", data, raw, uerr)
			}
			if id := elementID(raw, "orchestrationId"); bad[j].id != id {
				t.Fatalf("%q: id %q, want %q", data, bad[j].id, id)
			}
			j++
			continue
		}
		if i >= len(page) || !reflect.DeepEqual(page[i], o) {
			t.Fatalf("%q: element %s read as %+v, want %+v", data, raw, page[min(i, len(page)-1)], o)
		}
		i++
	}
}

func FuzzDecodeOrchestrationsPage(f *testing.F) {
	for _, s := range orchestrationPageSamples() {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkOrchestrationsPage(t, data) })
}

// TestListUnreadableIsNotAFault: a page of unreadable elements is an answer, not an error (the
// caller decides per element); nothing is retried inside.
func TestListUnreadableIsNotAFault(t *testing.T) {
	f := newFakeCorastone(t)
	f.setAPI(func(w http.ResponseWriter, r *http.Request, _ []byte) {
		writeJSON(w, 200, `[{"orchestrationId":"a","status":"bogus"}]`)
	})
	c := newTestCorastone(t, f.config(), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got, err := c.Orchestrations(ctx, []string{"a"})
	var e *Error
	if err != nil || len(got) != 1 || !errors.As(got[0].Unreadable, &e) || len(f.apiRequests()) != 1 {
		t.Errorf("got %+v, %v after %d requests", got, err, len(f.apiRequests()))
	}
}

// TestHostileOrchestrationAnswers answers Orchestrations(o-000…o-009) with each page of
// testdata/hostile/answers/orchestrations.*.json (README-orchestrations.md): never an error, one
// request, and only the elements the table names are set aside.
func TestHostileOrchestrationAnswers(t *testing.T) {
	type want struct {
		readable    int      // of the ids asked for
		unreadable  []string // returned with Unreadable
		unrequested int
	}
	bad3 := want{9, []string{"o-003"}, 0}
	expect := map[string]want{
		"timestamp-year-99999":     bad3,
		"timestamp-number-too-big": bad3,
		"currentstep-too-big":      bad3,
		"unknown-status":           bad3,
		"status-wrong-type":        bad3,
		"processids-wrong-type":    bad3,
		"id-wrong-type":            {9, nil, 0},
		"id-missing":               {9, nil, 0},
		"null-element":             {9, nil, 0},
		"bad-then-good-same-id":    {10, nil, 0},
		"unrequested-ids":          {7, nil, 3},
		"filter-ignored":           {0, nil, 50},
	}
	files, err := filepath.Glob("../testdata/hostile/answers/orchestrations.*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("corpus: %v (%d files)", err, len(files))
	}
	seen := map[string]bool{}
	for _, file := range files {
		name := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(file), "orchestrations."), ".json")
		seen[name] = true
		t.Run(name, func(t *testing.T) {
			w, ok := expect[name]
			if !ok {
				t.Fatal("no expectation: add the file to this table and to README-orchestrations.md")
			}
			body, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			f := newFakeCorastone(t)
			f.setAPI(func(rw http.ResponseWriter, r *http.Request, _ []byte) { writeJSON(rw, 200, string(body)) })
			obs := &countingObserver{}
			c := newTestCorastone(t, f.config(), obs)
			got, err := c.Orchestrations(context.Background(), ids("o", 10))
			if err != nil {
				t.Fatalf("the page failed: %v", err)
			}
			readable := 0
			var unreadable []string
			for _, o := range got {
				if o.Unreadable != nil {
					unreadable = append(unreadable, o.OrchestrationID)
					if o.Unreadable.Code != CodeMalformedResponse || o.Unreadable.Body == "" {
						t.Errorf("%s: %+v", o.OrchestrationID, o.Unreadable)
					}
					continue
				}
				readable++
			}
			if readable != w.readable || !slices.Equal(unreadable, w.unreadable) || obs.unrequestedOf("orchestrations") != w.unrequested {
				t.Errorf("readable %d, unreadable %q, unrequested %d; want %d %q %d",
					readable, unreadable, obs.unrequestedOf("orchestrations"), w.readable, w.unreadable, w.unrequested)
			}
			if n := len(f.apiRequests()); n != 1 {
				t.Errorf("%d requests, want 1", n)
			}
		})
	}
	for name := range expect {
		if !seen[name] {
			t.Errorf("expected file orchestrations.%s.json is missing", name)
		}
	}
}
