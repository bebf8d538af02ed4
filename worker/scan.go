package worker

import (
	"bytes"
	"strings"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// scanLimit bounds the bytes scanCommandID reads: the commands stream
// refuses messages over 1 MiB.
const scanLimit = 1 << 20

// scanCommandID reads the commandId member of a top-level JSON object
// without decoding the rest: for a body too large or too deep (or otherwise
// malformed) to decode, so that its rejection still carries the producer's
// id. It reads at most scanLimit bytes, one pass, no recursion: nested
// values are skipped by counting brackets, however deep. As with the
// decoder the last commandId counts; an id that breaks SPEC §3's rules is
// not used. found reports that a commandId member was read.
func scanCommandID(body []byte) (id string, found bool) {
	b := body[:min(len(body), scanLimit)]
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return "", false
	}
	i++
	for {
		i = skipSpace(b, i)
		for i < len(b) && b[i] == ',' {
			i = skipSpace(b, i+1)
		}
		if i >= len(b) || b[i] != '"' {
			return id, found
		}
		end := stringEnd(b, i)
		if end < 0 {
			return id, found
		}
		key := b[i:end]
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return id, found
		}
		i = skipSpace(b, i+1)
		if isCommandIDKey(key) {
			found = true
			id = ""
			if i < len(b) && b[i] == '"' {
				vend := stringEnd(b, i)
				if vend < 0 {
					return id, found
				}
				if s, problem := stringField(b[i:vend]); problem == "" && checkCommandID(s) == "" {
					id = s
				}
				i = vend
				continue
			}
		}
		if i = skipValue(b, i); i < 0 {
			return id, found
		}
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// stringEnd returns the index after the string literal starting at b[i]
// (a quote), or -1 when it does not end.
func stringEnd(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return -1
}

// skipValue returns the index after the JSON value starting at b[i], or
// -1 when it does not end; arrays and objects are skipped by counting
// brackets, not by recursion.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				if j = stringEnd(b, j); j < 0 {
					return -1
				}
				j-- // the loop's j++ moves past the string
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	}
	j := i
	for j < len(b) && !strings.ContainsRune(",}] \t\n\r", rune(b[j])) {
		j++
	}
	if j == i {
		return -1
	}
	return j
}

// isCommandIDKey reports whether a member name literal is "commandId",
// escapes decoded as encoding/json decodes them.
func isCommandIDKey(lit []byte) bool {
	if string(lit) == `"commandId"` {
		return true
	}
	if len(lit) > 64 || !bytes.ContainsRune(lit, '\\') {
		return false
	}
	var k string
	return json.Unmarshal(lit, &k, jsontext.AllowInvalidUTF8(true)) == nil && k == "commandId"
}
