package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// load -reference runs the sync scenario with the reference consumer as
// the replica process, and refuses anything else.
func TestLoadReference(t *testing.T) {
	var out bytes.Buffer
	for _, args := range [][]string{
		{"-reference", "claim"},
		{"-reference", "bare", "-scenario", "sync,burst"},
		{"-reference", "bare", "-scenario", "sync", "-compare"},
	} {
		err := run(context.Background(), append([]string{"load"}, args...), func(string) string { return "" }, &out)
		var ue *usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), "-reference") {
			t.Errorf("load %q: err = %v, want a usage error naming -reference", args, err)
		}
	}
	bin := binary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var res syncBuffer
	err := run(ctx, []string{"load", "-binary", bin, "-scenario", "sync", "-reference", "bare", "-count", "20", "-rate", "100", "-quiet"},
		func(string) string { return "" }, &res)
	if err != nil {
		t.Fatalf("load: %v\n%s", err, res.String())
	}
	for _, want := range []string{"== sync · reference-bare", "worker adds, bus", "every command ended exactly once"} {
		if !strings.Contains(res.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, res.String())
		}
	}
}
