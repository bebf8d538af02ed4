package platform

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/go-json-experiment/json/jsontext"
)

// Timestamp is a point in time as the Transactions API sends it: an RFC 3339 string
// ("2024-09-12T00:00:00.000Z"), a date string ("1980-01-01", midnight UTC), epoch milliseconds as a
// JSON number or numeric string (1185106460000), or null/absent (the zero Timestamp). Parsed times
// are in UTC.
type Timestamp struct{ time.Time }

// UnmarshalJSONFrom reads one value from dec (json v2) and accepts every form ParseTimestamp does.
func (t *Timestamp) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	raw, err := dec.ReadValue()
	if err != nil {
		return err
	}
	return t.UnmarshalJSON(raw)
}

// UnmarshalJSON accepts every form ParseTimestamp does.
func (t *Timestamp) UnmarshalJSON(raw []byte) error {
	v, err := ParseTimestamp(raw)
	if err != nil {
		return err
	}
	t.Time = v
	return nil
}

// MarshalJSON writes RFC 3339 with nanoseconds (time.RFC3339Nano), or null for the zero Timestamp,
// so that what it writes parses back to the same instant.
func (t Timestamp) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("null"), nil
	}
	return []byte(`"` + t.UTC().Format(time.RFC3339Nano) + `"`), nil
}

// Accepted bounds for parsed times: years 0001–9999, so every parsed time can be written back.
func minTimestamp() time.Time { return time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC) }
func maxTimestamp() time.Time { return time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC) }

var errTimestamp = errors.New("not an RFC 3339 time, a date or epoch milliseconds")

// ParseTimestamp parses one JSON value (see Timestamp). null, "" and an absent value give the zero
// time. Strings may be RFC 3339 (fractional seconds optional), RFC 3339 without a zone (read as
// UTC), a "2006-01-02" date, or epoch milliseconds; numbers are epoch milliseconds (a fraction is
// allowed). Times outside years 1–9999 are refused. It never panics.
func ParseTimestamp(raw []byte) (time.Time, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return time.Time{}, nil
	}
	var t time.Time
	var err error
	if raw[0] == '"' {
		s, plain := plainLiteral(raw)
		if !plain {
			b, err := jsontext.AppendUnquote(nil, raw)
			if err != nil {
				return time.Time{}, fmt.Errorf("timestamp %.40q: %w", raw, err)
			}
			s = string(b)
		}
		t, err = parseTimeString(strings.TrimSpace(s))
	} else {
		t, err = parseEpochMillis(string(raw))
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("timestamp %.40q: %w", raw, err)
	}
	return t, nil
}

func parseTimeString(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if c := s[0]; (c >= '0' && c <= '9' || c == '-') && maybeNumber(s) {
		if t, err := parseEpochMillis(s); err == nil {
			return t, nil
		}
	}
	layouts := [...]string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02"}
	for _, l := range layouts {
		if t, err := time.Parse(l, s); err == nil {
			return inRange(t.UTC())
		}
	}
	return time.Time{}, errTimestamp
}

// maybeNumber is false for a string that neither strconv.ParseInt nor a
// JSON number accepts, such as every time and date: trying them as epoch
// milliseconds costs an error value each time, and the Transactions API
// sends three times per orchestration.
func maybeNumber(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9', c == '+', c == '.', c == 'e', c == 'E':
		case c == '-' && (i == 0 || s[i-1] == 'e' || s[i-1] == 'E'):
		default:
			return false
		}
	}
	return true
}

// parseEpochMillis reads a JSON number (or numeric string) of epoch milliseconds.
func parseEpochMillis(s string) (time.Time, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < minTimestamp().UnixMilli() || n > maxTimestamp().UnixMilli() {
			return time.Time{}, errors.New("epoch milliseconds out of range")
		}
		return time.UnixMilli(n).UTC(), nil
	}
	if s == "" || s[0] != '-' && (s[0] < '0' || s[0] > '9') || !jsontext.Value(s).IsValid() {
		return time.Time{}, errTimestamp
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || f < float64(minTimestamp().UnixMilli()) || f > float64(maxTimestamp().UnixMilli()) {
		return time.Time{}, errors.New("epoch milliseconds out of range")
	}
	ms := math.Floor(f)
	ns := math.Round((f - ms) * 1e6)
	return inRange(time.UnixMilli(int64(ms)).Add(time.Duration(ns)).UTC())
}

func inRange(t time.Time) (time.Time, error) {
	if t.Before(minTimestamp()) || t.After(maxTimestamp()) {
		return time.Time{}, errors.New("time out of range")
	}
	return t, nil
}

// plainLiteral is the value of a JSON string literal of printable ASCII
// without escapes, the form every time string takes in practice; plain is
// false for any other bytes, which jsontext then unquotes.
func plainLiteral(raw []byte) (s string, plain bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", false
	}
	for _, c := range raw[1 : len(raw)-1] {
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			return "", false
		}
	}
	return string(raw[1 : len(raw)-1]), true
}
