package platformtest_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/txworker/txworker/platform/platformtest"
)

// Start a simulator, obtain a token and revert the documentation's security to active.
func ExampleStart() {
	sim, err := platformtest.Start(platformtest.Config{Seed: 1})
	if err != nil {
		panic(err)
	}
	defer sim.Close()
	hc := &http.Client{Timeout: 10 * time.Second}

	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"revertCompletedToActive readTransactionData"}}
	req, _ := http.NewRequest(http.MethodPost, sim.URL()+"/oauth2/token", strings.NewReader(form.Encode()))
	req.SetBasicAuth("txworker", "sandbox-secret")
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", "example/1.0")
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	decode(hc, req, &tok)

	body := `{"signer":{"email":"jane@example.com","name":"John Doe"},` +
		`"processId":"2159457f-0167-4e93-a969-9cf0db05e0bf","securityId":"USS3JKS01I00"}`
	req, _ = http.NewRequest(http.MethodPut, sim.URL()+"/external/v1/security-admin/revert-completed-to-active", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "example/1.0")
	var acc struct{ ProcessID, OrchestrationID string }
	decode(hc, req, &acc)

	v, _ := sim.Orchestration(acc.OrchestrationID)
	fmt.Println(acc.OrchestrationID, v.Action, v.Resource, sim.Accepted(acc.ProcessID))
	// Output: 2159457f-0167-4e93-a969-9cf0db05e0bf revert-to-active USS3JKS01I00 1
}

func decode(hc *http.Client, req *http.Request, v any) {
	resp, err := hc.Do(req)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, v); err != nil {
		panic(fmt.Sprint(resp.Status, string(b)))
	}
}
