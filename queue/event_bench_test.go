package queue

import (
	"encoding/json"
	"testing"
	"time"
)

// benchData is a terminal event's data as the poller publishes it.
func benchData() EventData {
	t := time.Date(2026, 11, 21, 11, 2, 1, 2_000_000, time.UTC)
	acc, set := t.Add(178*time.Millisecond), t.Add(5948*time.Millisecond)
	return EventData{
		CommandID: "ord-7781-cancel", Action: "revert-to-active",
		ProcessID: "2159457f-0167-4e93-a969-9cf0db05e0bf", OrchestrationID: "2159457f-0167-4e93-a969-9cf0db05e0bf",
		Outcome: OutcomeSucceeded, PlatformStatus: "success", Attempts: 1, Polls: 3,
		ReceivedAt: &t, AcceptedAt: &acc, SettledAt: &set,
	}
}

// BenchmarkEventEncode builds an event (NewEvent) and encodes it as the
// CloudEvents JSON body that is published, once per event: "jsonv2" is
// the encoder PublishEvent uses, "encoding-json" encoding/json (the
// reference).
func BenchmarkEventEncode(b *testing.B) {
	d, now := benchData(), time.Now()
	b.Run("jsonv2", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			ev := NewEvent("txworker", "USS3JKS01I00", d, now)
			if _, err := marshal(&ev); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			ev := NewEvent("txworker", "USS3JKS01I00", d, now)
			if _, err := json.Marshal(ev); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkClaimEncode encodes a claim as Claims.Update stores it (three
// to four times per command; "jsonv2", and encoding/json as
// "encoding-json") and decodes it as Claims.Get reads it (and encoding/json
// as "encoding-json-decode").
func BenchmarkClaimEncode(b *testing.B) {
	t := time.Date(2026, 11, 21, 11, 2, 1, 0, time.UTC)
	cl := &Claim{
		CommandID: "ord-7781-cancel", Action: "revert-to-active", ProcessID: "2159457f-0167-4e93-a969-9cf0db05e0bf",
		Resource: "USS3JKS01I00", OrchestrationID: "2159457f-0167-4e93-a969-9cf0db05e0bf", State: StateAccepted,
		Owner: "6c1f2f0e-3f39-4a8e-9a57-4b8f7c1d2e3f", LeaseUntil: t.Add(time.Minute), StreamSeq: 12345,
		Attempts: 1, ReceivedAt: t, AcceptedAt: t.Add(time.Second), Deadline: t.Add(30 * time.Minute),
		Trace: Trace{Parent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
	}
	b.Run("jsonv2", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := marshal(cl); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(cl); err != nil {
				b.Fatal(err)
			}
		}
	})
	data, err := json.Marshal(cl)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("jsonv2-decode", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			var c Claim
			if err := decodeClaim(data, &c); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json-decode", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			var c Claim
			if err := json.Unmarshal(data, &c); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkDecodeTrack decodes a tracking message as the poller does for
// every message it fetches ("jsonv2", DecodeTrack), and with encoding/json.
func BenchmarkDecodeTrack(b *testing.B) {
	tr := typicalTrack()
	data, err := marshal(&tr)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("jsonv2", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			var tr Track
			if err := DecodeTrack(data, &tr); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			var tr Track
			if err := json.Unmarshal(data, &tr); err != nil {
				b.Fatal(err)
			}
		}
	})
}
