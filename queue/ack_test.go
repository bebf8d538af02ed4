package queue

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/txworker/txworker/internal/natstest"
)

// ackCases are acknowledgements as the server writes them and odd ones.
var ackCases = []string{
	`{"stream":"EVENTS","seq":1}`,
	`{"stream":"KV_state","seq":18446744073709551615}`,
	`{"stream":"EVENTS","seq":42,"duplicate": true}`,
	`{"stream":"EVENTS","domain":"hub","seq":7}`,
	`{"stream":"EVENTS", "domain":"hub", "seq":7,"duplicate": false}`,
	` { "seq" : 3 , "stream" : "S" } `,
	`{"stream":"EVENTS","seq":0}`,
	`{"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 5"},"stream":"KV_state","seq":0}`,
	`{"error":{"code":400,"err_code":10164,"description":"wrong last sequence: 5"}}`,
	`{"error":{"code":400,"err_code":10060,"description":"expected stream does not match"}}`,
	`{"type":"io.nats.jetstream.api.v1.pub_ack","stream":"EVENTS","seq":9}`,
	`{"stream":"EVENTS","seq":9,"val":"x","batch":"b","count":2}`,
	`{"Stream":"EVENTS","SEQ":9}`,
	`{"stream":"EVENTS","seq":9,"stream":"OTHER"}`,
	`{"stream":"EVENTS","seq":9,"seq":10}`,
	`{"stream":"EV\u0045NTS","seq":9}`,
	`{"stream":"EVENTS","seq":18446744073709551616}`,
	`{"stream":"EVENTS","seq":-1}`,
	`{"stream":"EVENTS","seq":1.5}`,
	`{"stream":"EVENTS","seq":1e3}`,
	`{"stream":"EVENTS","seq":012}`,
	`{"stream":"EVENTS","seq":"9"}`,
	`{"stream":"EVENTS","seq":null}`,
	`{"stream":"","seq":9}`,
	`{"stream":null,"seq":9}`,
	`{"seq":9}`,
	`{"stream":"EVENTS"}`,
	`{"stream":"EVENTS","seq":9,"duplicate":truex}`,
	`{"stream":"EVENTS","seq":9,"duplicate":1}`,
	`{"stream":"EVENTS","seq":9,"domain":5}`,
	`{"stream":"EVENTS","seq":9} x`,
	`{"stream":"EVENTS","seq":9,}`,
	`{"stream":"EVENTS" "seq":9}`,
	`{"stream":"EVENTS","seq":9`,
	`{}`,
	`[]`,
	`null`,
	``,
	`+OK`,
}

// TestPublishAckMatchesJetStream sends each acknowledgement above, and no
// answer at all, to Bus.publish and to the jetstream package's PublishMsg
// through a responder on a real server: both must give the same
// acknowledgement, or errors that match the same sentinel and API error code.
func TestPublishAckMatchesJetStream(t *testing.T) {
	url := natstest.Start(t, natstest.Options{}).URL()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	b := &Bus{nc: nc}
	reply := make(chan []byte, 1)
	sub, err := nc.Subscribe("ack.test", func(m *nats.Msg) {
		if err := m.Respond(<-reply); err != nil {
			t.Errorf("respond: %v", err)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	for _, c := range ackCases {
		reply <- []byte(c)
		want, wantErr := js.PublishMsg(ctx, &nats.Msg{Subject: "ack.test"})
		reply <- []byte(c)
		got, gotErr := b.publish(ctx, &nats.Msg{Subject: "ack.test"})
		compareAcks(t, c, got, gotErr, want, wantErr)
	}
	// No responder: both retry, then give up with ErrNoStreamResponse.
	want, wantErr := js.PublishMsg(ctx, &nats.Msg{Subject: "ack.nobody"})
	got, gotErr := b.publish(ctx, &nats.Msg{Subject: "ack.nobody"})
	compareAcks(t, "no responder", got, gotErr, want, wantErr)
	if !errors.Is(gotErr, jetstream.ErrNoStreamResponse) {
		t.Errorf("no responder: %v, want ErrNoStreamResponse", gotErr)
	}
}

// compareAcks fails unless got and want are the same acknowledgement or
// errors alike.
func compareAcks(t *testing.T, what string, got pubAck, gotErr error, want *jetstream.PubAck, wantErr error) {
	t.Helper()
	if (gotErr == nil) != (wantErr == nil) {
		t.Errorf("%s: publish gave %+v, %v; jetstream gave %+v, %v", what, got, gotErr, want, wantErr)
		return
	}
	if wantErr != nil {
		if describe(gotErr) != describe(wantErr) {
			t.Errorf("%s: publish gave error %q (%s), jetstream %q (%s)", what, gotErr, describe(gotErr), wantErr, describe(wantErr))
		}
		return
	}
	if got != (pubAck{Stream: want.Stream, Sequence: want.Sequence, Duplicate: want.Duplicate}) {
		t.Errorf("%s: publish gave %+v, jetstream %+v", what, got, *want)
	}
}

// describe names what callers test an acknowledgement's error for.
func describe(err error) string {
	var apiErr *jetstream.APIError
	switch {
	case errors.As(err, &apiErr):
		return fmt.Sprintf("api error %d/%d %q", apiErr.Code, apiErr.ErrorCode, apiErr.Description)
	case errors.Is(err, jetstream.ErrInvalidJSAck):
		return "invalid ack"
	case errors.Is(err, jetstream.ErrNoStreamResponse):
		return "no stream response"
	}
	return "other: " + err.Error()
}

// FuzzParseAck holds the direct reading of acknowledgements to encoding/json's
// (the fallback, which reads them as the jetstream package does).
func FuzzParseAck(f *testing.F) {
	for _, c := range ackCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		a, ok := parsePlainAck(data)
		if !ok {
			return
		}
		want, err := parseAckJSON(data)
		if err != nil {
			t.Fatalf("%q: read directly as %+v, encoding/json refuses it: %v", data, a, err)
		}
		if a != want {
			t.Fatalf("%q: read directly as %+v, encoding/json reads %+v", data, a, want)
		}
	})
}

// TestParseAckCases checks a few readings outright.
func TestParseAckCases(t *testing.T) {
	for _, c := range []struct {
		in   string
		want pubAck
		err  string
	}{
		{`{"stream":"EVENTS","seq":42,"duplicate": true}`, pubAck{"EVENTS", 42, true}, ""},
		{`{"stream":"KV_state","domain":"hub","seq":7}`, pubAck{"KV_state", 7, false}, ""},
		{`{"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 5"}}`, pubAck{}, "api error 400/10071 \"wrong last sequence: 5\""},
		{`{"seq":9}`, pubAck{}, "invalid ack"},
		{`not json`, pubAck{}, "invalid ack"},
	} {
		got, err := parseAck([]byte(c.in))
		if c.err == "" && (err != nil || got != c.want) {
			t.Errorf("%s: got %+v, %v; want %+v", c.in, got, err, c.want)
		}
		if c.err != "" && (err == nil || describe(err) != c.err) {
			t.Errorf("%s: got %+v, %v; want error %s", c.in, got, err, c.err)
		}
		if strings.Contains(c.err, "/10071") && !wrongLastSequence(err) {
			t.Errorf("%s: not a wrong last sequence", c.in)
		}
	}
}

// BenchmarkParseAck reads a stored message's acknowledgement directly and
// through encoding/json (as the jetstream package reads it).
func BenchmarkParseAck(b *testing.B) {
	data := []byte(`{"stream":"KV_txworker_state","seq":1234567}`)
	for _, c := range []struct {
		name  string
		parse func([]byte) (pubAck, error)
	}{{"direct", parseAck}, {"encoding-json", parseAckJSON}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.parse(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
