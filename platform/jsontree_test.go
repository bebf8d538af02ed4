package platform

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
)

// referenceTree is the reader readTree replaced: encoding/json's Decoder.Token, one token at a
// time. It is the oracle of FuzzReadTree.
func referenceTree(raw []byte) (*node, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	r := &refReader{dec: dec, raw: raw}
	n, err := r.value(0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data after the JSON value")
	}
	return n, nil
}

type refReader struct {
	dec *json.Decoder
	raw []byte
}

// token returns the next token and the raw bytes it came from (with leading separators).
func (r *refReader) token() (json.Token, []byte, error) {
	start := r.dec.InputOffset()
	tok, err := r.dec.Token()
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, nil, err
	}
	return tok, r.raw[start:r.dec.InputOffset()], nil
}

func (r *refReader) value(depth int) (*node, error) {
	tok, src, err := r.token()
	if err != nil {
		return nil, err
	}
	return r.fromToken(tok, src, depth)
}

func (r *refReader) fromToken(tok json.Token, src []byte, depth int) (*node, error) {
	switch v := tok.(type) {
	case nil:
		return &node{kind: kindNull}, nil
	case bool:
		return &node{kind: kindBool, boolean: v}, nil
	case json.Number:
		return &node{kind: kindNumber, text: string(v)}, nil
	case string:
		return &node{kind: kindString, text: v, bad: literalProblem(src)}, nil
	case json.Delim:
		if depth >= maxDepth {
			return nil, fmt.Errorf("nested deeper than %d levels", maxDepth)
		}
		if v == '{' {
			return r.object(depth + 1)
		}
		if v == '[' {
			return r.array(depth + 1)
		}
	}
	return nil, fmt.Errorf("unexpected %v", tok)
}

func (r *refReader) object(depth int) (*node, error) {
	n := &node{kind: kindObject}
	for {
		tok, src, err := r.token()
		if err != nil {
			return nil, err
		}
		if tok == json.Delim('}') {
			return n, nil
		}
		key, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("unexpected %v", tok)
		}
		val, err := r.value(depth)
		if err != nil {
			return nil, err
		}
		n.members = append(n.members, member{key: key, keyBad: literalProblem(src), val: val})
	}
}

func (r *refReader) array(depth int) (*node, error) {
	n := &node{kind: kindArray}
	for {
		tok, src, err := r.token()
		if err != nil {
			return nil, err
		}
		if tok == json.Delim(']') {
			return n, nil
		}
		val, err := r.fromToken(tok, src, depth)
		if err != nil {
			return nil, err
		}
		n.elems = append(n.elems, val)
	}
}

// FuzzReadTree: readTree and the Decoder-based reader it replaced agree on
// every input: both refuse it, or both read the same tree (strings decoded
// alike, the same UTF-8 and surrogate problems, the same depth limit).
func FuzzReadTree(f *testing.F) {
	for _, s := range []string{
		`{"securityId":"USS3JKS01I00","signer":{"email":"j@example.com","name":"J"}}`,
		`{"a":[1,-2.5e+3,true,false,null,"x",{"b":[]}],"c":{}}`,
		"{\"k\":\"\xff\",\"\xfe\":1}",
		`{"k":"\ud800","l":"\ud83d\ude00","m":"\u00e9\n\t\"\\\/"}`,
		` [ 1 , 2 ] `, `"only a string"`, `12`, `{"a":1} {}`, `{"a":}`, `{"a":1,"a":2}`,
		strings.Repeat("[", 40) + strings.Repeat("]", 40),
		strings.Repeat(`{"a":`, 31) + "1" + strings.Repeat("}", 31),
		strings.Repeat(`{"a":`, 32) + "1" + strings.Repeat("}", 32),
		"{\"\u00e9t\u00e9\":\"caf\u00e9\",\"na\u00efve\":\"\xc3\xa9\"}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, err := readTree(raw)
		want, wantErr := referenceTree(raw)
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("readTree error %v, reference %v", err, wantErr)
		}
		if err == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("trees differ:\n%s\n%s", dumpTree(got), dumpTree(want))
		}
		if err != nil && json.Valid(raw) && err.Error() != wantErr.Error() {
			t.Fatalf("valid JSON refused for another reason: %v, reference %v", err, wantErr)
		}
	})
}

func dumpTree(n *node) string {
	if n == nil {
		return "<nil>"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %q %v bad=%q", n.kind, n.text, n.boolean, n.bad)
	for _, m := range n.members {
		fmt.Fprintf(&b, " [%q bad=%q: %s]", m.key, m.keyBad, dumpTree(m.val))
	}
	for _, e := range n.elems {
		fmt.Fprintf(&b, " [%s]", dumpTree(e))
	}
	return b.String()
}

// BenchmarkReadTree reads a reject-asset command's params.
func BenchmarkReadTree(b *testing.B) {
	raw := []byte(`{"assetId":"lot-42","isAssetCorrelationId":false,"pageNumber":1,"pageSize":20,` +
		`"transactionData":{"securityId":"USS3JKS01I00","extraData":{"reason":"KYC refresh failed","ticket":"OPS-4711"}},` +
		`"rejectReason":{"code":"KYC","text":"caf\u00e9 r\u00e9sum\u00e9"}}`)
	for _, tc := range []struct {
		name string
		read func([]byte) (*node, error)
	}{{"scan", readTree}, {"decoder", referenceTree}} {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := tc.read(raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// FuzzMembers: Members agrees with encoding/json on every valid JSON
// value: the names in document order as a Decoder reads them, each value as
// written, and ok exactly for objects; StringValue decodes every string
// member's value as encoding/json does.
func FuzzMembers(f *testing.F) {
	for _, s := range []string{
		`{"commandId":"c1","params":{"securityId":"S","n":[1,{"a":"}"}]},"deadline":"2026-11-21T12:00:00Z"}`,
		`{"params":{},"params":null, "x" : 1.5e3 ,"y":true,"z":"\"\\"}`,
		"{\"\xff\":\"\xfe\",\"\\ud800\":\"\\udc00x\"}",
		`[1,2]`, `"s"`, `null`, `{}`, ` { } `,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if !json.Valid(raw) {
			return
		}
		got, ok := Members(raw)
		dec := json.NewDecoder(bytes.NewReader(raw))
		tok, _ := dec.Token()
		if ok != (tok == json.Delim('{')) {
			t.Fatalf("ok %v for a value starting with %v", ok, tok)
		}
		if !ok {
			return
		}
		i := 0
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				t.Fatal(err)
			}
			var val json.RawMessage
			if err := dec.Decode(&val); err != nil {
				t.Fatal(err)
			}
			if i >= len(got) || got[i].Name != tok.(string) || !bytes.Equal(got[i].Value, val) {
				t.Fatalf("member %d: got %+v, want %q: %s", i, got[min(i, len(got)-1)], tok, val)
			}
			var want string
			if val[0] == '"' && json.Unmarshal(val, &want) == nil {
				s, _, isString := StringValue(got[i].Value)
				if !isString || s != want {
					t.Fatalf("StringValue(%s) = %q, %v; want %q", val, s, isString, want)
				}
			}
			i++
		}
		if i != len(got) {
			t.Fatalf("%d members, want %d", len(got), i)
		}
	})
}
