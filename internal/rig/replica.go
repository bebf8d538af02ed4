package rig

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Replica is one worker running as its own OS process (`txworker run`),
// part of the rig (rig.go). Its stdout and stderr are appended to LogPath;
// each Start finds the ops address in the "txworker started" log line of
// that run and waits for /readyz. Its methods are safe for concurrent use.
type Replica struct {
	Name    string
	LogPath string
	bin     string
	args    []string // the subcommand and its arguments; nil → run
	env     []string

	mu    sync.Mutex
	cmd   *exec.Cmd
	addr  string
	done  chan struct{} // closed when the current process has exited
	state *os.ProcessState
}

// ProcStats is what a worker process has used: peak resident memory and CPU
// time (user + system).
type ProcStats struct {
	PeakRSS uint64 // bytes (VmHWM, or ru_maxrss after exit)
	CPU     time.Duration
}

// startTimeout bounds how long Start waits for the process to log its
// address and for /readyz to answer 200.
const startTimeout = 60 * time.Second

// Start runs the process (again, if it has exited) and returns once its
// /readyz answers 200. It fails if the process is running already, exits
// before it is ready, or is not ready within a minute or before ctx ends;
// a process that did not become ready is killed.
func (p *Replica) Start(ctx context.Context) error {
	p.mu.Lock()
	if p.cmd != nil && p.state == nil {
		p.mu.Unlock()
		return fmt.Errorf("replica %s is running already", p.Name)
	}
	logf, err := os.OpenFile(p.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		p.mu.Unlock()
		return fmt.Errorf("replica %s log: %w", p.Name, err)
	}
	st, _ := logf.Stat()
	from := st.Size()
	args := p.args
	if len(args) == 0 {
		args = []string{"run"}
	}
	cmd := exec.Command(p.bin, args...)
	cmd.Env = p.env
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		p.mu.Unlock()
		return fmt.Errorf("replica %s: %w", p.Name, err)
	}
	logf.Close() // the child holds its own descriptor
	done := make(chan struct{})
	p.cmd, p.addr, p.done, p.state = cmd, "", done, nil
	p.mu.Unlock()
	go func() {
		_ = cmd.Wait()
		p.mu.Lock()
		p.state = cmd.ProcessState
		p.mu.Unlock()
		close(done)
	}()
	if err := p.awaitReady(ctx, from, done); err != nil {
		_ = p.Kill()
		return fmt.Errorf("replica %s: %w", p.Name, err)
	}
	return nil
}

// awaitReady reads the log from offset from until the started line shows
// the ops address, then polls /readyz until 200.
func (p *Replica) awaitReady(ctx context.Context, from int64, done <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		select {
		case <-done:
			return fmt.Errorf("process exited before it was ready (%s); see %s", p.exitStatus(), p.LogPath)
		case <-ctx.Done():
			return fmt.Errorf("not ready: %w; see %s", ctx.Err(), p.LogPath)
		case <-tick.C:
		}
		addr := p.Addr()
		if addr == "" {
			addr = findAddr(p.LogPath, from)
			if addr == "" {
				continue
			}
			p.mu.Lock()
			p.addr = addr
			p.mu.Unlock()
		}
		resp, err := client.Get("http://" + addr + "/readyz")
		if err != nil {
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return nil
		}
	}
}

// httpAddrPattern finds the ops address in the service's JSON log line.
var httpAddrPattern = regexp.MustCompile(`"http_addr":"([^"]+)"`)

// findAddr returns the http_addr of the "txworker started" line written
// after offset from, or "".
func findAddr(path string, from int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	b, err := io.ReadAll(io.NewSectionReader(f, from, 1<<20))
	if err != nil && !errors.Is(err, io.EOF) {
		return ""
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		if !bytes.Contains(line, []byte(`"txworker started"`)) {
			continue
		}
		if m := httpAddrPattern.FindSubmatch(line); m != nil {
			return string(m[1])
		}
	}
	return ""
}

// Addr is the ops server address (host:port) of the current run; "" until
// Start has seen it.
func (p *Replica) Addr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.addr
}

// PID is the process id of the current (or last) run; 0 before Start.
func (p *Replica) PID() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// Running reports whether the current process has not exited.
func (p *Replica) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd != nil && p.state == nil
}

// Kill sends SIGKILL and waits until the process is gone. Killing a
// process that is not running does nothing.
func (p *Replica) Kill() error {
	return p.signal(context.Background(), syscall.SIGKILL)
}

// Term sends SIGTERM (graceful shutdown) and waits until the process has
// exited or ctx ends; it returns the exit error ("exit status 1", …) if
// the process did not exit cleanly.
func (p *Replica) Term(ctx context.Context) error {
	if err := p.signal(ctx, syscall.SIGTERM); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state != nil && !p.state.Success() {
		return fmt.Errorf("replica %s: %s", p.Name, p.state)
	}
	return nil
}

// Restart stops the process with sig (SIGKILL or SIGTERM) and starts it
// again, waiting for /readyz.
func (p *Replica) Restart(ctx context.Context, sig syscall.Signal) error {
	if err := p.signal(ctx, sig); err != nil {
		return err
	}
	return p.Start(ctx)
}

func (p *Replica) signal(ctx context.Context, sig syscall.Signal) error {
	p.mu.Lock()
	cmd, done, running := p.cmd, p.done, p.cmd != nil && p.state == nil
	p.mu.Unlock()
	if !running {
		return nil
	}
	if err := cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("replica %s: signal %s: %w", p.Name, sig, err)
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("replica %s did not exit after %s: %w", p.Name, sig, ctx.Err())
	}
}

func (p *Replica) exitStatus() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state == nil {
		return "running"
	}
	return p.state.String()
}

// Usage is the current process's peak RSS and CPU time so far, read from
// /proc while it runs, or from its rusage once it has exited.
func (p *Replica) Usage() (ProcStats, error) {
	p.mu.Lock()
	cmd, st := p.cmd, p.state
	p.mu.Unlock()
	switch {
	case cmd == nil:
		return ProcStats{}, fmt.Errorf("replica %s never started", p.Name)
	case st != nil:
		ru, ok := st.SysUsage().(*syscall.Rusage)
		if !ok {
			return ProcStats{}, errors.New("no rusage")
		}
		return ProcStats{PeakRSS: uint64(ru.Maxrss) * 1024,
			CPU: time.Duration(syscall.TimevalToNsec(ru.Utime) + syscall.TimevalToNsec(ru.Stime))}, nil
	}
	return ProcUsage(cmd.Process.Pid)
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat times: 100 on Linux
// whatever the kernel's HZ.
const clockTicks = 100

// ProcUsage reads VmHWM from /proc/<pid>/status and utime+stime from
// /proc/<pid>/stat.
func ProcUsage(pid int) (ProcStats, error) {
	var u ProcStats
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return u, fmt.Errorf("process %d: %w", pid, err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			u.PeakRSS = kb * 1024
		}
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return u, fmt.Errorf("process %d: %w", pid, err)
	}
	// The command name (field 2) may hold spaces: count fields after ')'.
	s := string(stat)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return u, fmt.Errorf("process %d: short stat", pid)
	}
	ut, _ := strconv.ParseUint(fields[11], 10, 64) // field 14
	kt, _ := strconv.ParseUint(fields[12], 10, 64) // field 15
	u.CPU = time.Duration(ut+kt) * time.Second / clockTicks
	return u, nil
}
