package domain

import (
	"fmt"
	"regexp"
	"unicode/utf8"
)

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)

// ValidID reports whether id can name an account or a transfer: 1 to 64
// letters, digits, '-' or '_', starting with a letter or digit.
func ValidID(id string) bool { return idPattern.MatchString(id) }

func validID(field, id string) error {
	if !ValidID(id) {
		return fmt.Errorf("%s %q: want 1 to 64 letters, digits, '-' or '_'", field, id)
	}
	return nil
}

func validText(field, s string) error {
	n := utf8.RuneCountInString(s)
	if !utf8.ValidString(s) || n == 0 || n > 100 {
		return fmt.Errorf("%s: want 1 to 100 characters of valid UTF-8", field)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%s: control characters are not allowed", field)
		}
	}
	return nil
}

func validAmount(amount int64) error {
	if amount <= 0 || amount > MaxAmount {
		return fmt.Errorf("amount %d: want 1 to %d cents", amount, int64(MaxAmount))
	}
	return nil
}

func validLimit(field string, v int64) error {
	if v < 0 || v > MaxAmount {
		return fmt.Errorf("%s %d: want 0 to %d cents", field, v, int64(MaxAmount))
	}
	return nil
}
