package app

import (
	"slices"
	"testing"

	"github.com/txworker/txworker/platform"
)

// TestHintsScopes: readSequencer joins the token's scopes only with
// TXWORKER_TRACKING_HINTS=sequencer; with hints off the scope set is the
// one without hints.
func TestHintsScopes(t *testing.T) {
	base := platform.CorastoneConfig{BaseURL: "https://platform.example", ClientID: "id", ClientSecret: "s", UserAgent: "ua",
		Actions: []string{"cancel-offering"}}
	for _, tc := range []struct {
		hints string
		want  []string
	}{
		{"", []string{"cancelOffering", "readTransactionData"}},
		{HintsSequencer, []string{"cancelOffering", "readSequencer", "readTransactionData"}},
	} {
		cfg := withHints(Config{Corastone: base, TrackingHints: tc.hints})
		cs, err := platform.NewCorastone(cfg.Corastone, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := cs.Scopes(); !slices.Equal(got, tc.want) {
			t.Errorf("hints %q: scopes %v, want %v", tc.hints, got, tc.want)
		}
	}
}
