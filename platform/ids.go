package platform

import (
	"errors"
	"strconv"
	"unicode"
	"unicode/utf8"
)

// MaxIDLen is the longest id, in characters, that ValidID accepts.
const MaxIDLen = 128

// ValidID reports whether s can be an id the worker stores and asks the Transactions API about (an
// orchestrationId or a processId from a platform answer): nil when it is valid UTF-8 of 1 to
// MaxIDLen characters, none of them a control character (C0, DEL, C1), a format character
// (Unicode Cf: zero-width and bidi marks, BOM), white space (unicode.IsSpace: space, tab, line
// breaks, NBSP, U+2028…), ',' (the Transactions API's filters are comma-separated lists) or U+FFFD
// (what a JSON decoder makes of invalid UTF-8 or a lone surrogate: not the id the platform holds).
// Otherwise the error says which rule failed and at which byte offset, never echoing s.
func ValidID(s string) error {
	switch {
	case s == "":
		return errors.New("empty id")
	case !utf8.ValidString(s):
		return errors.New("id is not valid UTF-8")
	case utf8.RuneCountInString(s) > MaxIDLen:
		return errors.New("id longer than " + strconv.Itoa(MaxIDLen) + " characters")
	}
	for i, r := range s {
		var what string
		switch {
		case r == ',':
			what = "a comma"
		case unicode.IsControl(r):
			what = "a control character"
		case unicode.IsSpace(r):
			what = "white space"
		case unicode.Is(unicode.Cf, r):
			what = "a format character"
		case r == utf8.RuneError:
			what = "U+FFFD"
		default:
			continue
		}
		return errors.New("id holds " + what + " at byte " + strconv.Itoa(i))
	}
	return nil
}

// quoteID is the start of id for a message: at most 64 bytes, ASCII-escaped.
func quoteID(id string) string { return strconv.QuoteToASCII(excerpt([]byte(id), 64)) }
