package platform

import (
	"errors"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxOrchestrationIDLen is the longest orchestrationId, in characters, that the worker tracks.
const MaxOrchestrationIDLen = 128

// CheckOrchestrationID reports whether id is an orchestrationId the Transactions API can be asked
// about: 1–128 characters of valid UTF-8, no control character, no white space and no `,` (the
// separator of orchestrationIdsFilter). The error names the problem; it quotes at most the id's
// first 64 bytes, escaped.
func CheckOrchestrationID(id string) error {
	switch n := utf8.RuneCountInString(id); {
	case id == "":
		return errors.New("orchestrationId is empty")
	case !utf8.ValidString(id):
		return errors.New("orchestrationId is not valid UTF-8")
	case n > MaxOrchestrationIDLen:
		return errors.New("orchestrationId has " + strconv.Itoa(n) + " characters, more than " +
			strconv.Itoa(MaxOrchestrationIDLen))
	}
	if i := strings.IndexFunc(id, unicode.IsControl); i >= 0 {
		return errors.New("orchestrationId contains a control character at byte " + strconv.Itoa(i) + ": " + quoteID(id))
	}
	if i := strings.IndexFunc(id, unicode.IsSpace); i >= 0 {
		return errors.New("orchestrationId contains white space at byte " + strconv.Itoa(i) + ": " + quoteID(id))
	}
	if i := strings.IndexByte(id, ','); i >= 0 {
		return errors.New("orchestrationId contains ',' at byte " + strconv.Itoa(i) + ": " + quoteID(id))
	}
	return nil
}

// quoteID is the start of id for a message: at most 64 bytes, ASCII-escaped.
func quoteID(id string) string { return strconv.QuoteToASCII(excerpt([]byte(id), 64)) }
