package platformtest

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// appendString appends s as a JSON string.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r != utf8.RuneError || size != 1 {
				i += size
				continue
			}
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			if c >= utf8.RuneSelf { // invalid UTF-8
				b = append(b, `\ufffd`...)
			} else {
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
		}
		i++
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendTS appends the instant ns (unix nanoseconds) in the orchestration's timestamp form.
func appendTS(b []byte, form tsForm, ns int64) []byte {
	switch form {
	case tsEpoch:
		return strconv.AppendInt(b, floorDiv(ns, 1e6), 10)
	case tsEpochString:
		b = append(b, '"')
		b = strconv.AppendInt(b, floorDiv(ns, 1e6), 10)
		return append(b, '"')
	}
	t := time.Unix(0, ns).UTC()
	year, month, day := t.Date()
	b = append(b, '"')
	b = appendDigits(b, year, 4)
	b = append(b, '-')
	b = appendDigits(b, int(month), 2)
	b = append(b, '-')
	b = appendDigits(b, day, 2)
	if form == tsRFC3339 {
		hour, minute, sec := t.Clock()
		b = append(b, 'T')
		b = appendDigits(b, hour, 2)
		b = append(b, ':')
		b = appendDigits(b, minute, 2)
		b = append(b, ':')
		b = appendDigits(b, sec, 2)
		b = append(b, '.')
		b = appendDigits(b, t.Nanosecond()/1e6, 3)
		b = append(b, 'Z')
	}
	return append(b, '"')
}

// appendDigits appends n (0 ≤ n < 10^width, else as is) zero-padded to width digits.
func appendDigits(b []byte, n, width int) []byte {
	var d [20]byte
	i := len(d)
	for n >= 10 || width > 1 {
		i--
		d[i] = byte('0' + n%10)
		n /= 10
		width--
	}
	i--
	d[i] = byte('0' + n)
	return append(b, d[i:]...)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// appendOrch appends one orchestration of the orchestrations endpoint as of now.
func appendOrch(b []byte, o *orch, now int64) []byte {
	status, cur := o.statusAt(now)
	b = append(b, `{"orchestrationId":"`...)
	b = append(b, o.id...) // a canonical v4 UUID: nothing to escape
	b = append(b, '"')
	b = append(b, `,"status":"`...)
	b = append(b, status...)
	b = append(b, `","startDate":`...)
	at := len(b)
	b = appendTS(b, o.form, o.created)
	b = append(b, `,"createdDate":`...)
	b = append(b, b[at:len(b)-len(`,"createdDate":`)]...)
	if status != "queued" && status != "in_progress" {
		b = append(b, `,"timestamp":`...)
		b = appendTS(b, o.form, o.endsAt())
	}
	b = append(b, `,"processIds":[`...)
	for i := range o.steps {
		if i > 0 {
			b = append(b, ',')
		}
		if i == 0 {
			b = append(b, '"')
			b = append(b, o.id...)
			b = append(b, '"')
			continue
		}
		b = append(b, '"')
		b = appendUUID(b, o.steps[i].pid)
		b = append(b, '"')
	}
	b = append(b, `],"sourceTransactionId":"`...)
	b = append(b, o.id...)
	b = append(b, '"')
	b = append(b, `,"currentStep":`...)
	b = strconv.AppendInt(b, int64(cur), 10)
	return append(b, '}')
}

// appendUUID appends u in canonical lower-case form without allocating.
func appendUUID(b []byte, u [16]byte) []byte {
	const hex = "0123456789abcdef"
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, hex[c>>4], hex[c&0xf])
	}
	return b
}
