package telemetry

import (
	"context"
	"strings"
	"testing"
)

// FromEnv reads only the standard OTEL_* variables: with none set (or the
// exporter none, or the SDK disabled) tracing is off; a bad value is an
// error naming its variable and never quoting a header value.
func TestFromEnv(t *testing.T) {
	cases := []struct {
		name    string
		env     map[string]string
		enabled bool
		desc    string // part of String()
		err     string // part of the error
	}{
		{"nothing set", nil, false, "off", ""},
		{"exporter none", map[string]string{"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, false, "off", ""},
		{"sdk disabled", map[string]string{"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, false, "off", ""},
		{"endpoint alone: otlp http/protobuf", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://u:p@127.0.0.1:4318"}, true,
			"otlp http/protobuf http://127.0.0.1:4318/v1/traces, sampler parentbased_always_on", ""},
		{"traces endpoint as is", map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:9999/custom"}, true,
			"http://127.0.0.1:9999/custom", ""},
		{"grpc", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, true,
			"otlp grpc http://127.0.0.1:4317", ""},
		{"ratio sampler", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318",
			"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"}, true, "sampler parentbased_traceidratio 0.1", ""},
		{"console", map[string]string{"OTEL_TRACES_EXPORTER": "console"}, true, "console", ""},
		{"http/json refused", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}, false, "",
			"OTEL_EXPORTER_OTLP_PROTOCOL"},
		{"unknown exporter", map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}, false, "", "OTEL_TRACES_EXPORTER"},
		{"bad sampler", map[string]string{"OTEL_TRACES_EXPORTER": "console", "OTEL_TRACES_SAMPLER": "sometimes"}, false, "", "OTEL_TRACES_SAMPLER"},
		{"bad ratio", map[string]string{"OTEL_TRACES_EXPORTER": "console", "OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "2"}, false, "",
			"OTEL_TRACES_SAMPLER_ARG"},
		{"bad headers, value not quoted", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_EXPORTER_OTLP_HEADERS": "api-key%zzSECRET"}, false, "",
			"OTEL_EXPORTER_OTLP_HEADERS"},
		{"bad endpoint", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "127.0.0.1:4318"}, false, "", "OTEL_EXPORTER_OTLP_ENDPOINT"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := FromEnv(context.Background(), func(k string) string { return c.env[k] }, nil)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) || strings.Contains(err.Error(), "SECRET") {
					t.Fatalf("error %v, want one naming %s without the value", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer p.Shutdown(context.Background())
			if p.Enabled() != c.enabled || (p.TracerProvider() != nil) != c.enabled {
				t.Errorf("enabled %v, provider %v; want %v", p.Enabled(), p.TracerProvider(), c.enabled)
			}
			if !strings.Contains(p.String(), c.desc) || strings.Contains(p.String(), "u:p") {
				t.Errorf("description %q, want it to contain %q (and no user info)", p.String(), c.desc)
			}
		})
	}
}
