package main

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/prototext"

	"github.com/txworker/txworker/internal/telemetry"
)

// spanSink is an OTLP/HTTP trace receiver on loopback that keeps every
// export request it decodes.
type spanSink struct{ *telemetry.Receiver }

func startSpanSink(t *testing.T) *spanSink {
	t.Helper()
	r, err := telemetry.StartReceiver(true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return &spanSink{r}
}

// text is every export as protobuf text: span names, attributes, events,
// links, status messages and the resource.
func (s *spanSink) text() (string, int) {
	var b strings.Builder
	for _, r := range s.Exports() {
		b.WriteString(prototext.Format(r))
	}
	spans, _, _ := s.Stats()
	return b.String(), int(spans)
}
