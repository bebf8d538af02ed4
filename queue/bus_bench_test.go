package queue_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/txworker/txworker/internal/natstest"
	"github.com/txworker/txworker/queue"
)

// benchBus returns a provisioned Bus on an embedded server.
func benchBus(b *testing.B) *queue.Bus {
	b.Helper()
	url := natstest.Start(b, natstest.Options{}).URL()
	ctx, cancel := context.WithTimeout(b.Context(), testTimeout)
	defer cancel()
	bus, err := queue.Connect(ctx, queue.Config{URL: url, Provision: true, Name: b.Name()}, zap.NewNop())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = bus.Drain() })
	if err := bus.Provision(ctx); err != nil {
		b.Fatal(err)
	}
	return bus
}

// BenchmarkBusWrites measures the writes the worker and the poller make for
// every command, each waiting for the server's acknowledgement: a claim's
// Create and two Updates, an event and a tracking message.
func BenchmarkBusWrites(b *testing.B) {
	bus := benchBus(b)
	at := time.Date(2026, 11, 21, 11, 2, 1, 0, time.UTC)
	i := 0 // ids stay unique across the runs of each sub-benchmark
	b.Run("claim-create-update", func(b *testing.B) {
		b.ReportAllocs()
		claims := bus.Claims()
		for b.Loop() {
			i++
			cl := &queue.Claim{CommandID: "bench-claim-" + strconv.Itoa(i), Action: "cancel-txn", State: queue.StateReceived,
				Owner: "6c1f2f0e-3f39-4a8e-9a57-4b8f7c1d2e3f", LeaseUntil: at.Add(time.Minute), ReceivedAt: at}
			if _, _, err := claims.Create(b.Context(), cl); err != nil {
				b.Fatal(err)
			}
			cl.State, cl.Attempts = queue.StateCalling, 1
			if err := claims.Update(b.Context(), cl); err != nil {
				b.Fatal(err)
			}
			cl.State, cl.AcceptedAt = queue.StateAccepted, at.Add(time.Second)
			if err := claims.Update(b.Context(), cl); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("event", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			i++
			d := queue.EventData{CommandID: "bench-event-" + strconv.Itoa(i), Action: "cancel-txn", Outcome: queue.OutcomeSucceeded,
				Attempts: 1, Polls: 2, ReceivedAt: &at, AcceptedAt: &at, SettledAt: &at}
			if _, err := bus.PublishEvent(b.Context(), queue.NewEvent("txworker", "USS3JKS01I00", d, at), queue.Trace{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("track", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			i++
			tr := queue.Track{CommandID: "bench-track-" + strconv.Itoa(i), Action: "cancel-txn", ReceivedAt: at, AcceptedAt: at,
				Deadline: at.Add(time.Hour), Attempts: 1, StreamSeq: uint64(i), ClaimRevision: uint64(i)}
			if err := bus.PublishTrack(b.Context(), tr); err != nil {
				b.Fatal(err)
			}
		}
	})
}
