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
// CloudEvents JSON body that is published, once per event: "append" is
// the encoder PublishEvent uses, "marshal" encoding/json (the reference).
func BenchmarkEventEncode(b *testing.B) {
	d, now := benchData(), time.Now()
	b.Run("append", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			ev := NewEvent("txworker", "USS3JKS01I00", d, now)
			if _, err := encodeEvent(&ev); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("marshal", func(b *testing.B) {
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
// to four times per command; "append", and encoding/json as "marshal")
// and decodes it as Claims.Get reads it.
func BenchmarkClaimEncode(b *testing.B) {
	t := time.Date(2026, 11, 21, 11, 2, 1, 0, time.UTC)
	cl := &Claim{
		CommandID: "ord-7781-cancel", Action: "revert-to-active", ProcessID: "2159457f-0167-4e93-a969-9cf0db05e0bf",
		Resource: "USS3JKS01I00", OrchestrationID: "2159457f-0167-4e93-a969-9cf0db05e0bf", State: StateAccepted,
		Owner: "6c1f2f0e-3f39-4a8e-9a57-4b8f7c1d2e3f", LeaseUntil: t.Add(time.Minute), StreamSeq: 12345,
		Attempts: 1, ReceivedAt: t, AcceptedAt: t.Add(time.Second), Deadline: t.Add(30 * time.Minute),
		Trace: Trace{Parent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
	}
	b.Run("append", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := encodeClaim(cl); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("marshal", func(b *testing.B) {
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
	b.Run("unmarshal", func(b *testing.B) {
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
