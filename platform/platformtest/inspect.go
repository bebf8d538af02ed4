package platformtest

import (
	"strings"
	"time"
)

// OrchestrationView is an orchestration as of the moment Orchestration was called.
type OrchestrationView struct {
	ID          string // orchestrationId = processIds[0] = sourceTransactionId
	Action      string // "cancel-offering", …, "restrict-offering"
	Resource    string // securityId; the platform assetId for reject-asset
	OrgID       string // the caller's organization
	Status      string // queued, in_progress, success, failed, dlq — now
	CurrentStep int    // 0-based index of the running (or last reached) step
	Outcome     string // how it ends (or ended): success, failed, dlq
	Form        string // timestamp form of its answers (Form… constants)
	CreatedAt   time.Time
	EndsAt      time.Time // when it ends (or ended)
	EndedAt     time.Time // zero until it has ended
	Steps       []StepView
}

// StepView is one orchestrated transaction.
type StepView struct {
	ProcessID string
	Status    string    // transaction status now: queued, in_progress, success, failed, timed_out
	StartsAt  time.Time // zero for steps that never run (after a failed step)
	EndsAt    time.Time // likewise
}

// Terminal reports whether the orchestration has ended (success, failed or dlq).
func (v OrchestrationView) Terminal() bool { return !v.EndedAt.IsZero() }

// Orchestration returns an orchestration by id (case-insensitive) as of now.
func (s *Simulator) Orchestration(id string) (OrchestrationView, bool) {
	now := s.cfg.Now().UnixNano()
	s.mu.RLock()
	defer s.mu.RUnlock()
	o := s.orch(id)
	if o == nil {
		return OrchestrationView{}, false
	}
	status, cur := o.statusAt(now)
	v := OrchestrationView{
		ID: o.id, Action: o.action.String(), Resource: o.security, OrgID: o.org, Status: status,
		CurrentStep: cur, Outcome: o.out.String(), Form: formName(o.form),
		CreatedAt: time.Unix(0, o.created), EndsAt: time.Unix(0, o.endsAt()),
	}
	if o.action == epReject {
		v.Resource = o.target
	}
	if o.endsAt() <= now {
		v.EndedAt = v.EndsAt
	}
	t := o.terminalIdx()
	for i := range o.steps {
		st, _ := o.stepStatusAt(i, now)
		sv := StepView{ProcessID: o.stepPID(i), Status: st}
		if i <= t {
			sv.StartsAt = time.Unix(0, o.created+int64(o.stepStart(i)))
			sv.EndsAt = time.Unix(0, o.created+int64(o.steps[i].end))
		}
		v.Steps = append(v.Steps, sv)
	}
	return v, true
}

func formName(f tsForm) string {
	return [...]string{FormRFC3339, FormDate, FormEpochMillis, FormEpochMillisSt}[f]
}

// OrchestrationCount returns how many orchestrations exist (restrict ones included).
func (s *Simulator) OrchestrationCount() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.orchList)
}

// Accepted returns how many times an action with this processId (case-insensitive) was accepted.
// A repeated processId is not counted again unless Config.NoDedupe is set. Restrict is not
// counted: it is a fixture helper, not one of the worker's actions.
func (s *Simulator) Accepted(processID string) int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.accepted[strings.ToLower(processID)]
}

// AcceptedTotal returns how many Corastone actions (restrict excluded) were accepted in all.
func (s *Simulator) AcceptedTotal() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.acceptedN
}

// MaxAcceptedPerProcess returns the largest Accepted count of any processId: above 1 means some
// action took effect twice (only possible with Config.NoDedupe).
func (s *Simulator) MaxAcceptedPerProcess() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.maxAccept
}

// Repeats returns how many times an already used processId was sent again and answered with the
// original ids (without effect).
func (s *Simulator) Repeats(processID string) int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.repeats[strings.ToLower(processID)]
}

// Cancelled returns how many times a Journey Manager cancel of submitKey succeeded (at most 1:
// a second one gets txnAlreadyFinished).
func (s *Simulator) Cancelled(submitKey string) int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.cancels[submitKey]
}

// CancelledTotal returns how many Journey Manager cancels succeeded in all.
func (s *Simulator) CancelledTotal() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.cancelsN
}
