package readmodeltest

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/eventfold/eventfold/readmodel"
)

// Features declares the optional capabilities of the store under test
// (see readmodel.As). The suite checks every declared feature and fails
// when the store lacks one; it fails, naming the field, when the store has
// a capability that is not declared; and it logs each area it skips
// because its feature is not declared.
type Features struct {
	// Partitioned declares readmodel.Partitioner: the store spreads each
	// namespace over partitions, as readmodel.Partitioned does, and
	// commits a batch atomically per partition only. The tests that
	// readers never see part of a batch then write documents of one
	// partition, and the suite checks where documents are placed.
	Partitioned bool
}

// capabilities lists every optional capability of the port with the
// feature that declares it. A new capability adds one line here and its
// tests to featureTests.
var capabilities = []struct {
	field, iface string
	declared     func(Features) bool
	has          func(readmodel.Store) bool
}{
	{"Partitioned", "readmodel.Partitioner", func(f Features) bool { return f.Partitioned }, has[readmodel.Partitioner]},
}

func has[T any](s readmodel.Store) bool {
	_, ok := readmodel.As[T](s)
	return ok
}

// checkFeatures compares what cfg declares with what a fresh store has.
func checkFeatures(t *testing.T, cfg Config) {
	s := cfg.New(t)
	for _, c := range capabilities {
		declared, has := c.declared(cfg.Features), c.has(s)
		switch {
		case declared && !has:
			t.Errorf("readmodeltest: Features.%s is declared but %T has no %s", c.field, s, c.iface)
		case !declared && has:
			t.Errorf("readmodeltest: %T has %s but Features.%s is not declared; declare it so that the suite checks it", s, c.iface, c.field)
		case !declared:
			t.Logf("readmodeltest: Features.%s not declared: %s not checked", c.field, c.iface)
		}
	}
}

// featureTests are the tests of each feature, run when it is declared.
func featureTests(f Features) []suiteTest {
	var tests []suiteTest
	if f.Partitioned {
		tests = append(tests,
			suiteTest{"Partitioned/Placement", testPartitionPlacement},
			suiteTest{"Partitioned/ChosenByTheStore", testPartitionChosenByTheStore})
	}
	return tests
}

// partitioner returns the Partitioner of s, failing the test when s has
// none.
func partitioner(t *testing.T, s readmodel.Store) readmodel.Partitioner {
	t.Helper()
	p, ok := readmodel.As[readmodel.Partitioner](s)
	if !ok {
		t.Fatalf("%T has no readmodel.Partitioner", s)
	}
	return p
}

// testPartitionPlacement checks that Partition keeps the namespace's
// fields, names a partition, gives one document one partition, and spreads
// documents over every partition.
func testPartitionPlacement(t *testing.T, cfg Config) {
	p := partitioner(t, cfg.New(t))
	if p.Partitions() < 1 {
		t.Fatalf("Partitions() = %d, want at least 1", p.Partitions())
	}
	n := readmodel.Namespace{Projection: "spread", Version: "v1", Tenant: "t1"}
	used := map[string]bool{}
	for i := range 64 * p.Partitions() {
		id := fmt.Sprint("doc-", i)
		got := p.Partition(n, id)
		if got.Partition == "" || got.Projection != n.Projection || got.Version != n.Version || got.Tenant != n.Tenant {
			t.Fatalf("Partition(%v, %q) = %v; want %v with a partition", n, id, got, n)
		}
		if again := p.Partition(n, id); again != got {
			t.Fatalf("Partition(%v, %q) = %v, then %v", n, id, got, again)
		}
		used[got.Partition] = true
	}
	if len(used) != p.Partitions() {
		t.Errorf("%d documents are placed in %d partitions, want all %d", 64*p.Partitions(), len(used), p.Partitions())
	}
}

// testPartitionChosenByTheStore checks that a namespace naming a partition
// is refused, read or written, as the store chooses partitions itself.
func testPartitionChosenByTheStore(t *testing.T, cfg Config) {
	s := cfg.New(t)
	ctx := context.Background()
	n := ns("spread")
	n.Partition = partitioner(t, s).Partition(n, "a").Partition
	if _, err := s.Apply(ctx, n, readmodel.Batch{Writes: []write{put("a", 1, "x")}}); !errors.Is(err, readmodel.ErrInvalidInput) {
		t.Errorf("Apply(%v) = %v, want ErrInvalidInput", n, err)
	}
	if _, err := s.Get(ctx, n, "a"); !errors.Is(err, readmodel.ErrInvalidInput) {
		t.Errorf("Get(%v) = %v, want ErrInvalidInput", n, err)
	}
	if _, err := s.Query(ctx, n, readmodel.All("ix")); !errors.Is(err, readmodel.ErrInvalidInput) {
		t.Errorf("Query(%v) = %v, want ErrInvalidInput", n, err)
	}
}
