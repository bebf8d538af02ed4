package queue

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The worker stores four to five messages per command (claims, events,
// tracking messages) and waits for each acknowledgement. The jetstream
// package parses every acknowledgement with encoding/json and checks every
// key against a pattern; that was 7 % of the worker's CPU at intake
// (BENCHMARKS.md). publish does what jetstream's PublishMsg does for these
// messages — the request, its retries while the stream has no responder,
// the default timeout — and reads the acknowledgement the server writes
// ({"stream":…,"seq":…} and its duplicate form) directly, falling back to
// encoding/json for anything else, errors included. TestPublishAck holds it
// to the jetstream package's results.

const (
	// publishTimeout bounds a publish whose ctx has no deadline, as the
	// jetstream package's default timeout does.
	publishTimeout = 5 * time.Second
	// publishRetryWait and publishRetries: a publish that meets no
	// responder (the stream's leader moving, JetStream starting) is sent
	// again, as the jetstream package does.
	publishRetryWait = 250 * time.Millisecond
	publishRetries   = 2
)

// pubAck is the part of a stream's acknowledgement the worker uses.
type pubAck struct {
	Stream    string
	Sequence  uint64
	Duplicate bool
}

// publish sends m to its stream and waits for the stream's
// acknowledgement. A stream's refusal is returned as a *jetstream.APIError
// (wrapped), as the jetstream package returns it.
func (b *Bus) publish(ctx context.Context, m *nats.Msg) (pubAck, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, publishTimeout)
		defer cancel()
	}
	resp, err := b.nc.RequestMsgWithContext(ctx, m)
	for r := 0; errors.Is(err, nats.ErrNoResponders) && r < publishRetries; r++ {
		t := time.NewTimer(publishRetryWait)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
		resp, err = b.nc.RequestMsgWithContext(ctx, m)
	}
	if errors.Is(err, nats.ErrNoResponders) {
		return pubAck{}, jetstream.ErrNoStreamResponse
	}
	if err != nil {
		return pubAck{}, err
	}
	return parseAck(resp.Data)
}

// parseAck reads a stream's acknowledgement.
func parseAck(data []byte) (pubAck, error) {
	if a, ok := parsePlainAck(data); ok {
		return a, nil
	}
	return parseAckJSON(data)
}

// parseAckJSON reads an acknowledgement as the jetstream package does, field
// for field.
func parseAckJSON(data []byte) (pubAck, error) {
	var r struct {
		Type  string              `json:"type"`
		Error *jetstream.APIError `json:"error,omitempty"`
		*jetstream.PubAck
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return pubAck{}, jetstream.ErrInvalidJSAck
	}
	if r.Error != nil {
		return pubAck{}, fmt.Errorf("nats: %w", r.Error)
	}
	if r.PubAck == nil || r.Stream == "" {
		return pubAck{}, jetstream.ErrInvalidJSAck
	}
	return pubAck{Stream: r.Stream, Sequence: r.Sequence, Duplicate: r.Duplicate}, nil
}

// parsePlainAck reads the acknowledgement of a stored or duplicate message
// as the server writes it: one flat object of "stream", "domain" (plain
// strings), "seq" (digits) and "duplicate" (true or false), in any order,
// each once, with spaces allowed between tokens. ok is false for anything
// else, which parseAck then leaves to encoding/json.
func parsePlainAck(data []byte) (a pubAck, ok bool) {
	s := ackScanner{b: data}
	if !s.byte('{') {
		return pubAck{}, false
	}
	var seen [4]bool // stream, domain, seq, duplicate
	for first := true; ; first = false {
		if s.byte('}') {
			if first || !seen[0] || !seen[2] || a.Stream == "" || !s.end() {
				return pubAck{}, false
			}
			return a, true
		}
		if !first && !s.byte(',') {
			return pubAck{}, false
		}
		name, ok := s.plainString()
		if !ok || !s.byte(':') {
			return pubAck{}, false
		}
		var i int
		switch string(name) {
		case "stream":
			var v []byte
			v, ok = s.plainString()
			a.Stream = string(v)
		case "domain":
			i = 1
			_, ok = s.plainString()
		case "seq":
			i = 2
			a.Sequence, ok = s.uint()
		case "duplicate":
			i = 3
			a.Duplicate, ok = s.bool()
		default:
			return pubAck{}, false
		}
		if !ok || seen[i] {
			return pubAck{}, false
		}
		seen[i] = true
	}
}

// ackScanner reads the tokens of a plain acknowledgement; every method
// skips the spaces before its token.
type ackScanner struct {
	b []byte
	i int
}

func (s *ackScanner) space() {
	for s.i < len(s.b) && (s.b[s.i] == ' ' || s.b[s.i] == '\t' || s.b[s.i] == '\n' || s.b[s.i] == '\r') {
		s.i++
	}
}

// byte consumes c if it is the next token.
func (s *ackScanner) byte(c byte) bool {
	s.space()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// end reports that only spaces are left.
func (s *ackScanner) end() bool {
	s.space()
	return s.i == len(s.b)
}

// plainString reads a string of printable ASCII without escapes and
// returns its bytes.
func (s *ackScanner) plainString() ([]byte, bool) {
	if !s.byte('"') {
		return nil, false
	}
	start := s.i
	for ; s.i < len(s.b); s.i++ {
		c := s.b[s.i]
		if c == '"' {
			s.i++
			return s.b[start : s.i-1], true
		}
		if c < 0x20 || c == '\\' || c >= 0x80 {
			return nil, false
		}
	}
	return nil, false
}

// uint reads a JSON number that is a uint64 without sign, fraction or
// exponent (and without a leading zero unless it is 0).
func (s *ackScanner) uint() (uint64, bool) {
	s.space()
	start := s.i
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
	}
	digits := s.b[start:s.i]
	if len(digits) == 0 || len(digits) > 1 && digits[0] == '0' {
		return 0, false
	}
	if s.i < len(s.b) && (s.b[s.i] == '.' || s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		return 0, false
	}
	var v uint64
	for _, c := range digits {
		d := uint64(c - '0')
		if v > (math.MaxUint64-d)/10 {
			return 0, false // out of range: encoding/json refuses it too
		}
		v = v*10 + d
	}
	return v, true
}

func (s *ackScanner) bool() (bool, bool) {
	s.space()
	switch {
	case bytes.HasPrefix(s.b[s.i:], []byte("true")):
		s.i += 4
		return true, true
	case bytes.HasPrefix(s.b[s.i:], []byte("false")):
		s.i += 5
		return false, true
	}
	return false, false
}

// wrongLastSequence reports a stream's refusal of a compare-and-set: the
// subject's last sequence was not the one expected (10071; 10164 on
// replicated streams).
func wrongLastSequence(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}
