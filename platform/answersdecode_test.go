package platform

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	json2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/txworker/txworker/platform/platformtest"
)

// The answer decoders (answers.go, json v2) are held to encoding/json under json v2's rules: for
// every input, decodeActionReply gives what json.Unmarshal gives, except that a name given twice
// or invalid UTF-8 is refused (jsontext.Value.IsValid) and a member whose name matches a field
// only case-insensitively is ignored instead of setting it.

// replyOracle is what decodeActionReply must give for data: encoding/json's value once the
// members whose names fold to a field's without being it are removed; ok=false: an error.
func replyOracle(data []byte) (want actionReply, ok bool) {
	if !jsontext.Value(data).IsValid() {
		return actionReply{}, false
	}
	if json.Unmarshal(exactNames(data, "processId", "orchestrationId", "assetId"), &want) != nil {
		return actionReply{}, false
	}
	return want, true
}

// exactNames is data without the top-level object members whose names match one of fields only
// case-insensitively (as encoding/json matches them); data unchanged when it is not an object.
func exactNames(data []byte, fields ...string) []byte {
	var m map[string]json.RawMessage
	if b := bytes.TrimSpace(data); len(b) == 0 || b[0] != '{' || json.Unmarshal(data, &m) != nil {
		return data
	}
	folded := false
	for k := range m {
		for _, f := range fields {
			if k != f && strings.EqualFold(k, f) {
				delete(m, k)
				folded = true
			}
		}
	}
	if !folded {
		return data
	}
	out, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return out
}

// checkReply compares decodeActionReply with replyOracle on data.
func checkReply(t testing.TB, data []byte) {
	t.Helper()
	want, ok := replyOracle(data)
	got, err := decodeActionReply(data)
	if (err == nil) != ok || got != want {
		t.Fatalf("decodeActionReply(%q) = %+v, %v\nwant %+v, ok %v", data, got, err, want, ok)
	}
}

// orchestrationFields are the JSON names of Orchestration's fields.
var orchestrationFields = []string{"orchestrationId", "status", "startDate", "timestamp", "createdDate", "processIds",
	"sourceTransactionId", "currentStep"}

// checkOrchestrations compares decodeOrchestrationsPage with encoding/json on data: the page
// fails exactly when encoding/json cannot split it into elements; each element is read as
// json.Unmarshal reads it under json v2's rules (see replyOracle) with a documented status, or
// set aside with its orchestrationId.
func checkOrchestrations(t testing.TB, data []byte) {
	t.Helper()
	var raws []json.RawMessage
	splitErr := json.Unmarshal(data, &raws)
	page, bad, err := decodeOrchestrationsPage(data)
	if (err != nil) != (splitErr != nil) {
		t.Fatalf("decodeOrchestrationsPage(%q): err %v, encoding/json split %v", data, err, splitErr)
	}
	if err != nil {
		return
	}
	var wantPage []Orchestration
	wantBad := 0
	for _, raw := range raws {
		var o Orchestration
		if !jsontext.Value(raw).IsValid() || json.Unmarshal(exactNames(raw, orchestrationFields...), &o) != nil || checkOrchestration(o) != nil {
			wantBad++
			continue
		}
		wantPage = append(wantPage, o)
	}
	if len(page) != len(wantPage) || len(bad) != wantBad {
		t.Fatalf("decodeOrchestrationsPage(%q): %d read, %d set aside; want %d, %d", data, len(page), len(bad), len(wantPage), wantBad)
	}
	for i := range page {
		if !reflect.DeepEqual(page[i], wantPage[i]) && !(len(page[i].ProcessIDs) == 0 && len(wantPage[i].ProcessIDs) == 0 &&
			reflect.DeepEqual(withoutIDs(page[i]), withoutIDs(wantPage[i]))) {
			t.Fatalf("decodeOrchestrationsPage(%q)[%d] =\n%#v\nwant\n%#v", data, i, page[i], wantPage[i])
		}
	}
}

// withoutIDs is o without its ProcessIDs: an empty list and null differ by their nil-ness only.
func withoutIDs(o Orchestration) Orchestration {
	o.ProcessIDs = nil
	return o
}

const (
	docReply  = `{"processId": "2159457f-0167-4e93-a969-9cf0db05e0bf", "orchestrationId": "2159457f-0167-4e93-a969-9cf0db05e0bf"}`
	docOrch   = `{ "orchestrationId": "3f50c1e2-1c4b-4b8b-9a6e-2b5e4e5f6a7b", "status": "success", "startDate": "2024-09-12T00:00:00.000Z", "timestamp": "2024-09-12T00:00:00.000Z", "processIds": ["12340c1e2-1c4b-4b8b-9a6e-2b5e4e5f5678", "abcdc1e2-1c4b-4b8b-9a6e-2b5e4e5fmnbv"], "sourceTransactionId": "12340c1e2-1c4b-4b8b-9a6e-2b5e4e5f5678", "currentStep": 1, "createdDate": "2024-09-12T00:00:00.000Z" }`
	simOrch   = `{"orchestrationId":"2159457f-0167-4e93-a969-9cf0db05e0bf","status":"in_progress","startDate":1726099200000,"createdDate":1726099200000,"processIds":["2159457f-0167-4e93-a969-9cf0db05e0bf","8d6b1a52-3f0e-4c7e-9d3a-1b2c3d4e5f60"],"sourceTransactionId":"2159457f-0167-4e93-a969-9cf0db05e0bf","currentStep":1}`
	nestedEnd = `"processData":{"a":[1,-2.5e+3,{"b":[true,false,null,"\u00e9\"]"]}],"c":{}},"dryRun":false,"n":0,"e":[],"s":"x"}`
)

// replyCases are odd action replies; ok: decodeActionReply reads it (json v2's verdict).
var replyCases = []struct {
	name, in string
	ok       bool
}{
	{"documented", docReply, true},
	{"reject-asset", `{"processId":"p","orchestrationId":"p","assetId":"US9QIMAOAS1Q"}`, true},
	{"empty object", `{}`, true},
	{"white space", " \r\n\t{ \"processId\" :\"a\" ,\n\"orchestrationId\"\t: \"b\" } \n", true},
	{"unknown nested members", `{"processId":"a","orchestrationId":"b",` + nestedEnd, true},
	{"unknown members first", `{"x":{"y":[[[]]]},"orchestrationId":"b","z":null}`, true},
	{"escapes", `{"orchestrationId":"a\"b\\c\/d\b\f\n\r\t\u00e9\ud83d\ude00\u0000"}`, true},
	{"escaped key", `{"process\u0049d":"a","orchestrationI\u0064":"b"}`, true},
	{"lone surrogate", `{"orchestrationId":"\ud800x","processId":"\udc00"}`, false},
	{"invalid UTF-8", "{\"orchestrationId\":\"\xff\xfe\xc3\"}", false},
	{"invalid UTF-8 key", "{\"\xffprocessId\":\"x\",\"orchestrationId\":\"o\"}", false},
	{"non-ASCII value", `{"orchestrationId":"ørkestrering 😀"}`, true},
	{"nulls", `{"processId":null,"orchestrationId":"b","assetId":null}`, true},
	{"null member twice", `{"x":null,"x":1}`, false},
	{"different ids", `{"processId":"a","orchestrationId":"b","assetId":"a"}`, true},
	{"case-changed key", `{"ProcessId":"a","orchestrationId":"b"}`, true},
	{"upper-case key", `{"ORCHESTRATIONID":"b"}`, true},
	{"long s folds to s", `{"proce\u017fsId":"a"}`, true},
	{"long s raw", `{"proceſsId":"a"}`, true},
	{"kelvin sign", `{"K":1,"assetId":"a"}`, true},
	{"duplicate", `{"processId":"a","processId":"b"}`, false},
	{"duplicate null", `{"orchestrationId":"a","orchestrationId":null}`, false},
	{"duplicate case-changed", `{"assetId":"a","assetid":"b"}`, true},
	{"number", `{"processId":1,"orchestrationId":"b"}`, false},
	{"object value", `{"orchestrationId":{"a":1}}`, false},
	{"array value", `{"assetId":["x"]}`, false},
	{"bool value", `{"assetId":true}`, false},
	{"top-level null", `null`, true},
	{"top-level array", `[]`, false},
	{"top-level string", `"x"`, false},
	{"empty", ``, false},
	{"white space only", " \n", false},
	{"trailing comma", `{"processId":"a",}`, false},
	{"leading comma", `{,"processId":"a"}`, false},
	{"unclosed", `{"processId":"a"`, false},
	{"unclosed string", `{"processId":"a`, false},
	{"no colon", `{"processId" "a"}`, false},
	{"bare key", `{processId:"a"}`, false},
	{"leading zero", `{"x":01}`, false},
	{"bare fraction", `{"x":1.}`, false},
	{"bare exponent", `{"x":1e}`, false},
	{"minus only", `{"x":-}`, false},
	{"plus", `{"x":+1}`, false},
	{"short true", `{"x":tru}`, false},
	{"nulll", `{"x":nulll}`, false},
	{"control character", "{\"x\":\"a\x01\"}", false},
	{"bad escape", `{"x":"\q"}`, false},
	{"short unicode escape", `{"x":"\u12"}`, false},
	{"bad unicode escape", `{"x":"\u12g4"}`, false},
	{"array trailing comma", `{"x":[1,]}`, false},
	{"array leading comma", `{"x":[,1]}`, false},
	{"object without value", `{"x":{"y"}}`, false},
	{"invalid deep in unknown member", `{"processId":"a","x":[{"y":[tru]}]}`, false},
	{"invalid after wrong type", `{"processId":1,"x":}`, false},
	{"trailing garbage", `{"processId":"a"}x`, false},
	{"second value", `{"processId":"a"}{}`, false},
	{"trailing comma after", `{"processId":"a"} ,`, false},
	{"trailing NUL", "{\"processId\":\"a\"}\x00", false},
	{"byte order mark", "\xef\xbb\xbf{}", false},
	{"deep unknown member", `{"orchestrationId":"b","x":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`, true},
	{"too deep", `{"x":` + strings.Repeat("[", 10001) + strings.Repeat("]", 10001) + `}`, false},
	{"huge number", `{"x":1e999999,"orchestrationId":"b"}`, true},
}

func TestDecodeActionReply(t *testing.T) {
	for _, tt := range replyCases {
		t.Run(tt.name, func(t *testing.T) {
			checkReply(t, []byte(tt.in))
			if _, err := decodeActionReply([]byte(tt.in)); (err == nil) != tt.ok {
				t.Errorf("error %v, want ok %v", err, tt.ok)
			}
		})
	}
}

func orchPage(elems ...string) string { return "[" + strings.Join(elems, ",") + "]" }

// orchCases are odd orchestration pages; ok: json v2 reads every element (whatever its status).
var orchCases = []struct {
	name, in string
	ok       bool
}{
	{"documented", orchPage(docOrch), true},
	{"simulator", orchPage(simOrch, docOrch, simOrch), true},
	{"empty array", `[]`, true},
	{"empty array with space", " [ \n ] ", true},
	{"null element", `[null]`, true},
	{"empty element", `[{}]`, true},
	{"white space", "[ {\"orchestrationId\" : \"a\" , \"processIds\" : [ \"a\" , \"b\" ] } ,\n{ } ]", true},
	{"unknown nested members", `[{"orchestrationId":"a",` + nestedEnd + `]`, true},
	{"processIds empty", `[{"orchestrationId":"a","processIds":[]},{"orchestrationId":"b","processIds":["b"]}]`, true},
	{"processIds null", `[{"orchestrationId":"a","processIds":null}]`, true},
	{"processIds null element", `[{"orchestrationId":"a","processIds":["a",null,"\u00e9"]}]`, true},
	{"processIds escapes", "[{\"processIds\":[\"\\ud800\",\"\xff\",\"a\\nb\"]}]", false},
	{"processIds number", `[{"processIds":[1]}]`, false},
	{"processIds string", `[{"processIds":"a"}]`, false},
	{"processIds object", `[{"processIds":{}}]`, false},
	{"processIds twice", `[{"processIds":["a","b"],"processIds":["c"]}]`, false},
	{"unknown status", `[{"orchestrationId":"a","status":"paused"}]`, true},
	{"status escaped", `[{"orchestrationId":"a","status":"succ\u0065ss"}]`, true},
	{"currentStep zero", `[{"currentStep":0}]`, true},
	{"currentStep minus zero", `[{"currentStep":-0}]`, true},
	{"currentStep negative", `[{"currentStep":-17}]`, true},
	{"currentStep 18 digits", `[{"currentStep":123456789012345678}]`, true},
	{"currentStep -18 digits", `[{"currentStep":-999999999999999999}]`, true},
	{"currentStep max int64", `[{"currentStep":9223372036854775807}]`, true},
	{"currentStep min int64", `[{"currentStep":-9223372036854775808}]`, true},
	{"currentStep over int64", `[{"currentStep":9223372036854775808}]`, false},
	{"currentStep huge", `[{"currentStep":99999999999999999999999999999}]`, false},
	{"currentStep fraction", `[{"currentStep":1.0}]`, false},
	{"currentStep exponent", `[{"currentStep":1e2}]`, false},
	{"currentStep huge exponent", `[{"currentStep":1e400}]`, false},
	{"currentStep string", `[{"currentStep":"1"}]`, false},
	{"currentStep null", `[{"currentStep":null}]`, true},
	{"currentStep bool", `[{"currentStep":true}]`, false},
	{"timestamps null", `[{"startDate":null,"timestamp":null,"createdDate":null}]`, true},
	{"timestamp empty string", `[{"timestamp":""}]`, true},
	{"timestamp date", `[{"startDate":"1980-01-01"}]`, true},
	{"timestamp offset", `[{"startDate":"2024-09-12T10:11:12.123456789+02:00"}]`, true},
	{"timestamp no zone", `[{"startDate":"2024-09-12T10:11:12"}]`, true},
	{"timestamp epoch string", `[{"createdDate":"1185106460000"}]`, true},
	{"timestamp epoch fraction", `[{"createdDate":1185106460000.25}]`, true},
	{"timestamp exponent", `[{"createdDate":1e3}]`, true},
	{"timestamp escaped", `[{"startDate":"2024\u002d09-12T00:00:00Z"}]`, true},
	{"timestamp spaces inside", `[{"startDate":" 2024-09-12 "}]`, true},
	{"timestamp not a time", `[{"timestamp":"not a time"}]`, false},
	{"timestamp out of range", `[{"startDate":-99999999999999999999}]`, false},
	{"timestamp object", `[{"timestamp":{}}]`, false},
	{"timestamp array", `[{"timestamp":[1]}]`, false},
	{"timestamp bool", `[{"timestamp":true}]`, false},
	{"timestamp twice", `[{"timestamp":"2024-09-12","timestamp":null}]`, false},
	{"case-changed key", `[{"OrchestrationId":"a"}]`, true},
	{"lower-case key", `[{"currentstep":1}]`, true},
	{"kelvin-free fold", `[{"ſtatus":"x"}]`, true},
	{"duplicate", `[{"status":"queued","status":"success"}]`, false},
	{"number element", `[1]`, false},
	{"string element", `["x"]`, false},
	{"array element", `[[]]`, false},
	{"bool element", `[true]`, false},
	{"wrong type then fine", `[{"orchestrationId":5},{"orchestrationId":"b"}]`, false},
	{"top-level object", `{}`, false},
	{"top-level null", `null`, true},
	{"empty", ``, false},
	{"trailing garbage", `[] x`, false},
	{"unclosed", `[{"orchestrationId":"a"}`, false},
	{"trailing comma", `[{},]`, false},
	{"missing comma", `[{} {}]`, false},
	{"invalid in unknown member", `[{"x":{"y":[1 2]}}]`, false},
	{"invalid after type error", `[{"currentStep":"x"},{"a":]`, false},
}

func TestDecodeOrchestrations(t *testing.T) {
	for _, tt := range orchCases {
		t.Run(tt.name, func(t *testing.T) {
			checkOrchestrations(t, []byte(tt.in))
			var page []Orchestration
			if err := json2.Unmarshal([]byte(tt.in), &page); (err == nil) != tt.ok {
				t.Errorf("json v2: %v, want ok %v", err, tt.ok)
			}
		})
	}
}

// TestDecodeSimulatorAnswers decodes the simulator's own answers: all readable.
func TestDecodeSimulatorAnswers(t *testing.T) {
	replies, page := simAnswers(t, 50)
	for _, r := range replies {
		checkReply(t, r)
		if _, err := decodeActionReply(r); err != nil {
			t.Errorf("%s: %v", r, err)
		}
	}
	checkOrchestrations(t, page)
	got, bad, err := decodeOrchestrationsPage(page)
	if len(got) != 50 || len(bad) != 0 || err != nil {
		t.Errorf("%d orchestrations, %d set aside, %v; want 50, 0", len(got), len(bad), err)
	}
}

// TestDecodeRandomAnswers decodes random answers (valid JSON; some strings hold invalid UTF-8),
// then the same answers with one byte changed.
func TestDecodeRandomAnswers(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	n := 3000
	if testing.Short() {
		n = 300
	}
	for range n {
		reply, page := randomReply(r), randomPage(r, r.IntN(6))
		checkReply(t, reply)
		checkOrchestrations(t, page)
		checkReply(t, mutate(r, reply))
		checkOrchestrations(t, mutate(r, page))
	}
}

func FuzzDecodeActionReply(f *testing.F) {
	for _, c := range replyCases {
		f.Add([]byte(c.in))
	}
	replies, _ := simAnswers(f, 4)
	for _, b := range replies {
		f.Add(b)
	}
	r := rand.New(rand.NewPCG(3, 4))
	for range 8 {
		f.Add(randomReply(r))
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkReply(t, data) })
}

func FuzzDecodeOrchestrations(f *testing.F) {
	for _, c := range orchCases {
		f.Add([]byte(c.in))
	}
	_, page := simAnswers(f, 8)
	f.Add(page)
	r := rand.New(rand.NewPCG(5, 6))
	for range 8 {
		f.Add(randomPage(r, 1+r.IntN(3)))
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkOrchestrations(t, data) })
}

// BenchmarkDecodeReply decodes the simulator's answers: an action reply and a page of 50
// orchestrations (every timestamp form, mixed statuses), with the decoders (json v2) and with
// encoding/json for comparison.
func BenchmarkDecodeReply(b *testing.B) {
	replies, page := simAnswers(b, 50)
	reply := replies[0]
	b.Run("action/json-v2", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(reply)))
		for b.Loop() {
			if _, err := decodeActionReply(reply); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("action/encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(reply)))
		for b.Loop() {
			var out actionReply
			if err := json.Unmarshal(reply, &out); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("orchestrations-50/json-v2", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(page)))
		for b.Loop() {
			if _, bad, err := decodeOrchestrationsPage(page); err != nil || len(bad) > 0 {
				b.Fatal(err, bad)
			}
		}
	})
	b.Run("orchestrations-50/encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(page)))
		for b.Loop() {
			var out []Orchestration
			if err := json.Unmarshal(page, &out); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// simAnswers runs n actions (cancel-offering, and reject-asset every fifth) on the simulator and
// returns their raw replies and the raw orchestrations page about all of them, taken part-way
// through their runs: mixed statuses and, rotating, every timestamp form.
func simAnswers(tb testing.TB, n int) (replies [][]byte, page []byte) {
	tb.Helper()
	var clock atomic.Int64
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	sim, err := platformtest.Start(platformtest.Config{AutoCreate: true, Seed: 1, LogSize: -1,
		Now: func() time.Time { return base.Add(time.Duration(clock.Load())) }})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(sim.Close)
	rec := &recorder{base: http.DefaultTransport}
	c, err := NewCorastone(CorastoneConfig{BaseURL: sim.URL(), ClientID: "txworker", ClientSecret: "sandbox-secret",
		Actions: []string{"cancel-offering", "reject-asset"}, UserAgent: "txworker-fastdecode-test/1.0", Transport: rec}, nil, nil)
	if err != nil {
		tb.Fatal(err)
	}
	ctx := context.Background()
	r := rand.New(rand.NewPCG(7, 8))
	var pids []string
	for i := range n {
		req := mustParse(tb, "cancel-offering", fmt.Sprintf(`{"securityId":"USFD%06dI0"}`, i))
		if i%5 == 4 {
			req = mustParse(tb, "reject-asset", fmt.Sprintf(`{"assetId":"US9QIMA%05d","transactionData":{"securityId":"USFA%06dI0"}}`, i, i))
		}
		pid := testUUID(r)
		if _, err := c.Execute(ctx, req, pid); err != nil {
			tb.Fatal(err)
		}
		replies = append(replies, rec.last())
		pids = append(pids, pid)
		clock.Add(int64(40 * time.Millisecond))
	}
	if _, err := c.Orchestrations(ctx, pids); err != nil {
		tb.Fatal(err)
	}
	return replies, rec.last()
}

// recorder is a RoundTripper that keeps a copy of the last answer's body.
type recorder struct {
	base http.RoundTripper
	mu   sync.Mutex
	body []byte
}

func (rec *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := rec.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	rec.mu.Lock()
	rec.body = body
	rec.mu.Unlock()
	return resp, nil
}

func (rec *recorder) last() []byte {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return rec.body
}

func testUUID(r *rand.Rand) string {
	var b [16]byte
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// randJSON writes random valid JSON (strings may hold invalid UTF-8).
type randJSON struct {
	r *rand.Rand
	b []byte
}

func (w *randJSON) ws() {
	for w.r.IntN(4) == 0 {
		w.b = append(w.b, " \t\n\r"[w.r.IntN(4)])
	}
}

func (w *randJSON) raw(s string) { w.b = append(w.b, s...) }

// str writes s as a string literal, escaping some characters that need no escape; invalid UTF-8
// is written as it is.
func (w *randJSON) str(s string) {
	w.b = append(w.b, '"')
	for i := 0; i < len(s); {
		c, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case c == utf8.RuneError && size == 1:
			w.b = append(w.b, s[i])
		case c == '"' || c == '\\':
			w.b = append(w.b, '\\', byte(c))
		case c < ' ' || w.r.IntN(10) == 0:
			w.escape(c)
		default:
			w.b = append(w.b, s[i:i+size]...)
		}
		i += size
	}
	w.b = append(w.b, '"')
}

func (w *randJSON) escape(c rune) {
	short := map[rune]string{'\b': `\b`, '\f': `\f`, '\n': `\n`, '\r': `\r`, '\t': `\t`, '/': `\/`}
	if e, ok := short[c]; ok && w.r.IntN(2) == 0 {
		w.raw(e)
		return
	}
	if c > 0xffff {
		hi, lo := (c-0x10000)>>10+0xd800, (c-0x10000)&0x3ff+0xdc00
		w.raw(fmt.Sprintf(`\u%04x\u%04X`, hi, lo))
		return
	}
	w.raw(fmt.Sprintf(`\u%04x`, c))
}

func (w *randJSON) randString() string {
	const alphabet = "abcXYZ019-_ \"\\/\n\t\x01é€😀\xff"
	runes := []rune(alphabet)
	var sb strings.Builder
	for range w.r.IntN(12) {
		if w.r.IntN(20) == 0 {
			sb.WriteString("\xff") // invalid UTF-8
			continue
		}
		sb.WriteRune(runes[w.r.IntN(len(runes))])
	}
	return sb.String()
}

// value writes a random JSON value (an unknown member's).
func (w *randJSON) value(depth int) {
	switch k := w.r.IntN(8); {
	case k == 0 && depth < 6:
		w.object(depth+1, w.r.IntN(4), nil)
	case k == 1 && depth < 6:
		w.raw("[")
		for i := range w.r.IntN(4) {
			if i > 0 {
				w.ws()
				w.raw(",")
			}
			w.ws()
			w.value(depth + 1)
			w.ws()
		}
		w.raw("]")
	case k == 2:
		w.raw([]string{"true", "false", "null"}[w.r.IntN(3)])
	case k == 3:
		w.raw([]string{"0", "-0", "12", "-3.25", "1e9", "2.5E-3", "1e999", "-0.0e+00", "123456789012345678901234567890"}[w.r.IntN(9)])
	default:
		w.str(w.randString())
	}
}

// object writes an object of the members set (name → writer of its value, in random order) and
// n unknown members.
func (w *randJSON) object(depth, n int, set map[string]func()) {
	type mem struct {
		name string
		val  func()
	}
	var mems []mem
	for name, val := range set {
		mems = append(mems, mem{name, val})
	}
	for range n {
		name := "x" + w.randString()
		mems = append(mems, mem{name, func() { w.value(depth) }})
	}
	w.r.Shuffle(len(mems), func(i, j int) { mems[i], mems[j] = mems[j], mems[i] })
	w.raw("{")
	for i, m := range mems {
		if i > 0 {
			w.raw(",")
		}
		w.ws()
		w.str(m.name)
		w.ws()
		w.raw(":")
		w.ws()
		m.val()
		w.ws()
	}
	w.raw("}")
}

// maybe sets name in set to write with probability 0.85, null with 0.1, absent otherwise.
func (w *randJSON) maybe(set map[string]func(), name string, write func()) {
	switch k := w.r.IntN(20); {
	case k < 17:
		set[name] = write
	case k < 19:
		set[name] = func() { w.raw("null") }
	}
}

func (w *randJSON) id() string {
	if w.r.IntN(4) == 0 {
		return w.randString()
	}
	return testUUID(w.r)
}

func randomReply(r *rand.Rand) []byte {
	w := &randJSON{r: r}
	id := w.id()
	set := map[string]func(){}
	w.maybe(set, "processId", func() { w.str(id) })
	w.maybe(set, "orchestrationId", func() { w.str(id) })
	if r.IntN(3) == 0 {
		w.maybe(set, "assetId", func() { w.str(w.randString()) })
	}
	w.ws()
	w.object(1, r.IntN(3), set)
	w.ws()
	return w.b
}

func randomPage(r *rand.Rand, n int) []byte {
	w := &randJSON{r: r}
	w.ws()
	w.raw("[")
	for i := range n {
		if i > 0 {
			w.raw(",")
		}
		w.ws()
		if r.IntN(20) == 0 {
			w.raw("null")
		} else {
			w.orchestration()
		}
		w.ws()
	}
	w.raw("]")
	w.ws()
	return w.b
}

func (w *randJSON) orchestration() {
	id := w.id()
	set := map[string]func(){}
	w.maybe(set, "orchestrationId", func() { w.str(id) })
	w.maybe(set, "status", func() {
		w.str([]string{"queued", "in_progress", "success", "failed", "dlq", w.randString()}[w.r.IntN(6)])
	})
	for _, name := range []string{"startDate", "timestamp", "createdDate"} {
		w.maybe(set, name, w.timestamp)
	}
	w.maybe(set, "processIds", func() {
		w.raw("[")
		for i := range w.r.IntN(5) {
			if i > 0 {
				w.raw(",")
			}
			w.ws()
			switch {
			case i == 0:
				w.str(id)
			case w.r.IntN(10) == 0:
				w.raw("null")
			default:
				w.str(w.id())
			}
			w.ws()
		}
		w.raw("]")
	})
	w.maybe(set, "sourceTransactionId", func() { w.str(id) })
	w.maybe(set, "currentStep", func() {
		n := w.r.Int64N(1_000_000_000_000_000_000) >> w.r.IntN(64)
		if w.r.IntN(4) == 0 {
			n = -n
		}
		w.raw(strconv.FormatInt(n, 10))
	})
	w.object(2, w.r.IntN(3), set)
}

// timestamp writes a value ParseTimestamp accepts.
func (w *randJSON) timestamp() {
	t := time.Unix(w.r.Int64N(4e9), w.r.Int64N(1e9)).UTC()
	switch w.r.IntN(7) {
	case 0:
		w.str(t.Format(time.RFC3339Nano))
	case 1:
		w.str(t.In(time.FixedZone("", 3600*(w.r.IntN(25)-12))).Format("2006-01-02T15:04:05.000Z07:00"))
	case 2:
		w.str(t.Format("2006-01-02"))
	case 3:
		w.raw(strconv.FormatInt(t.UnixMilli(), 10))
	case 4:
		w.str(strconv.FormatInt(t.UnixMilli(), 10))
	case 5:
		w.raw(strconv.FormatInt(t.UnixMilli(), 10) + ".5")
	default:
		w.str("")
	}
}

// mutate changes one byte of b (or deletes or inserts one).
func mutate(r *rand.Rand, b []byte) []byte {
	b = bytes.Clone(b)
	i := r.IntN(len(b) + 1)
	chars := []byte(`{}[]",:\ -0123456789.eE+tfnulx` + "\x00\xff\n")
	switch r.IntN(3) {
	case 0:
		return append(b[:i], append([]byte{chars[r.IntN(len(chars))]}, b[i:]...)...)
	case 1:
		if i < len(b) {
			return append(b[:i], b[i+1:]...)
		}
	}
	if i < len(b) {
		b[i] = chars[r.IntN(len(chars))]
	}
	return b
}
