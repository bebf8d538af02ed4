package queue

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/go-json-experiment/json/jsontext"
)

// typicalTrack is a tracking message as the worker writes it: every field
// set, times in UTC.
func typicalTrack() Track {
	at := time.Date(2026, 11, 21, 16, 17, 38, 123456789, time.UTC)
	return Track{
		CommandID: "5f0c6a1e-2d4b-4c8e-9a3f-7b1d2e4c6a80", Action: "cancel-offering",
		ProcessID: "a8e3c1d2-9f4b-4e6a-8c2d-1b3f5e7a9c04", OrchestrationID: "0e7d9b2c-4a6f-4c1e-8b3d-5f2a7c9e1d36",
		Resource: "USS3JKS01I00", ReceivedAt: at, AcceptedAt: at.Add(843 * time.Millisecond),
		Deadline: at.Add(24 * time.Hour), Attempts: 1, Lookups: 1, StreamSeq: 1_204_337,
		Trace: Trace{
			Parent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
			State:  "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7",
		},
		ClaimRevision: 3_612_945,
	}
}

// typicalClaim is a claim with every field set.
func typicalClaim() Claim {
	at := time.Date(2026, 11, 21, 11, 2, 1, 0, time.UTC)
	return Claim{
		CommandID: "ord-7781-cancel", Action: "revert-to-active", CommandSubject: "txworker.cmd.x", Fingerprint: "f1",
		ProcessID: "2159457f-0167-4e93-a969-9cf0db05e0bf", Resource: "USS3JKS01I00", OrchestrationID: "o-1",
		State: StateTerminal, Owner: "w-1", LeaseUntil: at.Add(time.Minute), StreamSeq: 12345, Attempts: 2, Lookups: 1,
		Polls: 3, ReceivedAt: at, AcceptedAt: at.Add(time.Second), SettledAt: at.Add(2 * time.Second),
		Deadline: at.Add(30 * time.Minute), Outcome: OutcomeFailed, PlatformStatus: "failed", FailedProcessID: "p-2",
		FailedStatus: "error", Error: &ErrorInfo{Code: "IS0012", Message: "no", HTTPStatus: 409},
		Problems: []string{"a", "b"}, RawCommand: "{}", RawCommandBase64: "e30", Published: true,
		Trace: Trace{Parent: "tp", State: "ts"}, Revision: 99,
	}
}

// TestWireFormat pins the bytes of the worker's messages: member names and
// order, and which members are left out when zero. Consumers read events
// (SPEC §4); claims and tracking messages are read back by the next
// version of the worker.
func TestWireFormat(t *testing.T) {
	tr, cl := typicalTrack(), typicalClaim()
	at := time.Date(2026, 11, 21, 11, 2, 1, 2_000_000, time.UTC)
	ev := EventFromClaim("txworker", &cl)
	ev.Time = at
	for _, tt := range []struct {
		name string
		v    any
		want string
	}{
		{"zero claim", &Claim{}, `{"commandId":"","action":"","state":""}`},
		{"zero event", &Event{}, `{"specversion":"","id":"","source":"","type":"","time":"0001-01-01T00:00:00Z","datacontenttype":"","data":{"commandId":"","action":"","outcome":"","attempts":0,"polls":0}}`},
		{"zero track", &Track{}, `{"commandId":"","action":""}`},
		{"empty lists", &Claim{Problems: []string{}, Error: &ErrorInfo{}}, `{"commandId":"","action":"","state":"","error":{"code":"","message":""}}`},
		{"claim", &cl, `{"commandId":"ord-7781-cancel","action":"revert-to-active","commandSubject":"txworker.cmd.x","fingerprint":"f1",` +
			`"processId":"2159457f-0167-4e93-a969-9cf0db05e0bf","resource":"USS3JKS01I00","orchestrationId":"o-1","state":"terminal",` +
			`"owner":"w-1","leaseUntil":"2026-11-21T11:03:01Z","streamSeq":12345,"attempts":2,"lookups":1,"polls":3,` +
			`"receivedAt":"2026-11-21T11:02:01Z","acceptedAt":"2026-11-21T11:02:02Z","settledAt":"2026-11-21T11:02:03Z",` +
			`"deadline":"2026-11-21T11:32:01Z","outcome":"failed","platformStatus":"failed","failedProcessId":"p-2",` +
			`"failedStatus":"error","error":{"code":"IS0012","message":"no","httpStatus":409},"problems":["a","b"],` +
			`"rawCommand":"{}","rawCommandBase64":"e30","published":true,"trace":{"traceparent":"tp","tracestate":"ts"}}`},
		{"event", &ev, `{"specversion":"1.0","id":"ord-7781-cancel:failed","source":"txworker","type":"txworker.revert-to-active.failed",` +
			`"subject":"USS3JKS01I00","time":"2026-11-21T11:02:01.002Z","datacontenttype":"application/json",` +
			`"data":{"commandId":"ord-7781-cancel","action":"revert-to-active","commandSubject":"txworker.cmd.x",` +
			`"processId":"2159457f-0167-4e93-a969-9cf0db05e0bf","orchestrationId":"o-1","outcome":"failed",` +
			`"platformStatus":"failed","error":{"code":"IS0012","message":"no","httpStatus":409},"failedProcessId":"p-2",` +
			`"failedStatus":"error","attempts":2,"polls":3,"receivedAt":"2026-11-21T11:02:01Z",` +
			`"acceptedAt":"2026-11-21T11:02:02Z","settledAt":"2026-11-21T11:02:03Z","problems":["a","b"],` +
			`"rawCommand":"{}","rawCommandBase64":"e30"}}`},
		{"track", &tr, `{"commandId":"5f0c6a1e-2d4b-4c8e-9a3f-7b1d2e4c6a80","action":"cancel-offering",` +
			`"processId":"a8e3c1d2-9f4b-4e6a-8c2d-1b3f5e7a9c04","orchestrationId":"0e7d9b2c-4a6f-4c1e-8b3d-5f2a7c9e1d36",` +
			`"resource":"USS3JKS01I00","receivedAt":"2026-11-21T16:17:38.123456789Z","acceptedAt":"2026-11-21T16:17:38.966456789Z",` +
			`"deadline":"2026-11-22T16:17:38.123456789Z","attempts":1,"lookups":1,"streamSeq":1204337,` +
			`"trace":{"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01","tracestate":"congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"},` +
			`"claimRevision":3612945}`},
		{"offset time", &Track{Deadline: time.Date(2026, 1, 2, 3, 4, 5, 600, time.FixedZone("X", 5*3600+30*60))},
			`{"commandId":"","action":"","deadline":"2026-01-02T03:04:05.0000006+05:30"}`},
		{"invalid UTF-8 becomes U+FFFD", &Track{CommandID: "a\xffb"}, `{"commandId":"a` + "\uFFFD" + `b","action":""}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := marshal(tt.v)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
	// A time outside the years 0000–9999 fails, wherever it stands.
	for _, bad := range []time.Time{time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)} {
		for _, v := range []any{&Claim{Deadline: bad}, &Event{Time: bad}, &Event{Data: EventData{SettledAt: &bad}}, &Track{AcceptedAt: bad}} {
			if got, err := marshal(v); err == nil {
				t.Errorf("year %d encoded as %s", bad.Year(), got)
			}
		}
	}
}

// Strings that need escapes, or not.
var encodeStrings = []string{
	"", "plain", "cmd-123_ABC", "with space", `quote"inside`, `back\slash`, "<tag>&amp;",
	"line\nbreak\ttab\r", "\b\f\x01\x1f", "é ü 日本", "\u2028\u2029", "\xff\xfe bad utf-8",
	"\xed\xa0\x80", "trailing\\", "a/b", "\x7f",
}

// tokens lists data's JSON tokens with strings unescaped: two encodings
// with the same tokens are the same message, whatever each escapes.
func tokens(t *testing.T, data []byte) []string {
	t.Helper()
	d := jsontext.NewDecoder(bytes.NewReader(data))
	var out []string
	for {
		tok, err := d.ReadToken()
		if err != nil {
			if err.Error() != "EOF" {
				t.Fatalf("%s: %v", data, err)
			}
			return out
		}
		out = append(out, tok.Kind().String()+tok.String())
	}
}

// sameMessage fails unless marshal writes the message encoding/json wrote
// for v (the worker's encoder before issue 16, held to encoding/json byte
// for byte): the same members in the same order with the same values, and
// the same bytes when no string needs an escape the two write differently
// (HTML characters, U+2028/U+2029, invalid UTF-8). Both must fail alike.
func sameMessage(t *testing.T, what string, v any) {
	t.Helper()
	got, gotErr := marshal(v)
	want, wantErr := json.Marshal(v)
	if (gotErr != nil) != (wantErr != nil) {
		t.Fatalf("%s: error %v, encoding/json's %v", what, gotErr, wantErr)
	}
	if wantErr != nil {
		return
	}
	if g, w := tokens(t, got), tokens(t, want); !reflect.DeepEqual(g, w) {
		t.Fatalf("%s differs from encoding/json\n got %s\nwant %s", what, got, want)
	}
	if !bytes.ContainsAny(want, `\`) && !bytes.Equal(got, want) {
		t.Fatalf("%s: bytes differ from encoding/json\n got %s\nwant %s", what, got, want)
	}
}

// randomMessages draws n claims, events and tracking messages.
func randomMessages(rng *rand.Rand, n int) (cls []Claim, evs []Event, trs []Track) {
	zone := time.FixedZone("X", 5*3600+30*60)
	times := []time.Time{
		{}, time.Unix(0, 0), time.Date(2026, 11, 21, 16, 17, 38, 123456789, time.UTC),
		time.Date(2026, 11, 21, 16, 17, 38, 120000000, time.UTC),
		time.Date(2026, 1, 2, 3, 4, 5, 0, zone), time.Date(1999, 12, 31, 23, 59, 59, 100, time.Local),
		time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
	}
	str := func() string { return encodeStrings[rng.IntN(len(encodeStrings))] }
	tm := func() time.Time { return times[rng.IntN(len(times))] }
	ptr := func() *time.Time {
		if rng.IntN(3) == 0 {
			return nil
		}
		v := tm()
		return &v
	}
	num := func() int { return []int{0, 1, -1, 7, 1 << 40, -1 << 63, 1<<63 - 1}[rng.IntN(7)] }
	unum := func() uint64 { return []uint64{0, 1, 42, 1<<64 - 1}[rng.IntN(4)] }
	errInfo := func() *ErrorInfo {
		if rng.IntN(2) == 0 {
			return nil
		}
		return &ErrorInfo{Code: str(), Message: str(), HTTPStatus: num()}
	}
	list := func() []string {
		switch rng.IntN(3) {
		case 0:
			return nil
		case 1:
			return []string{}
		}
		return []string{str(), str(), str()}
	}
	for range n {
		cls = append(cls, Claim{
			CommandID: str(), Action: str(), CommandSubject: str(), Fingerprint: str(), ProcessID: str(), Resource: str(), OrchestrationID: str(),
			State: State(str()), Owner: str(), LeaseUntil: tm(), StreamSeq: unum(), Attempts: num(),
			Lookups: num(), Polls: num(), ReceivedAt: tm(), AcceptedAt: tm(), SettledAt: tm(), Deadline: tm(),
			Outcome: str(), PlatformStatus: str(), FailedProcessID: str(), FailedStatus: str(), Error: errInfo(),
			Problems: list(), RawCommand: str(), RawCommandBase64: str(), Published: rng.IntN(2) == 0,
			Trace: Trace{Parent: str(), State: str()}, Revision: unum(),
		})
		evs = append(evs, Event{
			SpecVersion: str(), ID: str(), Source: str(), Type: str(), Subject: str(), Time: tm(),
			DataContentType: str(), Data: EventData{
				CommandID: str(), Action: str(), CommandSubject: str(), ProcessID: str(), OrchestrationID: str(), Outcome: str(),
				PlatformStatus: str(), Error: errInfo(), FailedProcessID: str(), FailedStatus: str(),
				Attempts: num(), Polls: num(), ReceivedAt: ptr(), AcceptedAt: ptr(), SettledAt: ptr(),
				Problems: list(), RawCommand: str(), RawCommandBase64: str(),
			},
		})
		trs = append(trs, Track{
			CommandID: str(), Action: str(), Fingerprint: str(), ProcessID: str(), OrchestrationID: str(), Resource: str(),
			ReceivedAt: tm(), AcceptedAt: tm(), Deadline: tm(), Attempts: num(), Lookups: num(),
			StreamSeq: unum(), Trace: Trace{Parent: str(), State: str()}, ClaimRevision: unum(),
		})
	}
	return cls, evs, trs
}

func TestWireMatchesEncodingJSON(t *testing.T) {
	sameMessage(t, "zero claim", &Claim{})
	sameMessage(t, "zero event", &Event{})
	sameMessage(t, "zero track", &Track{})
	cls, evs, trs := randomMessages(rand.New(rand.NewPCG(7, 11)), 2000)
	for i := range cls {
		sameMessage(t, "claim", &cls[i])
		sameMessage(t, "event", &evs[i])
		sameMessage(t, "track", &trs[i])
	}
}

// remarshal encodes a decoded message again: a round trip must give the
// bytes it started from.
func remarshal(t *testing.T, v any) string {
	t.Helper()
	b, err := marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestDecodeRoundTrip: what the worker writes — and what encoding/json wrote
// for the worker before (tracking messages and claims stored by the previous
// version) — decodes to the same message. Invalid UTF-8 has become U+FFFD
// on the way.
func TestDecodeRoundTrip(t *testing.T) {
	cls, _, trs := randomMessages(rand.New(rand.NewPCG(3, 5)), 2000)
	for i := range trs {
		for _, enc := range []func(any) ([]byte, error){marshal, json.Marshal} {
			data, err := enc(&trs[i])
			if err != nil {
				t.Fatal(err)
			}
			want := remarshal(t, &trs[i])
			stale := Track{CommandID: "stale", Attempts: 9, Trace: Trace{State: "stale"}}
			if err := DecodeTrack(data, &stale); err != nil {
				t.Fatalf("DecodeTrack(%s): %v", data, err)
			}
			if got := remarshal(t, &stale); got != want {
				t.Fatalf("DecodeTrack(%s) gives %s, want %s", data, got, want)
			}

			want = remarshal(t, &cls[i])
			if data, err = enc(&cls[i]); err != nil {
				t.Fatal(err)
			}
			got := Claim{Owner: "stale", Polls: 5}
			if err := decodeClaim(data, &got); err != nil {
				t.Fatalf("decodeClaim(%s): %v", data, err)
			}
			if g := remarshal(t, &got); g != want {
				t.Fatalf("decodeClaim(%s) gives %s, want %s", data, g, want)
			}
			if got.Revision != 0 {
				t.Fatalf("decodeClaim set Revision %d from the body", got.Revision)
			}
		}
	}
	// A typical message, field for field (UTC times compare with DeepEqual).
	tr := typicalTrack()
	var got Track
	if err := DecodeTrack([]byte(remarshal(t, &tr)), &got); err != nil || !reflect.DeepEqual(got, tr) {
		t.Errorf("DecodeTrack: %+v, %v; want %+v", got, err, tr)
	}
}

// TestDecodeTrack holds DecodeTrack to its documented rules on hand-made
// messages: what it accepts, what it refuses, what it ignores.
func TestDecodeTrack(t *testing.T) {
	typical := remarshal(t, new(typicalTrack()))
	// with replaces the first old in the typical message.
	with := func(old, new string) string {
		if !strings.Contains(typical, old) {
			t.Fatalf("%q is not in the typical message %s", old, typical)
		}
		return strings.Replace(typical, old, new, 1)
	}
	const stamp = `2026-11-21T16:17:38.123456789Z`
	tests := []struct {
		name  string
		in    string
		ok    bool
		check func(Track) bool // when ok
	}{
		{"typical", typical, true, func(tr Track) bool { return reflect.DeepEqual(tr, typicalTrack()) }},
		{"empty object", `{}`, true, func(tr Track) bool { return tr == Track{} }},
		{"keys in another order", `{"trace":{"tracestate":"s","traceparent":"p"},"streamSeq":5,"commandId":"c","action":"a"}`, true,
			func(tr Track) bool {
				return tr == Track{CommandID: "c", Action: "a", StreamSeq: 5, Trace: Trace{"p", "s"}}
			}},
		{"whitespace", " {\n\t\"commandId\" : \"c\" } ", true, func(tr Track) bool { return tr.CommandID == "c" }},
		{"escapes", `{"commandId":"\u003cb\u003e \"q\" \ud83d\ude00"}`, true, func(tr Track) bool { return tr.CommandID == `<b> "q" 😀` }},
		{"null members", `{"commandId":null,"attempts":null,"trace":null,"receivedAt":null}`, true, func(tr Track) bool { return tr == Track{} }},
		{"unknown member ignored", with(`"action"`, `"verb"`), true, func(tr Track) bool { return tr.Action == "" && tr.CommandID != "" }},
		{"key in another case ignored", with(`"commandId"`, `"CommandID"`), true, func(tr Track) bool { return tr.CommandID == "" }},
		{"largest numbers", `{"attempts":9223372036854775807,"streamSeq":18446744073709551615}`, true,
			func(tr Track) bool { return tr.Attempts == 1<<63-1 && tr.StreamSeq == 1<<64-1 }},
		{"negative int", `{"attempts":-1}`, true, func(tr Track) bool { return tr.Attempts == -1 }},
		{"offset time", with(`"deadline":"2026-11-22T16:17:38.123456789Z"`, `"deadline":"2026-11-22T21:47:38+05:30"`), true,
			func(tr Track) bool { return tr.Deadline.Equal(time.Date(2026, 11, 22, 16, 17, 38, 0, time.UTC)) }},

		{"empty input", ``, false, nil},
		{"null", `null`, true, func(tr Track) bool { return tr == Track{} }},
		{"array", `[]`, false, nil},
		{"string", `"x"`, false, nil},
		{"truncated", typical[:len(typical)-1], false, nil},
		{"trailing garbage", typical + `x`, false, nil},
		{"two objects", typical + `{}`, false, nil},
		{"trailing comma", `{"commandId":"c",}`, false, nil},
		{"duplicate key", typical[:len(typical)-1] + `,"commandId":"again"}`, false, nil},
		{"duplicate trace key", `{"trace":{"tracestate":"a","tracestate":"b"}}`, false, nil},
		{"invalid UTF-8", with(`USS3JKS01I00`, "\xff\xfe"), false, nil},
		{"lone surrogate", with(`USS3JKS01I00`, `\ud800`), false, nil},
		{"raw control character", with(`USS3JKS01I00`, "USS\t"), false, nil},
		{"number for string", with(`"cancel-offering"`, `42`), false, nil},
		{"string for number", with(`"attempts":1`, `"attempts":"1"`), false, nil},
		{"string for trace", `{"trace":"x"}`, false, nil},
		{"time without zone", with(stamp, `2026-11-21T16:17:38`), false, nil},
		{"time February 30", with(stamp, `2026-02-30T00:00:00Z`), false, nil},
		{"time five-digit year", with(stamp, `10000-01-01T00:00:00Z`), false, nil},
		{"empty time", with(`"`+stamp+`"`, `""`), false, nil},
		{"time as number", with(`"`+stamp+`"`, `1790000000`), false, nil},
		{"int overflow", with(`"attempts":1`, `"attempts":9223372036854775808`), false, nil},
		{"uint overflow", with(`"streamSeq":1204337`, `"streamSeq":18446744073709551616`), false, nil},
		{"negative uint", with(`"streamSeq":1204337`, `"streamSeq":-1`), false, nil},
		{"fraction", with(`"attempts":1`, `"attempts":1.5`), false, nil},
		{"leading zero", with(`"attempts":1`, `"attempts":01`), false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Track{CommandID: "stale", Attempts: 9, Deadline: time.Unix(1, 0), Trace: Trace{State: "stale"}}
			err := DecodeTrack([]byte(tt.in), &got)
			if (err == nil) != tt.ok {
				t.Fatalf("DecodeTrack(%q): error %v, want ok %v", tt.in, err, tt.ok)
			}
			if tt.ok && !tt.check(got) {
				t.Errorf("DecodeTrack(%q) = %+v", tt.in, got)
			}
		})
	}
}

// FuzzDecodeTrack: DecodeTrack never panics, and what it accepts encodes
// and decodes again to the same message.
func FuzzDecodeTrack(f *testing.F) {
	_, _, trs := randomMessages(rand.New(rand.NewPCG(1, 2)), 20)
	for _, tr := range append(trs, typicalTrack(), Track{}) {
		data, err := marshal(&tr)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"commandId":"c","COMMANDID":"d","attempts":1e3,"trace":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var tr Track
		if DecodeTrack(data, &tr) != nil {
			return
		}
		once := remarshal(t, &tr)
		var again Track
		if err := DecodeTrack([]byte(once), &again); err != nil {
			t.Fatalf("%q decoded to %s, which does not decode: %v", data, once, err)
		}
		if twice := remarshal(t, &again); twice != once {
			t.Fatalf("%q: %s, then %s", data, once, twice)
		}
	})
}
