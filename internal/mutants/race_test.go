//go:build race

package mutants_test

func init() { raceEnabled = true }
