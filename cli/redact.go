package cli

import (
	"regexp"
	"strings"
)

// redacted stands for a password in messages.
const redacted = "xxxxx"

var (
	// keyValuePassword matches the password of a key/value connection
	// string (host=db password='a b'), quoted or not, even unterminated.
	keyValuePassword = regexp.MustCompile(`(?i)\bpassword\s*=\s*('(?:[^'\\]|\\.)*'?|\S*)`)
	// queryPassword matches a password given as a URL query parameter
	// (postgres://db/app?password=...).
	queryPassword = regexp.MustCompile(`(?i)([?&]password=)[^&#]*`)
)

// Redact returns connString, a PostgreSQL, Redis or NATS connection string
// in URL form (scheme://user:password@host/...) or in PostgreSQL's
// key/value form (host=db password=...), with every password replaced by
// "xxxxx". It works on strings that do not parse, so that an error about a
// malformed connection string can quote it. Strings without a password are
// returned unchanged.
func Redact(connString string) string {
	scheme := strings.Index(connString, "://")
	if scheme < 0 {
		return keyValuePassword.ReplaceAllString(connString, "password="+redacted)
	}
	s := connString
	// The user information ends at the last '@' before the path; a
	// password may itself hold '@' or '/', so look for the last '@'.
	if at := strings.LastIndex(s, "@"); at > scheme {
		userinfo := s[scheme+3 : at]
		if colon := strings.IndexByte(userinfo, ':'); colon >= 0 {
			s = s[:scheme+3] + userinfo[:colon+1] + redacted + s[at:]
		}
	}
	return queryPassword.ReplaceAllString(s, "${1}"+redacted)
}
