package command

import "testing"

// FuzzParseSealedSnapshot: a corrupt snapshot is an error, never a panic.
func FuzzParseSealedSnapshot(f *testing.F) {
	f.Add([]byte(sealedSnapshotMagic))
	f.Add([]byte(sealedSnapshotMagic + "\x01\x03c-1\x00state"))
	f.Add([]byte(sealedSnapshotMagic + "\xff\xff\xff\xff\x0f"))
	f.Add([]byte(`{"ID":"c-1"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := parseSealedSnapshot(data)
		if err == nil && len(s.body) > len(data) {
			t.Fatalf("body of %d bytes from %d bytes", len(s.body), len(data))
		}
	})
}
