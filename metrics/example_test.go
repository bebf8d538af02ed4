package metrics_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/txworker/txworker/metrics"
)

// The wiring cmd does: one registry with the runtime collectors, the txworker
// metrics on it, and the ops server exporting it, whose readiness results
// also set txworker_ready.
func Example() {
	reg := metrics.NewRegistry()
	m := metrics.New(reg)
	ready := func() error { return nil } // connected, provisioned, first token obtained
	srv := metrics.NewServer(metrics.ServerConfig{Addr: "127.0.0.1:0"}, reg, nil, m.ReadyCheck(ready), nil)
	if err := srv.Start(); err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Shutdown(context.Background())

	m.CommandReceived("cancel-offering")
	m.Terminal("cancel-offering", "succeeded", 42*time.Second)

	get := func(path string) string {
		resp, err := http.Get("http://" + srv.Addr() + path)
		if err != nil {
			return err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	fmt.Print("readyz: ", get("/readyz"))
	for _, line := range strings.Split(get("/metrics"), "\n") {
		for _, prefix := range []string{
			`txworker_commands_received_total{action="cancel-offering"}`,
			`txworker_commands_terminal_total{action="cancel-offering",outcome="succeeded"}`,
			`txworker_command_duration_seconds_bucket{action="cancel-offering",outcome="succeeded",le="60"}`,
			`txworker_ready `,
		} {
			if strings.HasPrefix(line, prefix) {
				fmt.Println(line)
			}
		}
	}
	// Output:
	// readyz: ok
	// txworker_command_duration_seconds_bucket{action="cancel-offering",outcome="succeeded",le="60"} 1
	// txworker_commands_received_total{action="cancel-offering"} 1
	// txworker_commands_terminal_total{action="cancel-offering",outcome="succeeded"} 1
	// txworker_ready 1
}
