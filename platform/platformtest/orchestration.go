package platformtest

import (
	"container/heap"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

type outcome uint8

const (
	outSuccess outcome = iota
	outFailed
	outDLQ
)

func (o outcome) String() string {
	switch o {
	case outFailed:
		return OutcomeFailed
	case outDLQ:
		return OutcomeDLQ
	default:
		return OutcomeSuccess
	}
}

type tsForm uint8

const (
	tsRFC3339 tsForm = iota
	tsDate
	tsEpoch
	tsEpochString
	numForms
)

func parseForm(f string) (tsForm, bool) {
	switch f {
	case FormRFC3339:
		return tsRFC3339, true
	case FormDate:
		return tsDate, true
	case FormEpochMillis:
		return tsEpoch, true
	case FormEpochMillisSt:
		return tsEpochString, true
	}
	return 0, false
}

// step is one orchestrated transaction. The first step's processId is the orchestration id.
type step struct {
	pid uuid.UUID     // zero for the first step
	end time.Duration // offset of its end from the orchestration's creation
}

// orch is one orchestration. Its status is computed from created and the step ends: nothing
// runs in the background. Once registered it never changes except applied (guarded by s.mu), so
// readers may use it after releasing s.mu.
type orch struct {
	id       string // orchestrationId = processIds[0] = sourceTransactionId
	action   endpoint
	out      outcome
	form     tsForm
	applied  bool
	failStep int
	seq      int64
	created  int64 // unix nanoseconds
	queued   time.Duration
	steps    []step
	security string
	target   string // reject: platform assetId; remove: service-provider orgId
	org      string // caller's organization
}

// terminalIdx is the index of the step whose end ends the orchestration.
func (o *orch) terminalIdx() int {
	if o.out == outSuccess {
		return len(o.steps) - 1
	}
	return o.failStep
}

func (o *orch) endsAt() int64 { return o.created + int64(o.steps[o.terminalIdx()].end) }

func (o *orch) stepStart(i int) time.Duration {
	if i == 0 {
		return o.queued
	}
	return o.steps[i-1].end
}

func (o *orch) stepPID(i int) string {
	if i == 0 {
		return o.id
	}
	return o.steps[i].pid.String()
}

// statusAt is the orchestration's status and 0-based current step at now.
func (o *orch) statusAt(now int64) (string, int) {
	el := time.Duration(now - o.created)
	t := o.terminalIdx()
	switch {
	case el >= o.steps[t].end:
		return o.out.String(), t
	case el < o.queued:
		return "queued", 0
	}
	for i, st := range o.steps {
		if el < st.end {
			return "in_progress", i
		}
	}
	return "in_progress", t
}

// stepStatusAt is the transaction status of step i at now and the time to report for it
// (its end once finished, its start while running, 0 while queued).
func (o *orch) stepStatusAt(i int, now int64) (string, int64) {
	el := time.Duration(now - o.created)
	t := o.terminalIdx()
	if o.out != outSuccess && el >= o.steps[t].end && i >= t {
		if i == t && o.out == outDLQ {
			return "timed_out", o.created + int64(o.steps[t].end)
		}
		return "failed", o.created + int64(o.steps[t].end)
	}
	switch start := o.stepStart(i); {
	case el >= o.steps[i].end:
		return "success", o.created + int64(o.steps[i].end)
	case el >= start:
		return "in_progress", o.created + int64(start)
	}
	return "queued", 0
}

// newOrch plans and registers an orchestration; s.mu must be held.
func (s *Simulator) newOrch(ep endpoint, pid, security, target, org string, now int64) *orch {
	o := &orch{action: ep, seq: s.seq, created: now, security: security, target: target, org: org}
	s.seq++
	o.form = tsForm(o.seq % int64(numForms))
	if pid == "" {
		pid = s.randomUUID().String()
	}
	o.id = pid
	resource := security
	if ep == epReject {
		resource = target
	}
	var p *Plan
	if s.cfg.Plan != nil {
		p = s.cfg.Plan(ep.String(), pid, resource)
	}
	if p != nil {
		s.applyPlan(o, p)
	} else {
		s.randomPlan(o)
	}
	for i := 1; i < len(o.steps); i++ {
		o.steps[i].pid = s.randomUUID()
		s.stepIdx[o.steps[i].pid] = o
	}
	s.orchs.Store(strings.ToLower(o.id), o)
	s.orchList = append(s.orchList, o)
	s.indexEntries(o)
	if o.out == outSuccess {
		heap.Push(&s.pending, o)
	}
	return o
}

func (s *Simulator) applyPlan(o *orch, p *Plan) {
	o.queued = max(p.Queued, 0)
	durs := p.Steps
	if len(durs) == 0 {
		durs = []time.Duration{0}
	}
	o.steps = make([]step, min(len(durs), maxSteps))
	end := o.queued
	for i := range o.steps {
		end += max(durs[i], 0)
		o.steps[i].end = end
	}
	switch p.Outcome {
	case OutcomeFailed:
		o.out = outFailed
	case OutcomeDLQ:
		o.out = outDLQ
	}
	o.failStep = min(max(p.FailStep, 0), len(o.steps)-1)
	if f, ok := parseForm(p.TimestampForm); ok {
		o.form = f
	}
}

func (s *Simulator) randomPlan(o *orch) {
	c := &s.cfg
	o.queued = c.Queued[0] + s.randDur(c.Queued[1]-c.Queued[0])
	n := c.Steps[0] + s.rng.IntN(c.Steps[1]-c.Steps[0]+1)
	o.steps = make([]step, n)
	end := o.queued
	for i := range o.steps {
		end += c.StepDuration[0] + s.randDur(c.StepDuration[1]-c.StepDuration[0])
		o.steps[i].end = end
	}
	switch r := s.rng.Float64(); {
	case r < c.FailRate:
		o.out = outFailed
	case r < c.FailRate+c.DLQRate:
		o.out = outDLQ
	}
	o.failStep = s.rng.IntN(n)
}

func (s *Simulator) randDur(span time.Duration) time.Duration {
	if span <= 0 {
		return 0
	}
	return time.Duration(s.rng.Int64N(int64(span) + 1))
}

// randomUUID is a v4 UUID from the simulator's (seeded) generator; s.mu must be held.
func (s *Simulator) randomUUID() uuid.UUID {
	var u uuid.UUID
	a, b := s.rng.Uint64(), s.rng.Uint64()
	for i := range 8 {
		u[i], u[8+i] = byte(a>>(8*i)), byte(b>>(8*i))
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return u
}

// applyDue applies the effects of every orchestration that has succeeded by now; s.mu must be
// held for writing.
func (s *Simulator) applyDue(now int64) {
	for len(s.pending) > 0 && s.pending[0].endsAt() <= now {
		o := heap.Pop(&s.pending).(*orch)
		s.applyEffect(o)
	}
}

func (s *Simulator) applyEffect(o *orch) {
	if o.applied {
		return
	}
	o.applied = true
	sec := s.securities[o.security]
	switch o.action {
	case epCancel:
		if sec != nil {
			sec.Status = StatusCancelled
		}
	case epRevert:
		if sec != nil {
			sec.Status = StatusActive
		}
	case epRestrict:
		if sec != nil {
			sec.Restricted = true
		}
	case epRemove:
		if sec != nil && slices.Contains(sec.ServiceProviders, o.target) {
			sec.ServiceProviders = slices.DeleteFunc(sec.ServiceProviders, func(v string) bool { return v == o.target })
			sec.FormerServiceProviders = append(sec.FormerServiceProviders, o.target)
		}
	case epReject:
		if a := s.assets[o.target]; a != nil {
			a.Status = AssetRejected
		}
	}
}

// pendingHeap orders orchestrations with an effect still to apply by their end.
type pendingHeap []*orch

func (h pendingHeap) Len() int           { return len(h) }
func (h pendingHeap) Less(i, j int) bool { return h[i].endsAt() < h[j].endsAt() }
func (h pendingHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *pendingHeap) Push(x any)        { *h = append(*h, x.(*orch)) }
func (h *pendingHeap) Pop() any {
	old := *h
	o := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return o
}

// orch looks an orchestration up by id, case-insensitively. It needs no lock: polls never wait
// for actions.
func (s *Simulator) orch(id string) *orch {
	if o, ok := s.orchs.Load(id); ok {
		return o.(*orch)
	}
	if lower := strings.ToLower(id); lower != id {
		if o, ok := s.orchs.Load(lower); ok {
			return o.(*orch)
		}
	}
	return nil
}
