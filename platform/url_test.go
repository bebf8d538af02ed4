package platform

import (
	"strings"
	"testing"
)

func TestCheckURL(t *testing.T) {
	cases := []struct {
		raw  string
		want []string // a substring of each problem, in order
	}{
		{"https://api.example.com", nil},
		{"http://127.0.0.1:8080/base/", nil},
		{"", []string{"required"}},
		{"://bad", []string{"not a valid URL"}},
		{"ftp://api.example.com", []string{"not an http(s) URL"}},
		{"/relative/path", []string{"not an http(s) URL"}},
		{"https://user:s3cret@api.example.com", []string{"credentials"}},
		{"https://api.example.com/?token=s3cret", []string{"query or fragment"}},
		{"https://api.example.com/?", []string{"query or fragment"}},
		{"https://api.example.com/#s3cret", []string{"query or fragment"}},
		{"https://api.example.com/#", []string{"query or fragment"}},
		{"https://user:s3cret@api.example.com/?q=s3cret#s3cret", []string{"credentials", "query or fragment"}},
	}
	for _, c := range cases {
		got := CheckURL(c.raw)
		if len(got) != len(c.want) {
			t.Errorf("CheckURL(%q) = %q, want %d problems", c.raw, got, len(c.want))
			continue
		}
		for i, w := range c.want {
			if !strings.Contains(got[i], w) {
				t.Errorf("CheckURL(%q)[%d] = %q, want it to say %q", c.raw, i, got[i], w)
			}
			if strings.Contains(got[i], "s3cret") {
				t.Errorf("CheckURL(%q)[%d] = %q echoes a secret", c.raw, i, got[i])
			}
		}
	}
}
