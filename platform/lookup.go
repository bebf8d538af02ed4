package platform

import (
	"context"
	"errors"
	"regexp"
	"slices"
)

// Progress is what the platform knows now of one orchestration: the
// orchestration itself and its steps (transactions) in execution order.
type Progress struct {
	Found         bool
	Orchestration Orchestration
	// Steps are the orchestration's transactions in the order of its
	// processIds; a step the Transactions API does not list has only its
	// ProcessID set.
	Steps []Transaction
}

// Done returns how many steps have succeeded and how many there are.
func (p Progress) Done() (done, total int) {
	for _, s := range p.Steps {
		if s.Status == "success" {
			done++
		}
	}
	return done, len(p.Steps)
}

// Progress looks up an orchestration and its steps: by orchestrationID, or,
// when it is "", by processID (FindProcess: a call whose answer was lost).
// Found is false when the platform has no trace of either. Every failure is
// an *Error.
func (c *Corastone) Progress(ctx context.Context, orchestrationID, processID string) (Progress, error) {
	if orchestrationID == "" {
		if processID == "" {
			return Progress{}, nil
		}
		id, found, err := c.FindProcess(ctx, processID)
		if err != nil || !found || id == "" {
			return Progress{Found: found}, err
		}
		orchestrationID = id
	}
	orchs, err := c.Orchestrations(ctx, []string{orchestrationID})
	if err != nil || len(orchs) == 0 {
		return Progress{}, err
	}
	o := orchs[0]
	if o.Unreadable != nil {
		return Progress{}, o.Unreadable
	}
	txs, err := c.Transactions(ctx, TransactionFilter{OrchestrationIDs: []string{o.OrchestrationID}})
	if err != nil {
		return Progress{}, err
	}
	p := Progress{Found: true, Orchestration: o}
	for _, pid := range o.ProcessIDs {
		i := slices.IndexFunc(txs, func(t Transaction) bool { return t.ProcessID == pid })
		if i < 0 {
			p.Steps = append(p.Steps, Transaction{ProcessID: pid, OrchestrationID: o.OrchestrationID})
			continue
		}
		p.Steps = append(p.Steps, txs[i])
		txs = slices.Delete(txs, i, i+1)
	}
	return p, nil // transactions the orchestration does not name are not its steps
}

// emailLike is anything written like an e-mail address.
var emailLike = regexp.MustCompile(`[^\s"'<>(),;:@\[\]]+@[^\s"'<>(),;:@\[\]]+\.[A-Za-z]{2,}`)

// RedactEmails replaces every e-mail address in platform text (a signer's,
// echoed in an error message) with Redacted: tools that show platform
// answers to people pass them through it.
func RedactEmails(s string) string { return emailLike.ReplaceAllString(s, Redacted) }

// Report is what the platform knows now of one command's work, as the tools
// show it (`txworker status -platform`): typed fields only, which hold no
// e-mail address, and an error text without secrets or e-mail addresses.
type Report struct {
	Platform      string         `json:"platform"`
	Asked         bool           `json:"asked"`           // false: not configured, nothing sent
	Error         string         `json:"error,omitempty"` // the look-up failed, or was not made
	Found         bool           `json:"found"`
	Orchestration *Orchestration `json:"orchestration,omitempty"` // Corastone
	Steps         []Transaction  `json:"steps,omitempty"`         // Corastone, in execution order
	StepsDone     int            `json:"stepsDone,omitempty"`
	FormStatus    string         `json:"formStatus,omitempty"` // Journey Manager
}

// Inspect asks the platform of action what it knows now: the orchestration
// (by orchestrationID, else processID) and its steps on Corastone, the
// transaction of submitKey on Journey Manager (jm nil: not configured). It
// returns nil when there is nothing to ask (an unknown action, no id). The
// clients are built from the configurations for this one look-up.
func Inspect(ctx context.Context, cs CorastoneConfig, jm *JMConfig, action, orchestrationID, processID, submitKey string) *Report {
	a, known := LookupAction(action)
	switch {
	case !known:
		return nil
	case a.Platform == JourneyManager && submitKey == "":
		return nil
	case a.Platform == JourneyManager && jm == nil:
		return &Report{Platform: a.Platform, Error: "not asked: Journey Manager is not configured (TXWORKER_JM_URL)"}
	case a.Platform == JourneyManager:
		r := &Report{Platform: a.Platform, Asked: true}
		c, err := NewJM(*jm, nil, nil)
		var txn Txn
		if err == nil {
			txn, err = c.Query(ctx, submitKey)
		}
		var e *Error
		if errors.As(err, &e) && e.Code == "txnNotFound" {
			return r
		}
		r.Found, r.FormStatus = err == nil, txn.FormStatus
		return r.failed(err)
	case orchestrationID == "" && processID == "":
		return nil
	}
	r := &Report{Platform: a.Platform, Asked: true}
	c, err := NewCorastone(cs, nil, nil)
	var p Progress
	if err == nil {
		p, err = c.Progress(ctx, orchestrationID, processID)
	}
	r.Found, r.Steps = p.Found, p.Steps
	r.StepsDone, _ = p.Done()
	if p.Orchestration.OrchestrationID != "" {
		r.Orchestration = &p.Orchestration
	}
	return r.failed(err)
}

func (r *Report) failed(err error) *Report {
	if err != nil {
		*r = Report{Platform: r.Platform, Asked: true, Error: RedactEmails(err.Error())}
	}
	return r
}
