package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// embeddedNATS is a NATS server with JetStream on loopback, its file store
// in a temporary directory removed on close.
type embeddedNATS struct {
	srv *server.Server
	dir string
}

// startNATS starts the embedded server; port -1 picks a free port.
func startNATS(port int) (*embeddedNATS, error) {
	dir, err := os.MkdirTemp("", "txworker-sandbox-*")
	if err != nil {
		return nil, fmt.Errorf("store directory: %w", err)
	}
	opts := &server.Options{
		ServerName: "txworker-sandbox",
		Host:       "127.0.0.1",
		Port:       port,
		JetStream:  true,
		StoreDir:   dir,
		NoLog:      true,
		NoSigs:     true,
		MaxPayload: 1 << 20,
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("nats server: %w", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		_ = os.RemoveAll(dir)
		return nil, errors.New("nats server did not become ready in 10s")
	}
	return &embeddedNATS{srv: srv, dir: dir}, nil
}

// URL is the client URL of the server.
func (e *embeddedNATS) URL() string { return e.srv.ClientURL() }

// Close stops the server and removes its store.
func (e *embeddedNATS) Close() {
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
	_ = os.RemoveAll(e.dir)
}
