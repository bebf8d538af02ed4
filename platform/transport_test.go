package platform

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestIdleConnectionsFollowMaxIdleConns sends three waves of 100 concurrent
// cancels. With MaxIdleConns 100 the second and third waves reuse the first
// wave's connections; with 10 kept idle, 90 are closed after every wave and
// dialled again (a TLS handshake each against a real platform).
func TestIdleConnectionsFollowMaxIdleConns(t *testing.T) {
	const concurrent, waves = 100, 3
	for _, tc := range []struct {
		idle      int
		wantDials func(int64) bool
		want      string
	}{
		{concurrent, func(n int64) bool { return n == concurrent }, "exactly 100"},
		{10, func(n int64) bool { return n >= concurrent+(waves-1)*(concurrent-10) }, "at least 280"},
	} {
		var dials atomic.Int64
		arrived := make(chan struct{}, concurrent)
		var mu sync.Mutex
		release := make(chan struct{})
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			wait := release
			mu.Unlock()
			arrived <- struct{}{}
			<-wait
			writeJSON(w, 200, `{"submitKey":"k","formStatus":"Abandoned"}`) // what the simulator answers
		}))
		srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				dials.Add(1)
			}
		}
		srv.Start()
		j, err := NewJM(JMConfig{BaseURL: srv.URL, Username: "u", Password: "p", UserAgent: testUA, MaxIdleConns: tc.idle}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		for range waves {
			var wg sync.WaitGroup
			for range concurrent {
				wg.Go(func() {
					if _, err := j.Cancel(ctx, cancelReq(t, "k")); err != nil {
						t.Error(err)
					}
				})
			}
			for range concurrent {
				select {
				case <-arrived:
				case <-ctx.Done():
					t.Fatal("requests did not arrive")
				}
			}
			mu.Lock()
			close(release)
			release = make(chan struct{})
			mu.Unlock()
			wg.Wait()
		}
		cancel()
		srv.Close()
		if n := dials.Load(); !tc.wantDials(n) {
			t.Errorf("MaxIdleConns %d: %d connections dialled for %d waves of %d, want %s", tc.idle, n, waves, concurrent, tc.want)
		}
	}
}
