package queue

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"
)

// Each appender must write exactly what json.Marshal writes for the same
// value (the reference), or fail where it fails.

func sameAsMarshal(t *testing.T, what string, v any, got []byte, gotErr error) {
	t.Helper()
	want, wantErr := json.Marshal(v)
	if (gotErr != nil) != (wantErr != nil) {
		t.Fatalf("%s: error %v, encoding/json's %v", what, gotErr, wantErr)
	}
	if wantErr == nil && !bytes.Equal(got, want) {
		t.Fatalf("%s differs from encoding/json\n got %s\nwant %s", what, got, want)
	}
}

func checkAll(t *testing.T, cl Claim, ev Event, tr Track) {
	t.Helper()
	got, err := encodeClaim(&cl)
	sameAsMarshal(t, "claim", &cl, got, err)
	got, err = encodeEvent(&ev)
	sameAsMarshal(t, "event", &ev, got, err)
	got, err = encodeTrack(&tr)
	sameAsMarshal(t, "track", &tr, got, err)
}

// Strings that take every path of appendJSONString.
var encodeStrings = []string{
	"", "plain", "cmd-123_ABC", "with space", `quote"inside`, `back\slash`, "<tag>&amp;",
	"line\nbreak\ttab\r", "\b\f\x01\x1f", "é ü 日本", "\u2028\u2029", "\xff\xfe bad utf-8",
	"\xed\xa0\x80", "trailing\\", "a/b", "\x7f",
}

func TestEncodersMatchEncodingJSON(t *testing.T) {
	zone := time.FixedZone("X", 5*3600+30*60)
	times := []time.Time{
		{}, time.Unix(0, 0), time.Date(2026, 11, 21, 16, 17, 38, 123456789, time.UTC),
		time.Date(2026, 1, 2, 3, 4, 5, 0, zone), time.Date(1999, 12, 31, 23, 59, 59, 100, time.Local),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), // beyond RFC 3339: both must fail
		time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	// The zero values and the fullest values.
	checkAll(t, Claim{}, Event{}, Track{})
	rng := rand.New(rand.NewPCG(7, 11))
	str := func() string { return encodeStrings[rng.IntN(len(encodeStrings))] }
	tm := func() time.Time { return times[rng.IntN(len(times)-2)] } // no failing years
	ptr := func() *time.Time {
		if rng.IntN(3) == 0 {
			return nil
		}
		v := tm()
		return &v
	}
	num := func() int { return []int{0, 1, -1, 7, 1 << 40}[rng.IntN(5)] }
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
	for range 3000 {
		cl := Claim{
			CommandID: str(), Action: str(), CommandSubject: str(), Fingerprint: str(), ProcessID: str(), Resource: str(), OrchestrationID: str(),
			State: State(str()), Owner: str(), LeaseUntil: tm(), StreamSeq: unum(), Attempts: num(),
			Lookups: num(), Polls: num(), ReceivedAt: tm(), AcceptedAt: tm(), SettledAt: tm(), Deadline: tm(),
			Outcome: str(), PlatformStatus: str(), FailedProcessID: str(), FailedStatus: str(), Error: errInfo(),
			Problems: list(), RawCommand: str(), RawCommandBase64: str(), Published: rng.IntN(2) == 0,
			Trace: Trace{Parent: str(), State: str()}, Revision: unum(),
		}
		ev := Event{
			SpecVersion: str(), ID: str(), Source: str(), Type: str(), Subject: str(), Time: tm(),
			DataContentType: str(), Data: EventData{
				CommandID: str(), Action: str(), CommandSubject: str(), ProcessID: str(), OrchestrationID: str(), Outcome: str(),
				PlatformStatus: str(), Error: errInfo(), FailedProcessID: str(), FailedStatus: str(),
				Attempts: num(), Polls: num(), ReceivedAt: ptr(), AcceptedAt: ptr(), SettledAt: ptr(),
				Problems: list(), RawCommand: str(), RawCommandBase64: str(),
			},
		}
		tr := Track{
			CommandID: str(), Action: str(), Fingerprint: str(), ProcessID: str(), OrchestrationID: str(), Resource: str(),
			ReceivedAt: tm(), AcceptedAt: tm(), Deadline: tm(), Attempts: num(), Lookups: num(),
			StreamSeq: unum(), Trace: Trace{Parent: str(), State: str()}, ClaimRevision: unum(),
		}
		checkAll(t, cl, ev, tr)
	}
	// A time encoding/json refuses is refused here too, wherever it stands.
	for _, bad := range times[len(times)-2:] {
		checkAll(t, Claim{Deadline: bad}, Event{Time: bad}, Track{AcceptedAt: bad})
		checkAll(t, Claim{}, Event{Data: EventData{SettledAt: &bad}}, Track{})
	}
}

func FuzzEncoders(f *testing.F) {
	f.Add("cmd-1", "cancel-offering", `<"\>`, int64(3), uint64(9), int64(1_790_000_000_123_456_789), true)
	f.Add("", "", "\xff\u2028", int64(-1), uint64(0), int64(0), false)
	f.Fuzz(func(t *testing.T, a, b, c string, n int64, u uint64, ns int64, flag bool) {
		at := time.Unix(0, ns).In(time.FixedZone("", int(n%50400)))
		var atp *time.Time
		var info *ErrorInfo
		var problems []string
		if flag {
			atp, info, problems = &at, &ErrorInfo{Code: a, Message: c, HTTPStatus: int(n)}, []string{b, c}
		}
		cl := Claim{CommandID: a, Action: b, CommandSubject: c, ProcessID: c, State: State(b), Owner: c, LeaseUntil: at,
			StreamSeq: u, Attempts: int(n), Deadline: at, Outcome: c, Error: info, Problems: problems,
			RawCommand: c, Published: flag, Trace: Trace{Parent: a, State: c}}
		ev := Event{SpecVersion: a, ID: b, Source: c, Type: a, Subject: b, Time: at, DataContentType: c,
			Data: EventData{CommandID: a, Action: b, CommandSubject: a, ProcessID: c, Outcome: b, Error: info, Attempts: int(n),
				Polls: int(n / 3), SettledAt: atp, Problems: problems, RawCommandBase64: a}}
		tr := Track{CommandID: a, Action: b, OrchestrationID: c, ReceivedAt: at, Lookups: int(n),
			StreamSeq: u, ClaimRevision: u / 2, Trace: Trace{State: b}}
		checkAll(t, cl, ev, tr)
	})
}
