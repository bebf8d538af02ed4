// Package telemetry sets up OpenTelemetry tracing for a txworker replica
// from the standard OTEL_* environment variables, and records spans in
// process for `txworker sandbox -traces` and the tests. It is the only
// package that uses the OpenTelemetry SDK; worker, poller, platform and
// queue see only the API's trace.TracerProvider.
//
// With none of the variables set, tracing is off: TracerProvider returns
// nil, no exporter, processor or goroutine exists, and the instrumented
// packages do no tracing work at all.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// DefaultServiceName is service.name when OTEL_SERVICE_NAME (and
// service.name in OTEL_RESOURCE_ATTRIBUTES) is unset.
const DefaultServiceName = "txworker"

// Provider is a replica's tracing: off (the zero value and FromEnv with no
// OTEL_* set), exporting, or recording in process.
type Provider struct {
	sdk  *sdktrace.TracerProvider // nil: off
	desc string
}

// TracerProvider is what the instrumented packages take: nil when tracing
// is off (they then do nothing), else the SDK's provider.
func (p *Provider) TracerProvider() trace.TracerProvider {
	if p == nil || p.sdk == nil {
		return nil
	}
	return p.sdk
}

// Enabled reports whether spans are made.
func (p *Provider) Enabled() bool { return p != nil && p.sdk != nil }

// String describes the set-up for the start-up log: exporter, protocol,
// endpoint (without user info or query) and sampler; never a header.
func (p *Provider) String() string {
	if !p.Enabled() {
		return "off"
	}
	return p.desc
}

// Shutdown exports what is still buffered and stops the exporter, within
// ctx. It is a no-op when tracing is off.
func (p *Provider) Shutdown(ctx context.Context) error {
	if !p.Enabled() {
		return nil
	}
	return p.sdk.Shutdown(ctx)
}

// ForceFlush exports every span ended so far.
func (p *Provider) ForceFlush(ctx context.Context) error {
	if !p.Enabled() {
		return nil
	}
	return p.sdk.ForceFlush(ctx)
}

// FromEnv builds the Provider the OTEL_* variables (read through getenv)
// describe:
//
//   - OTEL_SDK_DISABLED=true: off.
//   - OTEL_TRACES_EXPORTER: a comma-separated list of otlp, console and
//     none. Unset, it is otlp when an OTLP endpoint is set and none
//     otherwise: with nothing set, tracing is off.
//   - OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (the full URL) or
//     OTEL_EXPORTER_OTLP_ENDPOINT (the base URL; "/v1/traces" is added for
//     http/protobuf); default http://localhost:4318/v1/traces.
//   - OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL: http/protobuf (default) or grpc.
//   - OTEL_EXPORTER_OTLP_(TRACES_)HEADERS, _TIMEOUT (ms), _COMPRESSION
//     (gzip); the exporters read the certificate variables themselves.
//   - OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG: always_on,
//     always_off, traceidratio, parentbased_always_on (default),
//     parentbased_always_off, parentbased_traceidratio.
//   - OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES.
//
// The batch span processor takes OTEL_BSP_* from the process environment.
// console writes one JSON document per span to console. An unknown or
// malformed value is an error that names the variable.
func FromEnv(ctx context.Context, getenv func(string) string, console io.Writer) (*Provider, error) {
	if strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true") {
		return &Provider{}, nil
	}
	exporters, err := exporterNames(getenv)
	if err != nil || len(exporters) == 0 {
		return &Provider{}, err
	}
	sampler, sdesc, err := samplerFromEnv(getenv)
	if err != nil {
		return nil, err
	}
	res, err := resourceFromEnv(ctx, getenv)
	if err != nil {
		return nil, err
	}
	opts := []sdktrace.TracerProviderOption{sdktrace.WithSampler(sampler), sdktrace.WithResource(res)}
	var descs []string
	for _, name := range exporters {
		var exp sdktrace.SpanExporter
		var desc string
		switch name {
		case "otlp":
			exp, desc, err = otlpFromEnv(ctx, getenv)
		case "console":
			if console == nil {
				console = io.Discard
			}
			exp, err = stdouttrace.New(stdouttrace.WithWriter(console))
			desc = "console"
		}
		if err != nil {
			return nil, err
		}
		opts = append(opts, sdktrace.WithBatcher(exp))
		descs = append(descs, desc)
	}
	return &Provider{sdk: sdktrace.NewTracerProvider(opts...),
		desc: strings.Join(descs, " + ") + ", sampler " + sdesc}, nil
}

// exporterNames reads OTEL_TRACES_EXPORTER; none alone (or nothing set and
// no endpoint) means no exporter.
func exporterNames(getenv func(string) string) ([]string, error) {
	v := strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER"))
	if v == "" {
		if getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == "" && getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == "" {
			return nil, nil
		}
		return []string{"otlp"}, nil
	}
	var names []string
	for n := range strings.SplitSeq(v, ",") {
		switch n = strings.ToLower(strings.TrimSpace(n)); n {
		case "none":
		case "otlp", "console":
			names = append(names, n)
		default:
			return nil, fmt.Errorf("OTEL_TRACES_EXPORTER: %q is not supported (otlp, console or none)", n)
		}
	}
	return names, nil
}

// signalEnv is the traces-specific variable, else the general one.
func signalEnv(getenv func(string) string, suffix string) (name, value string) {
	if v := strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_TRACES_" + suffix)); v != "" {
		return "OTEL_EXPORTER_OTLP_TRACES_" + suffix, v
	}
	return "OTEL_EXPORTER_OTLP_" + suffix, strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_" + suffix))
}

func otlpFromEnv(ctx context.Context, getenv func(string) string) (sdktrace.SpanExporter, string, error) {
	_, protocol := signalEnv(getenv, "PROTOCOL")
	if protocol == "" {
		protocol = "http/protobuf"
	}
	if protocol != "http/protobuf" && protocol != "grpc" {
		return nil, "", fmt.Errorf("OTEL_EXPORTER_OTLP_PROTOCOL: %q is not supported (http/protobuf or grpc)", protocol)
	}
	endpoint := strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
	endpointVar := "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	if endpoint == "" {
		endpointVar = "OTEL_EXPORTER_OTLP_ENDPOINT"
		endpoint = strings.TrimSpace(getenv(endpointVar))
		if endpoint != "" && protocol == "http/protobuf" {
			endpoint = strings.TrimSuffix(endpoint, "/") + "/v1/traces"
		}
	}
	if endpoint == "" {
		endpoint = "http://localhost:4318/v1/traces"
		if protocol == "grpc" {
			endpoint = "http://localhost:4317"
		}
	}
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, "", fmt.Errorf("%s: want an http:// or https:// URL", endpointVar)
	}
	hname, hval := signalEnv(getenv, "HEADERS")
	headers, err := parseHeaders(hval)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", hname, err) // the value may hold a credential: never quoted
	}
	tname, tval := signalEnv(getenv, "TIMEOUT")
	var timeout time.Duration
	if tval != "" {
		ms, err := strconv.Atoi(tval)
		if err != nil || ms <= 0 {
			return nil, "", fmt.Errorf("%s: %q is not a positive number of milliseconds", tname, tval)
		}
		timeout = time.Duration(ms) * time.Millisecond
	}
	cname, cval := signalEnv(getenv, "COMPRESSION")
	if cval != "" && cval != "gzip" && cval != "none" {
		return nil, "", fmt.Errorf("%s: %q is not supported (gzip or none)", cname, cval)
	}
	desc := "otlp " + protocol + " " + (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
	if protocol == "grpc" {
		opts := []otlptracegrpc.Option{otlptracegrpc.WithEndpointURL(endpoint)}
		if len(headers) > 0 {
			opts = append(opts, otlptracegrpc.WithHeaders(headers))
		}
		if timeout > 0 {
			opts = append(opts, otlptracegrpc.WithTimeout(timeout))
		}
		if cval == "gzip" {
			opts = append(opts, otlptracegrpc.WithCompressor("gzip"))
		}
		exp, err := otlptracegrpc.New(ctx, opts...)
		return exp, desc, err
	}
	opts := []otlptracehttp.Option{otlptracehttp.WithEndpointURL(endpoint)}
	if len(headers) > 0 {
		opts = append(opts, otlptracehttp.WithHeaders(headers))
	}
	if timeout > 0 {
		opts = append(opts, otlptracehttp.WithTimeout(timeout))
	}
	if cval == "gzip" {
		opts = append(opts, otlptracehttp.WithCompression(otlptracehttp.GzipCompression))
	} else {
		opts = append(opts, otlptracehttp.WithCompression(otlptracehttp.NoCompression))
	}
	exp, err := otlptracehttp.New(ctx, opts...)
	return exp, desc, err
}

// parseHeaders reads "key=value,key2=value2" with percent-encoded values
// (the OTLP exporter's format).
func parseHeaders(s string) (map[string]string, error) {
	if s == "" {
		return nil, nil
	}
	h := map[string]string{}
	for kv := range strings.SplitSeq(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, errors.New("want key=value pairs separated by commas")
		}
		val, err := url.PathUnescape(strings.TrimSpace(v))
		if err != nil {
			return nil, errors.New("a value is not percent-encoded")
		}
		h[k] = val
	}
	return h, nil
}

func samplerFromEnv(getenv func(string) string) (sdktrace.Sampler, string, error) {
	name := strings.ToLower(strings.TrimSpace(getenv("OTEL_TRACES_SAMPLER")))
	arg := strings.TrimSpace(getenv("OTEL_TRACES_SAMPLER_ARG"))
	ratio := func() (float64, error) {
		if arg == "" {
			return 1, nil
		}
		r, err := strconv.ParseFloat(arg, 64)
		if err != nil || r < 0 || r > 1 {
			return 0, fmt.Errorf("OTEL_TRACES_SAMPLER_ARG: %q is not a ratio in [0, 1]", arg)
		}
		return r, nil
	}
	switch name {
	case "", "parentbased_always_on":
		return sdktrace.ParentBased(sdktrace.AlwaysSample()), "parentbased_always_on", nil
	case "always_on":
		return sdktrace.AlwaysSample(), name, nil
	case "always_off":
		return sdktrace.NeverSample(), name, nil
	case "parentbased_always_off":
		return sdktrace.ParentBased(sdktrace.NeverSample()), name, nil
	case "traceidratio", "parentbased_traceidratio":
		r, err := ratio()
		if err != nil {
			return nil, "", err
		}
		s := sdktrace.TraceIDRatioBased(r)
		if name == "parentbased_traceidratio" {
			s = sdktrace.ParentBased(s)
		}
		return s, name + " " + strconv.FormatFloat(r, 'g', -1, 64), nil
	}
	return nil, "", fmt.Errorf("OTEL_TRACES_SAMPLER: %q is not supported (always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off, parentbased_traceidratio)", name)
}

// resourceFromEnv is service.name (OTEL_SERVICE_NAME, else the
// OTEL_RESOURCE_ATTRIBUTES one, else DefaultServiceName), the SDK's
// telemetry.sdk.* attributes and OTEL_RESOURCE_ATTRIBUTES.
func resourceFromEnv(ctx context.Context, getenv func(string) string) (*resource.Resource, error) {
	attrs, err := parseHeaders(getenv("OTEL_RESOURCE_ATTRIBUTES"))
	if err != nil {
		return nil, fmt.Errorf("OTEL_RESOURCE_ATTRIBUTES: %w", err)
	}
	name := strings.TrimSpace(getenv("OTEL_SERVICE_NAME"))
	if name == "" {
		name = attrs["service.name"]
	}
	if name == "" {
		name = DefaultServiceName
	}
	kvs := []resource.Option{resource.WithTelemetrySDK(), resource.WithSchemaURL(semconv.SchemaURL)}
	for k, v := range attrs {
		if k != "service.name" {
			kvs = append(kvs, resource.WithAttributes(semconvString(k, v)))
		}
	}
	kvs = append(kvs, resource.WithAttributes(semconv.ServiceName(name)))
	return resource.New(ctx, kvs...)
}
