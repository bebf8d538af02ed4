package queue

import (
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The connection and JetStream handle of a Bus, for this package's external
// tests that set the server up or look behind the Bus's back.

func (b *Bus) Conn() *nats.Conn { return b.nc }

func (b *Bus) JetStream() jetstream.JetStream { return b.js }
