// Package tally is the small projection the integration tests share: one
// document per stream holding how many events were applied and the sum of
// their "N". A count above the number of events shows an event applied
// twice; a count below, an event lost. It also folds the event store the
// same way, so a test can compare the read model with the truth.
package tally
