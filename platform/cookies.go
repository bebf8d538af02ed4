package platform

import (
	"cmp"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// Bounds of the Journey Manager client's cookie jar (SPEC §5: bounded against a hostile platform).
// A cookie that would take the jar past either is dropped, unless it is one of the session cookies
// (JSESSIONID, SESSION, XSRF-TOKEN): those evict the newest other cookies to fit. The Cookie header
// the client sends therefore never holds more than MaxJMCookies cookies nor more than
// MaxJMCookieBytes bytes.
const (
	MaxJMCookies     = 50
	MaxJMCookieBytes = 8 << 10 // names, values, paths and separators of all cookies kept
)

// jmSessionCookies are the cookies kept in preference: Spring Security's session cookie (Spring
// Session's too) and CSRF token cookie.
var jmSessionCookies = []string{"JSESSIONID", "SESSION", "XSRF-TOKEN"}

// sessionJar is the Journey Manager client's cookie jar: host-only cookies of the one host the
// client talks to (a Domain attribute must domain-match that host, and is then kept as the host's),
// RFC 6265 path matching, Max-Age and Expires honoured, Secure cookies sent over https only,
// bounded by MaxJMCookies and MaxJMCookieBytes, emptied after a 401. Safe for concurrent use.
type sessionJar struct {
	mu      sync.Mutex
	cookies []jarCookie // oldest first
	bytes   int
	seq     uint64
	now     func() time.Time
}

type jarCookie struct {
	host, name, value, path string
	quoted, secure          bool
	expires                 time.Time // zero: a session cookie
	seq                     uint64    // creation order
}

// size is what the cookie takes of MaxJMCookieBytes: "; name=value" in the header, and its path.
func (c jarCookie) size() int { return len(c.name) + len(c.value) + 3 + len(c.path) }

func newSessionJar() *sessionJar { return &sessionJar{now: time.Now} }

// SetCookies stores the cookies of an answer from u (http.CookieJar).
func (s *sessionJar) SetCookies(u *url.URL, cookies []*http.Cookie) {
	host := strings.ToLower(u.Hostname())
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for _, c := range cookies {
		if c == nil || c.Name == "" || (c.Domain != "" && !domainMatch(host, c.Domain)) {
			continue
		}
		jc := jarCookie{host: host, name: c.Name, value: c.Value, path: c.Path, quoted: c.Quoted, secure: c.Secure}
		if !strings.HasPrefix(jc.path, "/") {
			jc.path = defaultPath(u.EscapedPath())
		}
		switch {
		case c.MaxAge < 0:
			jc.expires = now // delete
		case c.MaxAge > 0:
			jc.expires = now.Add(time.Duration(c.MaxAge) * time.Second)
		case !c.Expires.IsZero():
			jc.expires = c.Expires
		}
		s.remove(func(o jarCookie) bool { return o.host == jc.host && o.name == jc.name && o.path == jc.path })
		if !jc.expires.IsZero() && !jc.expires.After(now) {
			continue
		}
		s.add(jc)
	}
}

// add keeps jc when it fits the bounds; a session cookie makes room by evicting the newest other
// cookies. s.mu is held.
func (s *sessionJar) add(jc jarCookie) {
	fits := func() bool { return len(s.cookies) < MaxJMCookies && s.bytes+jc.size() <= MaxJMCookieBytes }
	if !fits() && slices.Contains(jmSessionCookies, jc.name) {
		for i := len(s.cookies) - 1; i >= 0 && !fits(); i-- {
			if o := s.cookies[i]; !slices.Contains(jmSessionCookies, o.name) {
				s.bytes -= o.size()
				s.cookies = slices.Delete(s.cookies, i, i+1)
			}
		}
	}
	if !fits() {
		return // dropped
	}
	s.seq++
	jc.seq = s.seq
	s.cookies = append(s.cookies, jc)
	s.bytes += jc.size()
}

// remove drops the cookies matching drop. s.mu is held.
func (s *sessionJar) remove(drop func(jarCookie) bool) {
	s.cookies = slices.DeleteFunc(s.cookies, func(c jarCookie) bool {
		if drop(c) {
			s.bytes -= c.size()
			return true
		}
		return false
	})
}

// Cookies returns the cookies to send to u (http.CookieJar): longest path first, then oldest.
func (s *sessionJar) Cookies(u *url.URL) []*http.Cookie {
	host := strings.ToLower(u.Hostname())
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.remove(func(c jarCookie) bool { return !c.expires.IsZero() && !c.expires.After(now) })
	var sel []jarCookie
	for _, c := range s.cookies {
		if c.host == host && pathMatch(path, c.path) && (!c.secure || u.Scheme == "https") {
			sel = append(sel, c)
		}
	}
	slices.SortStableFunc(sel, func(a, b jarCookie) int {
		if len(a.path) != len(b.path) {
			return len(b.path) - len(a.path)
		}
		return cmp.Compare(a.seq, b.seq)
	})
	out := make([]*http.Cookie, len(sel))
	for i, c := range sel {
		out[i] = &http.Cookie{Name: c.name, Value: c.value, Quoted: c.quoted}
	}
	return out
}

// reset forgets every cookie (after a 401: the session is gone).
func (s *sessionJar) reset() {
	s.mu.Lock()
	s.cookies, s.bytes = nil, 0
	s.mu.Unlock()
}

// xsrf returns the XSRF-TOKEN cookie's value for u, or "".
func (s *sessionJar) xsrf(u *url.URL) string {
	for _, c := range s.Cookies(u) {
		if c.Name == "XSRF-TOKEN" {
			return c.Value
		}
	}
	return ""
}

// domainMatch reports whether host domain-matches a Domain attribute (RFC 6265 §5.1.3).
func domainMatch(host, domain string) bool {
	domain = strings.ToLower(strings.TrimPrefix(domain, "."))
	return host == domain || strings.HasSuffix(host, "."+domain) && !strings.Contains(host, ":")
}

// defaultPath is RFC 6265 §5.1.4's default-path of a request path.
func defaultPath(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i <= 0 {
		return "/"
	}
	return p[:i]
}

// pathMatch is RFC 6265 §5.1.4's path-match.
func pathMatch(reqPath, cookiePath string) bool {
	if reqPath == cookiePath {
		return true
	}
	return strings.HasPrefix(reqPath, cookiePath) && (strings.HasSuffix(cookiePath, "/") || reqPath[len(cookiePath)] == '/')
}
