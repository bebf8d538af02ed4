package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadFlagsNameEveryProblem(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"load", "-scenario", "bogus", "-rate", "0", "-settle-min", "5s", "-settle-max", "1s"},
		func(string) string { return "" }, &out)
	var ue *usageError
	if !errors.As(err, &ue) {
		t.Fatalf("err = %v, want a usage error", err)
	}
	for _, want := range []string{`"bogus"`, "-rate", "-settle-min"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}

// A short run of two scenarios through run("load"), with the worker as its
// own process: it must report every command ended exactly once.
func TestLoadShortRun(t *testing.T) {
	bin := binary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out syncBuffer
	profiles := t.TempDir()
	err := run(ctx, []string{"load", "-binary", bin, "-scenario", "trickle,sync,scale,burst", "-count", "20", "-rate", "100", "-scale-count", "40", "-duration", "4s",
		"-settle-min", "100ms", "-settle-max", "300ms",
		"-poll-interval", "100ms", "-poll-max-interval", "300ms", "-quiet", "-profile", profiles, "-profile-seconds", "1", "-profile-trace", "500ms"},
		func(string) string { return "" }, &out)
	if err != nil {
		t.Fatalf("load: %v\n%s", err, out.String())
	}
	for _, want := range []string{"== trickle · batched", "== sync · batched", "== scale · batched", "worker adds", "worker adds, bus", "before the call",
		"after the call", "detection delay", "== burst · batched", "intake CPU", "stolen by the hypervisor", "every command ended exactly once"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	// Every scenario reads both processes' scheduler latencies.
	if n := strings.Count(out.String(), "wake-ups            worker "); n != 4 || strings.Contains(out.String(), "wake-ups            unknown") {
		t.Errorf("want 4 wake-ups lines with figures, got %d:\n%s", n, out.String())
	}
	if n := strings.Count(out.String(), "run queues          worker "); n != 4 {
		t.Errorf("want 4 run-queue lines, got %d:\n%s", n, out.String())
	}
	// -profile: the worker's and this process's CPU profiles and the
	// worker's trace, per run, each named in a note.
	for _, name := range []string{"sync-batched-worker.cpu.pprof", "sync-batched-rig.cpu.pprof", "sync-batched-worker.trace"} {
		file := filepath.Join(profiles, name)
		if fi, err := os.Stat(file); err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v (size %d)", name, err, sizeOf(fi))
		}
		if !strings.Contains(out.String(), "note                profile "+file) {
			t.Errorf("output does not name %s", file)
		}
	}
	if strings.Contains(out.String(), "note                profile sync") {
		t.Errorf("a profile failed:\n%s", out.String())
	}
}

func sizeOf(fi os.FileInfo) int64 {
	if fi == nil {
		return -1
	}
	return fi.Size()
}
