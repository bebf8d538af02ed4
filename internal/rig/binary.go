package rig

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// Package is the import path of the txworker command that TestBinary builds.
const Package = "github.com/txworker/txworker/cmd/txworker"

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// TestBinary builds the real txworker binary (go build Package) once per
// test process and returns its path, for tests that run it as replicas.
// Under -short it skips the test. A failed build ends the test. The
// package's TestMain removes the binary with RemoveTestBinary.
func TestBinary(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the real binary")
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "txworker-bin-*")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "txworker")
		out, err := exec.Command("go", "build", "-o", binPath, Package).CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// RemoveTestBinary removes what TestBinary built, if anything.
func RemoveTestBinary() {
	if binPath != "" {
		_ = os.RemoveAll(filepath.Dir(binPath))
	}
}
