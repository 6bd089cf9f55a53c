// Command bench runs eventfold's benchmark scenarios (docs/performance.md)
// against the PostgreSQL and Redis servers of this machine and prints one
// table row per scenario, cell and baseline: eventfold's figure, the
// baseline's figure from the same run, and their ratio. It also writes the
// report as JSON.
//
// Usage:
//
//	go run . [-quick] [-json results.json] [-run regexp] [-reps n] [-window d] [-warmup d] [-cpuprofile file]
//
// Full mode (the default) measures each contender of each cell for 10 s
// after a 1 s warm-up, 3 times in rep-major order. Quick mode (-quick)
// measures once for 0.3 s after 0.1 s, which is enough to see that every
// scenario runs; its figures are not worth comparing.
//
// Each run works in PostgreSQL schemas of its own, created at the start and
// dropped at the end, and in Redis keys under a prefix of its own. The
// servers come from -postgres and -redis, which default to
// EVENTFOLD_TEST_POSTGRES_URL and EVENTFOLD_TEST_REDIS_URL, then to the
// services of scripts/services.sh. Scenario 9 starts a PostgreSQL primary
// and hot standby of its own, from the binaries internal/testenv.PGStandby
// uses. See docs/performance.md.
package main
