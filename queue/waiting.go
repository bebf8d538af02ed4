package queue

import (
	"fmt"
	"strings"
	"time"
)

// PlatformView is what the platform said, when asked, of a command's
// orchestration (Corastone) or transaction (Journey Manager); the zero value
// is "not asked". It is what Waiting needs of the answer, without the
// platform package's types.
type PlatformView struct {
	Asked bool
	// Err is why the look-up failed (then nothing else is set).
	Err string
	// Found: the platform knows the orchestration (or the transaction).
	Found bool
	// ID is the orchestration found (for a command whose call was lost, the
	// one its processId led to).
	ID string
	// Status is the orchestration's (or the transaction's form) status.
	Status string
	// Terminal: the orchestration has ended.
	Terminal bool
	// StepsDone of Steps steps have succeeded.
	StepsDone, Steps int
}

// Waiting says in one line what the command of cl is waiting for, from its
// claim, the events found for it on the events stream and, when asked, what
// the platform says now: "waiting for: …" while something has yet to happen,
// "nothing: …" once the command is over and its event is out.
func Waiting(cl *Claim, events []Event, p PlatformView, now time.Time) string {
	lease := func() string {
		return fmt.Sprintf("owner %s, until %s, in %s", cl.Owner, cl.LeaseUntil.UTC().Format(time.RFC3339), cl.LeaseUntil.Sub(now).Round(time.Second))
	}
	leased := !cl.LeaseUntil.IsZero() && now.Before(cl.LeaseUntil)
	switch cl.State {
	case StateTerminal:
		found := false
		for _, ev := range events {
			found = found || ev.Data.Outcome == cl.Outcome
		}
		switch {
		case !cl.Published:
			return fmt.Sprintf("waiting for: the %s event to be published (settled %s; the next delivery of its message publishes it)", cl.Outcome, cl.SettledAt.UTC().Format(time.RFC3339))
		case found:
			return fmt.Sprintf("nothing: terminal (%s), event published", cl.Outcome)
		}
		return fmt.Sprintf("nothing: terminal (%s), event published but no longer on the events stream (older than its retention)", cl.Outcome)
	case StateReceived:
		if leased {
			return "waiting for: the worker holding the claim to call the platform (" + lease() + ")"
		}
		return "waiting for: a redelivery of the command to call the platform"
	case StateCalling:
		var b strings.Builder
		switch {
		case leased:
			b.WriteString("waiting for: the claim's lease to expire (" + lease() + "): a platform call may be in flight")
		case cl.Error != nil:
			fmt.Fprintf(&b, "waiting for: a retry after a transient fault (attempt %d: %s; the next attempt comes with the command's redelivery, after the back-off)", cl.Attempts, errorText(cl.Error))
		default:
			b.WriteString("waiting for: a redelivery of the command to look the call up and call again if it was lost")
		}
		if p.Asked && p.Err == "" {
			if p.Found {
				fmt.Fprintf(&b, "; the platform has its orchestration %s (status %s): the next delivery adopts it", p.ID, p.Status)
			} else {
				b.WriteString("; the platform has no trace of its processId")
			}
		}
		return b.String() + deadlineNote(cl, now)
	case StateAccepted:
		id := cl.OrchestrationID
		switch {
		case !p.Asked:
			return fmt.Sprintf("waiting for: the orchestration %s to end (polled %d times)", id, cl.Polls) + deadlineNote(cl, now)
		case p.Err != "":
			return fmt.Sprintf("waiting for: the orchestration %s to end (polled %d times; platform look-up failed: %s)", id, cl.Polls, p.Err) + deadlineNote(cl, now)
		case !p.Found:
			return fmt.Sprintf("waiting for: the orchestration %s, which the platform does not list (yet), to end (polled %d times)", id, cl.Polls) + deadlineNote(cl, now)
		case p.Terminal:
			return fmt.Sprintf("waiting for: the poller to see that the orchestration %s ended (status %s, %d of %d steps done; polled %d times)", id, p.Status, p.StepsDone, p.Steps, cl.Polls)
		}
		return fmt.Sprintf("waiting for: the orchestration %s to end (status %s, %d of %d steps done)", id, p.Status, p.StepsDone, p.Steps) + deadlineNote(cl, now)
	}
	return fmt.Sprintf("waiting for: a worker that knows claim state %q (written by a newer or foreign writer)", cl.State)
}

// deadlineNote tells a command past its deadline that it ends timed_out.
func deadlineNote(cl *Claim, now time.Time) string {
	if cl.Deadline.IsZero() || now.Before(cl.Deadline) {
		return ""
	}
	return fmt.Sprintf("; its deadline passed at %s: it ends timed_out unless the platform finishes first", cl.Deadline.UTC().Format(time.RFC3339))
}

func errorText(e *ErrorInfo) string {
	var parts []string
	if e.HTTPStatus != 0 {
		parts = append(parts, fmt.Sprintf("http %d", e.HTTPStatus))
	}
	if e.Code != "" {
		parts = append(parts, e.Code)
	}
	if e.Message != "" {
		parts = append(parts, e.Message)
	}
	return strings.Join(parts, " ")
}
