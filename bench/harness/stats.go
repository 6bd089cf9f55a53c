package harness

import (
	"math"
	"slices"
	"time"
)

// Spread is the median of a figure over the repetitions, with its min and
// max.
type Spread struct {
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
}

func spreadOf(xs []float64) Spread {
	if len(xs) == 0 {
		return Spread{Median: math.NaN(), Min: math.NaN(), Max: math.NaN()}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return Spread{Median: median(s), Min: s[0], Max: s[len(s)-1]}
}

// median of sorted values; the mean of the middle two for an even count.
func median(sorted []float64) float64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

// repFigures is what one measurement leaves once its latencies are
// summarised.
type repFigures struct {
	rate           float64
	p50, p99, p999 float64 // milliseconds
	cost           Cost
	extra          map[string]float64
}

func summarise(s Sample) repFigures {
	lat := slices.Clone(s.Latencies)
	slices.Sort(lat)
	return repFigures{
		rate:  s.Rate(),
		p50:   ms(percentile(lat, 0.50)),
		p99:   ms(percentile(lat, 0.99)),
		p999:  ms(percentile(lat, 0.999)),
		cost:  s.Cost,
		extra: s.Extra,
	}
}

// percentile returns the nearest-rank q-quantile of sorted durations.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
