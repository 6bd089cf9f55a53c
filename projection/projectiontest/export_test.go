package projectiontest

import "time"

// SetVisibility shortens the wait for events to become visible, for tests
// that expect a check to fail.
func SetVisibility(d time.Duration) (restore func()) {
	old := visibility
	visibility = d
	return func() { visibility = old }
}
