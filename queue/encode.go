package queue

import (
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"
)

// The messages the worker writes for every command (claims, events,
// tracking messages) are encoded by the appenders below rather than by
// encoding/json's reflection, which was 8 % of the worker's CPU at intake
// (BENCHMARKS.md). Each produces exactly the bytes json.Marshal produces
// for the same value, fields in the same order and with the same omitempty
// and omitzero rules; TestEncodersMatchEncodingJSON and FuzzEncoders hold
// them to it. Change a struct and its appender together.

// jsonObject builds one JSON object: field names are written as given
// (they are plain ASCII), values through the typed methods.
type jsonObject struct {
	b    []byte
	err  error
	more bool // a member was written: the next needs a comma
}

func (o *jsonObject) name(n string) {
	if o.more {
		o.b = append(o.b, ',')
	}
	o.more = true
	o.b = append(o.b, '"')
	o.b = append(o.b, n...)
	o.b = append(o.b, '"', ':')
}

func (o *jsonObject) str(n, v string) {
	o.name(n)
	o.b = appendJSONString(o.b, v)
}

// strOmit is a string field tagged omitempty.
func (o *jsonObject) strOmit(n, v string) {
	if v != "" {
		o.str(n, v)
	}
}

func (o *jsonObject) num(n string, v int) {
	o.name(n)
	o.b = strconv.AppendInt(o.b, int64(v), 10)
}

// numOmit is an int field tagged omitempty.
func (o *jsonObject) numOmit(n string, v int) {
	if v != 0 {
		o.num(n, v)
	}
}

// unumOmit is a uint64 field tagged omitempty.
func (o *jsonObject) unumOmit(n string, v uint64) {
	if v != 0 {
		o.name(n)
		o.b = strconv.AppendUint(o.b, v, 10)
	}
}

func (o *jsonObject) stamp(n string, t time.Time) {
	o.name(n)
	o.b = append(o.b, '"')
	var err error
	// AppendText is Time.MarshalJSON without the quotes: RFC 3339 with
	// nanoseconds, and the same error for a year it cannot write.
	if o.b, err = t.AppendText(o.b); err != nil && o.err == nil {
		o.err = err
	}
	o.b = append(o.b, '"')
}

// stampOmitZero is a time.Time field tagged omitzero.
func (o *jsonObject) stampOmitZero(n string, t time.Time) {
	if !t.IsZero() {
		o.stamp(n, t)
	}
}

// stampPtr is a *time.Time field tagged omitempty.
func (o *jsonObject) stampPtr(n string, t *time.Time) {
	if t != nil {
		o.stamp(n, *t)
	}
}

// list is a []string field tagged omitempty.
func (o *jsonObject) list(n string, vs []string) {
	if len(vs) == 0 {
		return
	}
	o.name(n)
	o.b = append(o.b, '[')
	for i, v := range vs {
		if i > 0 {
			o.b = append(o.b, ',')
		}
		o.b = appendJSONString(o.b, v)
	}
	o.b = append(o.b, ']')
}

// errorInfo is an *ErrorInfo field tagged omitempty.
func (o *jsonObject) errorInfo(n string, e *ErrorInfo) {
	if e == nil {
		return
	}
	o.name(n)
	in := jsonObject{b: append(o.b, '{')}
	in.str("code", e.Code)
	in.str("message", e.Message)
	in.numOmit("httpStatus", e.HTTPStatus)
	o.b = append(in.b, '}')
}

// trace is a Trace field tagged omitzero.
func (o *jsonObject) trace(n string, t Trace) {
	if t == (Trace{}) {
		return
	}
	o.name(n)
	in := jsonObject{b: append(o.b, '{')}
	in.strOmit("traceparent", t.Parent)
	in.strOmit("tracestate", t.State)
	o.b = append(in.b, '}')
}

// appendJSONString appends s as json.Marshal writes a string. The common
// case, printable ASCII that needs no escape, is copied; anything else
// (control characters, quotes, backslashes, the HTML characters
// encoding/json escapes, non-ASCII) is left to encoding/json itself.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always marshals
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// encodeClaim is json.Marshal(cl).
func encodeClaim(cl *Claim) ([]byte, error) {
	o := jsonObject{b: make([]byte, 0, 1024)}
	o.b = append(o.b, '{')
	o.str("commandId", cl.CommandID)
	o.str("action", cl.Action)
	o.strOmit("commandSubject", cl.CommandSubject)
	o.strOmit("fingerprint", cl.Fingerprint)
	o.strOmit("processId", cl.ProcessID)
	o.strOmit("resource", cl.Resource)
	o.strOmit("orchestrationId", cl.OrchestrationID)
	o.str("state", string(cl.State))
	o.strOmit("owner", cl.Owner)
	o.stampOmitZero("leaseUntil", cl.LeaseUntil)
	o.unumOmit("streamSeq", cl.StreamSeq)
	o.numOmit("attempts", cl.Attempts)
	o.numOmit("lookups", cl.Lookups)
	o.numOmit("polls", cl.Polls)
	o.stampOmitZero("receivedAt", cl.ReceivedAt)
	o.stampOmitZero("acceptedAt", cl.AcceptedAt)
	o.stampOmitZero("settledAt", cl.SettledAt)
	o.stampOmitZero("deadline", cl.Deadline)
	o.strOmit("outcome", cl.Outcome)
	o.strOmit("platformStatus", cl.PlatformStatus)
	o.strOmit("failedProcessId", cl.FailedProcessID)
	o.strOmit("failedStatus", cl.FailedStatus)
	o.errorInfo("error", cl.Error)
	o.list("problems", cl.Problems)
	o.strOmit("rawCommand", cl.RawCommand)
	o.strOmit("rawCommandBase64", cl.RawCommandBase64)
	if cl.Published {
		o.name("published")
		o.b = append(o.b, "true"...)
	}
	o.trace("trace", cl.Trace)
	return append(o.b, '}'), o.err
}

// encodeEvent is json.Marshal(ev).
func encodeEvent(ev *Event) ([]byte, error) {
	o := jsonObject{b: make([]byte, 0, 768)}
	o.b = append(o.b, '{')
	o.str("specversion", ev.SpecVersion)
	o.str("id", ev.ID)
	o.str("source", ev.Source)
	o.str("type", ev.Type)
	o.strOmit("subject", ev.Subject)
	o.stamp("time", ev.Time)
	o.str("datacontenttype", ev.DataContentType)
	o.name("data")
	d := &ev.Data
	in := jsonObject{b: append(o.b, '{'), err: o.err}
	in.str("commandId", d.CommandID)
	in.str("action", d.Action)
	in.strOmit("commandSubject", d.CommandSubject)
	in.strOmit("processId", d.ProcessID)
	in.strOmit("orchestrationId", d.OrchestrationID)
	in.str("outcome", d.Outcome)
	in.strOmit("platformStatus", d.PlatformStatus)
	in.errorInfo("error", d.Error)
	in.strOmit("failedProcessId", d.FailedProcessID)
	in.strOmit("failedStatus", d.FailedStatus)
	in.num("attempts", d.Attempts)
	in.num("polls", d.Polls)
	in.stampPtr("receivedAt", d.ReceivedAt)
	in.stampPtr("acceptedAt", d.AcceptedAt)
	in.stampPtr("settledAt", d.SettledAt)
	in.list("problems", d.Problems)
	in.strOmit("rawCommand", d.RawCommand)
	in.strOmit("rawCommandBase64", d.RawCommandBase64)
	return append(in.b, '}', '}'), in.err
}

// encodeTrack is json.Marshal(t).
func encodeTrack(t *Track) ([]byte, error) {
	o := jsonObject{b: make([]byte, 0, 512)}
	o.b = append(o.b, '{')
	o.str("commandId", t.CommandID)
	o.str("action", t.Action)
	o.strOmit("fingerprint", t.Fingerprint)
	o.strOmit("processId", t.ProcessID)
	o.strOmit("orchestrationId", t.OrchestrationID)
	o.strOmit("resource", t.Resource)
	o.stampOmitZero("receivedAt", t.ReceivedAt)
	o.stampOmitZero("acceptedAt", t.AcceptedAt)
	o.stampOmitZero("deadline", t.Deadline)
	o.numOmit("attempts", t.Attempts)
	o.numOmit("lookups", t.Lookups)
	o.unumOmit("streamSeq", t.StreamSeq)
	o.trace("trace", t.Trace)
	o.unumOmit("claimRevision", t.ClaimRevision)
	return append(o.b, '}'), o.err
}
