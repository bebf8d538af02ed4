package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestRunNamesEveryConfigurationProblemAtOnce(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"run"}, envOf(map[string]string{
		"TXWORKER_PLATFORM_URL":  "http://platform.example",
		"TXWORKER_CONCURRENCY":   "zero",
		"TXWORKER_POLL_INTERVAL": "-1s",
		"TXWORKER_LOG_LEVEL":     "chatty",
		"TXWORKER_JM_URL":        "https://jm.example",
	}), &out)
	var ue *usageError
	if !errors.As(err, &ue) || exitCode(err) != 2 {
		t.Fatalf("err %v (exit %d), want a usage error with exit 2", err, exitCode(err))
	}
	for _, want := range []string{
		"TXWORKER_ALLOW_INSECURE_HTTP", // plaintext platform URL refused
		"TXWORKER_CLIENT_ID is required",
		"TXWORKER_CLIENT_SECRET",
		"TXWORKER_CONCURRENCY",
		"TXWORKER_POLL_INTERVAL",
		"TXWORKER_LOG_LEVEL",
		"TXWORKER_JM_URL needs",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %s:\n%v", want, err)
		}
	}
}

func TestFlagsWinOverEnvironment(t *testing.T) {
	fs := newFlagSet("t", &bytes.Buffer{})
	v := register(fs, envOf(map[string]string{"TXWORKER_CONCURRENCY": "4", "TXWORKER_SUBJECT_PREFIX": "env"}))
	if err := fs.Parse([]string{"-concurrency", "9"}); err != nil {
		t.Fatal(err)
	}
	if v["concurrency"] != "9" || v["subject-prefix"] != "env" || v["nats-url"] != "nats://127.0.0.1:4222" {
		t.Errorf("concurrency %q prefix %q url %q", v["concurrency"], v["subject-prefix"], v["nats-url"])
	}
}

func TestSecretsComeFromEnvironmentOrFileOnly(t *testing.T) {
	fs := newFlagSet("t", &bytes.Buffer{})
	register(fs, envOf(nil))
	if fs.Lookup("client-secret") != nil || fs.Lookup("jm-password") != nil || fs.Lookup("nats-token") != nil {
		t.Error("a secret has a flag of its own; flags show in process listings")
	}
	if fs.Lookup("client-secret-file") == nil {
		t.Error("no -client-secret-file flag")
	}
	file := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(file, []byte("s3cr3t-from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	v := register(newFlagSet("t", &bytes.Buffer{}), envOf(map[string]string{
		"TXWORKER_PLATFORM_URL": "https://platform.example", "TXWORKER_CLIENT_ID": "id",
		"TXWORKER_CLIENT_SECRET_FILE": file,
	}))
	cfg, err := resolve(v)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Corastone.ClientSecret != "s3cr3t-from-file" {
		t.Errorf("secret %q, want the file's content without its newline", cfg.Corastone.ClientSecret)
	}
	if cfg.Corastone.TokenURL != "https://platform.example/oauth2/token" {
		t.Errorf("token URL default %q", cfg.Corastone.TokenURL)
	}
}

func TestUnknownCommand(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"explode"}, envOf(nil), &out)
	if exitCode(err) != 2 || !strings.Contains(out.String(), "usage") {
		t.Errorf("err %v, out %q", err, out.String())
	}
}

func TestServiceSetsGCTargetUnlessGOGCIsSet(t *testing.T) {
	old := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(old) })

	if got := gcPercent(envOf(map[string]string{"GOGC": "50"})); got != 0 {
		t.Errorf("GOGC set: gcPercent = %d, want 0 (left to GOGC)", got)
	}
	if now := debug.SetGCPercent(100); now != 100 {
		t.Errorf("GOGC set: the target moved to %d", now)
	}
	if got := gcPercent(envOf(nil)); got != serviceGOGC {
		t.Errorf("GOGC unset: gcPercent = %d, want %d", got, serviceGOGC)
	}
	if now := debug.SetGCPercent(100); now != serviceGOGC {
		t.Errorf("GOGC unset: the target is %d, want %d", now, serviceGOGC)
	}
}

// A platform URL holding credentials, a query or a fragment is a
// configuration problem (exit 2) found before anything is connected: NATS
// here is unreachable, and run must not wait for it.
func TestPlatformURLWithCredentialsQueryOrFragmentIsRefusedBeforeConnecting(t *testing.T) {
	const secret = "s3cr3t-in-url"
	for name, env := range map[string]map[string]string{
		"credentials": {"TXWORKER_PLATFORM_URL": "https://user:" + secret + "@platform.example"},
		"user only":   {"TXWORKER_PLATFORM_URL": "https://" + secret + "@platform.example"},
		"query":       {"TXWORKER_PLATFORM_URL": "https://platform.example/?key=" + secret},
		"empty query": {"TXWORKER_PLATFORM_URL": "https://platform.example/?"},
		"fragment":    {"TXWORKER_PLATFORM_URL": "https://platform.example/#" + secret},
		"token url":   {"TXWORKER_PLATFORM_URL": "https://platform.example", "TXWORKER_TOKEN_URL": "https://a:" + secret + "@idp.example/token"},
		"jm url": {"TXWORKER_PLATFORM_URL": "https://platform.example", "TXWORKER_JM_URL": "https://jm.example/?t=" + secret,
			"TXWORKER_JM_USERNAME": "u", "TXWORKER_JM_PASSWORD": "p"},
	} {
		t.Run(name, func(t *testing.T) {
			env["TXWORKER_NATS_URL"] = "nats://127.0.0.1:1" // nothing listens: connecting would hang
			env["TXWORKER_CLIENT_ID"] = "id"
			env["TXWORKER_CLIENT_SECRET"] = "secret"
			env["TXWORKER_HTTP_ADDR"] = "127.0.0.1:0"
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var out bytes.Buffer
			err := run(ctx, []string{"run"}, envOf(env), &out)
			if exitCode(err) != 2 || ctx.Err() != nil {
				t.Fatalf("err %v (exit %d, ctx %v), want a configuration problem with exit 2 at once", err, exitCode(err), ctx.Err())
			}
			if !strings.Contains(err.Error(), "must not hold") {
				t.Errorf("error does not say what is wrong: %v", err)
			}
			if strings.Contains(err.Error()+out.String(), secret) {
				t.Errorf("the URL's secret part is echoed: %v", err)
			}
		})
	}
}

// TXWORKER_MAX_RETRY_AFTER caps the Retry-After of both clients and the
// poller's longest pause (SPEC §5, §6).
func TestMaxRetryAfterReachesEveryCaller(t *testing.T) {
	fs := newFlagSet("t", &bytes.Buffer{})
	v := register(fs, envOf(map[string]string{
		"TXWORKER_PLATFORM_URL": "https://platform.example", "TXWORKER_CLIENT_ID": "id", "TXWORKER_CLIENT_SECRET": "s",
		"TXWORKER_JM_URL": "https://jm.example", "TXWORKER_JM_USERNAME": "u", "TXWORKER_JM_PASSWORD": "p",
		"TXWORKER_MAX_RETRY_AFTER": "42s", "TXWORKER_MAX_POISON_DELIVERIES": "7",
	}))
	sc, err := resolve(v)
	if err != nil {
		t.Fatal(err)
	}
	if sc.Corastone.MaxRetryAfter != 42*time.Second || sc.JM.MaxRetryAfter != 42*time.Second || sc.Poller.MaxPause != 42*time.Second {
		t.Errorf("max retry-after: corastone %s, jm %s, poller %s; want 42s each", sc.Corastone.MaxRetryAfter, sc.JM.MaxRetryAfter, sc.Poller.MaxPause)
	}
	if sc.Worker.MaxPoisonDeliveries != 7 {
		t.Errorf("max poison deliveries %d, want 7", sc.Worker.MaxPoisonDeliveries)
	}
	v = register(newFlagSet("t", &bytes.Buffer{}), envOf(map[string]string{"TXWORKER_MAX_RETRY_AFTER": "soon"}))
	if _, err := resolve(v); err == nil || !strings.Contains(err.Error(), "TXWORKER_MAX_RETRY_AFTER") {
		t.Errorf("a bad TXWORKER_MAX_RETRY_AFTER: %v", err)
	}
}
