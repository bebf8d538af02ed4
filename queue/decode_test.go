package queue

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
)

// DecodeTrack must give what json.Unmarshal gives into a zero Track (the
// reference): the same Track, the same error or none.

// sameAsUnmarshal checks DecodeTrack against json.Unmarshal on data and
// reports whether the fast path read it.
func sameAsUnmarshal(t *testing.T, data []byte) (fast bool) {
	t.Helper()
	var want Track
	wantErr := json.Unmarshal(data, &want)
	// Whatever the Track held before must not show through.
	got := Track{CommandID: "stale", Attempts: 9, Deadline: time.Unix(1, 0), Trace: Trace{State: "stale"}}
	gotErr := DecodeTrack(data, &got)
	if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
		t.Fatalf("DecodeTrack(%q): error %v, encoding/json's %v", data, gotErr, wantErr)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("DecodeTrack(%q) differs from encoding/json\n got %#v\nwant %#v", data, got, want)
	}
	var scratch Track
	return decodeTrackFast(data, &scratch)
}

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

func encodedTrack(t testing.TB, tr Track) []byte {
	t.Helper()
	data, err := encodeTrack(&tr)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestDecodeTrackMatchesEncodingJSON(t *testing.T) {
	typical := string(encodedTrack(t, typicalTrack()))
	// with replaces the first old in the typical message.
	with := func(old, new string) string {
		if !strings.Contains(typical, old) {
			t.Fatalf("%q is not in the typical message %s", old, typical)
		}
		return strings.Replace(typical, old, new, 1)
	}
	tests := []struct {
		name string
		in   string
		fast bool // the fast path reads it
	}{
		{"typical", typical, true},
		{"empty object", `{}`, true},
		{"keys in another order", `{"trace":{"tracestate":"s","traceparent":"p"},"streamSeq":5,"commandId":"c","action":"a"}`, true},
		{"empty trace", `{"commandId":"c","trace":{}}`, true},
		{"empty strings", `{"commandId":"","action":"","processId":""}`, true},
		{"non-ASCII", `{"commandId":"é ü 日本 ` + "\u2028\x7f" + `"}`, true},
		{"zero numbers", `{"attempts":0,"lookups":0,"streamSeq":0,"claimRevision":0}`, true},
		{"negative int", `{"attempts":-1,"lookups":-9223372036854775808}`, true},
		{"minus zero", `{"attempts":-0}`, true},
		{"largest numbers", `{"attempts":9223372036854775807,"streamSeq":18446744073709551615}`, true},
		{"offset time", with(`"deadline":"2026-11-22T16:17:38.123456789Z"`, `"deadline":"2026-11-22T21:47:38+05:30"`), true},
		{"zero offset time", with(`"deadline":"2026-11-22T16:17:38.123456789Z"`, `"deadline":"2026-11-22T16:17:38-00:00"`), true},
		{"year 0", `{"receivedAt":"0000-01-01T00:00:00Z"}`, true},
		// Lenient forms time.Time.UnmarshalJSON (so encoding/json) accepts.
		{"time ten-digit fraction", with(`2026-11-21T16:17:38.123456789Z`, `2026-11-21T16:17:38.1234567891Z`), true},
		{"time comma fraction", with(`2026-11-21T16:17:38.123456789Z`, `2026-11-21T16:17:38,5Z`), true},
		{"time offset 24h", with(`2026-11-21T16:17:38.123456789Z`, `2026-11-21T16:17:38+24:00`), true},

		{"empty input", ``, false},
		{"null", `null`, false},
		{"array", `[]`, false},
		{"string", `"x"`, false},
		{"truncated", typical[:len(typical)-1], false},
		{"trailing garbage", typical + `x`, false},
		{"two objects", typical + `{}`, false},
		{"trailing space", typical + " ", false},
		{"leading space", " " + typical, false},
		{"space after colon", `{"commandId": "c"}`, false},
		{"space in empty object", `{ }`, false},
		{"trailing comma", `{"commandId":"c",}`, false},
		{"missing colon", `{"commandId""c"}`, false},
		{"unknown key", with(`"action"`, `"verb"`), false},
		{"key in another case", with(`"commandId"`, `"CommandID"`), false},
		{"key in upper case", with(`"action"`, `"ACTION"`), false},
		{"trace key in another case", with(`"traceparent"`, `"TraceParent"`), false},
		{"key with escape", with(`"commandId"`, `"command\u0049d"`), false},
		{"duplicate key", typical[:len(typical)-1] + `,"commandId":"again"}`, false},
		{"duplicate key differing in case", typical[:len(typical)-1] + `,"COMMANDID":"again"}`, false},
		{"duplicate trace", typical[:len(typical)-1] + `,"trace":{"traceparent":"p2"}}`, false},
		{"duplicate trace key", `{"trace":{"tracestate":"a","tracestate":"b"}}`, false},
		{"null string", with(`"5f0c6a1e-2d4b-4c8e-9a3f-7b1d2e4c6a80"`, `null`), false},
		{"null time", with(`"2026-11-21T16:17:38.123456789Z"`, `null`), false},
		{"null number", with(`"attempts":1`, `"attempts":null`), false},
		{"null trace", `{"commandId":"c","trace":null}`, false},
		{"null trace member", `{"trace":{"traceparent":null}}`, false},
		{"number for string", with(`"cancel-offering"`, `42`), false},
		{"string for number", with(`"attempts":1`, `"attempts":"1"`), false},
		{"bool for string", with(`"cancel-offering"`, `true`), false},
		{"object for string", with(`"cancel-offering"`, `{}`), false},
		{"string for trace", `{"trace":"x"}`, false},
		{"unknown trace key", `{"trace":{"traceparent":"p","baggage":"b"}}`, false},
		{"escaped quote", with(`cancel-offering`, `cancel\"offering`), false},
		{"escaped unicode", with(`cancel-offering`, `cancel\u002doffering`), false},
		{"escaped HTML", with(`USS3JKS01I00`, `\u003cb\u003e\u0026`), false},
		{"escaped surrogate pair", with(`USS3JKS01I00`, `\ud83d\ude00`), false},
		{"lone surrogate", with(`USS3JKS01I00`, `\ud800`), false},
		{"bad escape", with(`USS3JKS01I00`, `\x`), false},
		{"raw control character", with(`USS3JKS01I00`, "USS\t"), false},
		{"raw newline", with(`USS3JKS01I00`, "USS\n"), false},
		{"invalid UTF-8", with(`USS3JKS01I00`, "\xff\xfe"), false},
		{"UTF-8 surrogate", with(`USS3JKS01I00`, "\xed\xa0\x80"), false},
		{"invalid UTF-8 in key", `{"comm` + "\xff" + `":"c"}`, false},
		{"escape in time", with(`2026-11-21T16:17:38.123456789Z`, `2026-11-21T16\u003a17:38Z`), false},
		{"time without zone", with(`2026-11-21T16:17:38.123456789Z`, `2026-11-21T16:17:38`), false},
		{"time lower-case t and z", with(`2026-11-21T16:17:38.123456789Z`, `2026-11-21t16:17:38z`), false},
		{"time with space", with(`2026-11-21T16:17:38.123456789Z`, `2026-11-21 16:17:38Z`), false},
		{"time hour 24", with(`2026-11-21T16:17:38.123456789Z`, `2026-11-21T24:00:00Z`), false},
		{"time leap second", with(`2026-11-21T16:17:38.123456789Z`, `2016-12-31T23:59:60Z`), false},
		{"time February 30", with(`2026-11-21T16:17:38.123456789Z`, `2026-02-30T00:00:00Z`), false},
		{"time short offset", with(`2026-11-21T16:17:38.123456789Z`, `2026-11-21T16:17:38+0530`), false},
		{"time empty fraction", with(`2026-11-21T16:17:38.123456789Z`, `2026-11-21T16:17:38.Z`), false},
		{"time five-digit year", with(`2026-11-21T16:17:38.123456789Z`, `10000-01-01T00:00:00Z`), false},
		{"empty time", with(`"2026-11-21T16:17:38.123456789Z"`, `""`), false},
		{"time as number", with(`"2026-11-21T16:17:38.123456789Z"`, `1790000000`), false},
		{"int overflow", with(`"attempts":1`, `"attempts":9223372036854775808`), false},
		{"int underflow", with(`"attempts":1`, `"attempts":-9223372036854775809`), false},
		{"uint overflow", with(`"streamSeq":1204337`, `"streamSeq":18446744073709551616`), false},
		{"negative uint", with(`"streamSeq":1204337`, `"streamSeq":-1`), false},
		{"minus zero uint", with(`"streamSeq":1204337`, `"streamSeq":-0`), false},
		{"fraction", with(`"attempts":1`, `"attempts":1.0`), false},
		{"fraction of uint", with(`"streamSeq":1204337`, `"streamSeq":1204337.5`), false},
		{"exponent", with(`"attempts":1`, `"attempts":1e3`), false},
		{"upper-case exponent", with(`"lookups":1`, `"lookups":1E0`), false},
		{"leading zero", with(`"attempts":1`, `"attempts":01`), false},
		{"plus sign", with(`"attempts":1`, `"attempts":+1`), false},
		{"lone minus", with(`"attempts":1`, `"attempts":-`), false},
		{"hex", with(`"attempts":1`, `"attempts":0x1`), false},
		{"underscore", with(`"streamSeq":1204337`, `"streamSeq":1_204_337`), false},
		{"huge exponent", `{"attempts":1e400}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if fast := sameAsUnmarshal(t, []byte(tt.in)); fast != tt.fast {
				t.Errorf("fast path took it: %v, want %v", fast, tt.fast)
			}
		})
	}

	t.Run("random", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(3, 5))
		for i := range 3000 {
			tr := randomTrack(rng)
			data, err := encodeTrack(&tr)
			if err != nil {
				t.Fatal(err)
			}
			marshalled, err := json.Marshal(&tr)
			if err != nil {
				t.Fatal(err)
			}
			fast := sameAsUnmarshal(t, data)
			sameAsUnmarshal(t, marshalled)
			// Our encoder's output takes the fast path unless a string
			// needed an escape.
			if !fast && !bytes.ContainsRune(data, '\\') {
				t.Fatalf("the fast path refused encodeTrack's %s", data)
			}
			// Every prefix, and the message with one byte changed.
			if i%50 == 0 {
				for n := range len(data) {
					sameAsUnmarshal(t, data[:n])
				}
			}
			mutated := bytes.Clone(data)
			mutated[rng.IntN(len(mutated))] = `{}[]":,-.0123456789eE\ ntrufalsZT`[rng.IntN(33)]
			sameAsUnmarshal(t, mutated)
		}
	})
}

// randomTrack draws a Track from the values TestEncodersMatchEncodingJSON
// uses, and from values like the worker's.
func randomTrack(rng *rand.Rand) Track {
	strs := append([]string{
		"5f0c6a1e-2d4b-4c8e-9a3f-7b1d2e4c6a80", "cancel-offering", "USS3JKS01I00",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "congo=t61rcWkgMzE",
	}, encodeStrings...)
	str := func() string { return strs[rng.IntN(len(strs))] }
	times := []time.Time{
		{}, time.Unix(0, 0), time.Date(2026, 11, 21, 16, 17, 38, 123456789, time.UTC),
		time.Date(2026, 11, 21, 16, 17, 38, 120000000, time.UTC),
		time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("X", 5*3600+30*60)),
		time.Date(2026, 1, 2, 3, 4, 5, 6, time.FixedZone("W", -8*3600)),
		time.Date(1999, 12, 31, 23, 59, 59, 100, time.Local),
		time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
	}
	tm := func() time.Time { return times[rng.IntN(len(times))] }
	num := func() int { return []int{0, 1, -1, 7, 1 << 40, -1 << 63, 1<<63 - 1}[rng.IntN(7)] }
	unum := func() uint64 { return []uint64{0, 1, 42, 1_204_337, 1<<64 - 1}[rng.IntN(5)] }
	return Track{
		CommandID: str(), Action: str(), ProcessID: str(), OrchestrationID: str(), Resource: str(),
		ReceivedAt: tm(), AcceptedAt: tm(), Deadline: tm(), Attempts: num(), Lookups: num(),
		StreamSeq: unum(), Trace: Trace{Parent: str(), State: str()}, ClaimRevision: unum(),
	}
}

func FuzzDecodeTrack(f *testing.F) {
	f.Add(encodedTrack(f, typicalTrack()))
	f.Add(encodedTrack(f, Track{}))
	f.Add(encodedTrack(f, Track{CommandID: `<"\>`, Action: "é\u2028", Attempts: -1, StreamSeq: 1<<64 - 1,
		AcceptedAt: time.Date(2026, 1, 2, 3, 4, 5, 6, time.FixedZone("", -3600)), Trace: Trace{State: "s"}}))
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		f.Add(encodedTrack(f, randomTrack(rng)))
	}
	f.Add([]byte(`{"commandId":"c","COMMANDID":"d","attempts":1e3,"trace":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		sameAsUnmarshal(t, data)
	})
}

func BenchmarkDecodeTrack(b *testing.B) {
	data := encodedTrack(b, typicalTrack())
	b.Run("fast", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			var tr Track
			if err := DecodeTrack(data, &tr); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			var tr Track
			if err := json.Unmarshal(data, &tr); err != nil {
				b.Fatal(err)
			}
		}
	})
}
