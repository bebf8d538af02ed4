package platformtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
)

// Corastone codes the simulator answers with (see the package documentation for when).
const (
	codePayload    = "GN0002"
	codeToken      = "AU0001"
	codeScope      = "AU0002"
	codeNotFound   = "IS0009"
	codeNotRestr   = "IS0010"
	codeStatus     = "IS0012"
	codeRestricted = "IS0013"
	codeContingent = "IS0031"
	codeRole       = "IS0099"
	codeOrg        = "OG0001"
	codeNotAssign  = "SP0004"
	codeUnassigned = "SP0005"
	codeAsset      = "AS0005"
)

const (
	msgPayload = "The payload you have supplied is invalid."
	msgToken   = "The access token is invalid or missing. Please provide a valid access token issued by the OAuth server using the client credentials grant (default location is on the authorization header)."
)

// maxBody caps request bodies; a larger one is an invalid payload.
const maxBody = 1 << 20

type errorDetail struct {
	Code    string   `json:"code"`
	Message string   `json:"message"`
	Type    string   `json:"type"`
	Reason  []string `json:"reason,omitempty"`
}

// coraError is a Corastone error answer:
// {"errorDetails":[{"code":…,"message":…,"type":…,"reason":[…]}]}.
func coraError(status int, code, message string, reason ...string) reply {
	typ := "businessRuleValidations"
	if strings.HasPrefix(code, "GN") || strings.HasPrefix(code, "AU") {
		typ = "technicalValidations"
	}
	body, err := json.Marshal(struct {
		ErrorDetails []errorDetail `json:"errorDetails"`
	}{[]errorDetail{{Code: code, Message: message, Type: typ, Reason: reason}}})
	if err != nil { // cannot happen: strings only
		return plain(http.StatusInternalServerError)
	}
	return reply{status: status, body: body}
}

func badPayload(reason ...string) reply {
	return coraError(http.StatusBadRequest, codePayload, msgPayload, reason...)
}

func securityNotFound(id string) reply {
	return coraError(http.StatusNotFound, codeNotFound, fmt.Sprintf("Security '%s' was not found.", id))
}

func wrongStatus(id, current string, allowed []string) reply {
	return coraError(http.StatusConflict, codeStatus, fmt.Sprintf(
		"Security '%s' is in invalid state for the current action. Current status: '%s'. Required status: '%s'",
		id, current, strings.Join(allowed, ",")))
}

func wrongRole(id string, required, current []string) reply {
	return coraError(http.StatusForbidden, codeRole, fmt.Sprintf(
		"You do not have the role for this action on security '%s'. Required roles: '%s'; current roles: '%s'",
		id, strings.Join(required, ","), strings.Join(current, ",")))
}

func wrongAssetStatus(id, current string, allowed []string) reply {
	return coraError(http.StatusConflict, codeAsset, fmt.Sprintf(
		"Asset '%s' is in invalid state for the current action. Current status: '%s'. Required status: '%s'",
		id, current, strings.Join(allowed, ",")))
}

// jmError is a Journey Manager error answer: {"error":key,"message":…}.
func jmError(status int, key, message string) reply {
	body, err := json.Marshal(struct {
		Error   string `json:"error"`
		Message string `json:"message"`
	}{key, message})
	if err != nil {
		return plain(http.StatusInternalServerError)
	}
	return reply{status: status, body: body}
}

// isJSON reports whether a Content-Type header names application/json.
func isJSON(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "application/json"
}

// readBody reads at most maxBody bytes of the request body.
func readBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	if len(b) > maxBody {
		return nil, errors.New("body larger than 1 MiB")
	}
	return b, nil
}

// decodeStrict decodes exactly one JSON value into v, refusing unknown fields at any depth of
// v's struct types and anything after the value.
func decodeStrict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("unexpected data after the JSON value")
	}
	return nil
}
