package platform

import (
	"fmt"
	"net/url"
	"strings"
)

// CheckURL returns what is wrong with raw as a platform or token URL, every
// problem at once, or nil: it must be an absolute http or https URL with a
// host, and hold no credentials, query or fragment (SPEC §6). A problem
// names the URL without its user part, query and fragment, which may hold
// secrets; a URL that does not parse is not echoed at all.
func CheckURL(raw string) []string {
	if raw == "" {
		return []string{"required"}
	}
	u, err := url.Parse(raw)
	if err != nil {
		return []string{"not a valid URL"}
	}
	shown := u.Scheme + "://" + u.Host + u.EscapedPath()
	if u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return []string{fmt.Sprintf("%q is not an http(s) URL", shown)}
	}
	var problems []string
	if u.User != nil {
		problems = append(problems, fmt.Sprintf("%q must not hold credentials (user:password@)", shown))
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(raw, "#") {
		problems = append(problems, fmt.Sprintf("%q must not hold a query or fragment", shown))
	}
	return problems
}
