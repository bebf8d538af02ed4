package metrics_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"go.yaml.in/yaml/v3"
)

// Helpers for reading the YAML and JSON documents of deploy/ as plain trees.

// deployDir is deploy/ seen from this package.
const deployDir = "../deploy"

// doc is one decoded YAML or JSON document.
type doc = map[string]any

// readDocs decodes every document of a YAML stream (JSON is YAML too); empty
// documents are skipped.
func readDocs(data []byte) ([]doc, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []doc
	for i := 1; ; i++ {
		var d doc
		err := dec.Decode(&d)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		if d != nil {
			docs = append(docs, d)
		}
	}
}

func readDocsFile(t *testing.T, path string) []doc {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	docs, err := readDocs(data)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return docs
}

// at walks a path of map keys and list indexes; nil when anything is missing.
func at(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func str(v any, path ...any) string {
	s, _ := at(v, path...).(string)
	return s
}

func list(v any, path ...any) []any {
	l, _ := at(v, path...).([]any)
	return l
}

func obj(v any, path ...any) map[string]any {
	m, _ := at(v, path...).(map[string]any)
	return m
}

// find returns the documents of a kind, and with a name if name is not "".
func find(docs []doc, kind, name string) []doc {
	var out []doc
	for _, d := range docs {
		if str(d, "kind") == kind && (name == "" || str(d, "metadata", "name") == name) {
			out = append(out, d)
		}
	}
	return out
}

// findOne fails the test unless exactly one document matches.
func findOne(t *testing.T, docs []doc, kind, name string) doc {
	t.Helper()
	found := find(docs, kind, name)
	if len(found) != 1 {
		t.Fatalf("%d %s %q, want 1", len(found), kind, name)
	}
	return found[0]
}

// prometheusRuleSpec returns the spec of deploy/base/prometheusrule.yaml.
func prometheusRuleSpec(t *testing.T) doc {
	t.Helper()
	docs := readDocsFile(t, filepath.Join(deployDir, "base", "prometheusrule.yaml"))
	return obj(findOne(t, docs, "PrometheusRule", "txworker"), "spec")
}

// rules returns every rule of a rules-file tree (groups → rules).
func rules(spec doc) []map[string]any {
	var out []map[string]any
	for _, g := range list(spec, "groups") {
		for _, r := range list(g, "rules") {
			if m, ok := r.(map[string]any); ok {
				out = append(out, m)
			}
		}
	}
	return out
}

// dashboard returns the dashboard JSON of deploy/base/dashboards.
func dashboard(t *testing.T) (doc, []byte) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(deployDir, "base", "dashboards", "txworker.json"))
	if err != nil {
		t.Fatal(err)
	}
	docs, err := readDocs(raw)
	if err != nil || len(docs) != 1 {
		t.Fatalf("dashboard: %d documents, %v", len(docs), err)
	}
	return docs[0], raw
}

// dashboardExprs returns every PromQL expression of the dashboard's panels,
// keyed "panel <id> <refId>".
func dashboardExprs(d doc) map[string]string {
	out := map[string]string{}
	for _, p := range list(d, "panels") {
		for _, tg := range list(p, "targets") {
			if e := str(tg, "expr"); e != "" {
				out[fmt.Sprintf("panel %v %s", at(p, "id"), str(tg, "refId"))] = e
			}
		}
	}
	return out
}

// writeYAML marshals v into path.
func writeYAML(t *testing.T, path string, v any) {
	t.Helper()
	data, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
