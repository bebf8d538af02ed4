package platform

import (
	"context"
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
