package eventstore

import (
	"crypto/rand"
	"encoding/hex"
	"sync"
	"time"
)

// NewEventID returns a new random, time-ordered UUID (version 7) in canonical
// text form. Stores call it for events appended without an ID; callers that
// want idempotent retries set Event.ID themselves, once, before the first try.
func NewEventID() string {
	var u [16]byte
	ms := uint64(monotonicMillis())
	u[0], u[1], u[2], u[3], u[4], u[5] = byte(ms>>40), byte(ms>>32), byte(ms>>24), byte(ms>>16), byte(ms>>8), byte(ms)
	_, _ = rand.Read(u[6:]) // crypto/rand.Read never fails on supported platforms
	u[6] = u[6]&0x0f | 0x70 // version 7
	u[8] = u[8]&0x3f | 0x80 // RFC 9562 variant
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return string(b[:])
}

var clock struct {
	sync.Mutex
	last int64
}

// monotonicMillis keeps IDs from one process from going backwards when the
// wall clock does.
func monotonicMillis() int64 {
	now := time.Now().UnixMilli()
	clock.Lock()
	defer clock.Unlock()
	if now < clock.last {
		now = clock.last
	}
	clock.last = now
	return now
}

// IsEventID reports whether s is a UUID in canonical lowercase or uppercase
// hexadecimal form (8-4-4-4-12).
func IsEventID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}
