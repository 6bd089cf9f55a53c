package commandtest_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/eventfold/eventfold/command"
	"github.com/eventfold/eventfold/command/commandtest"
)

type (
	Added        struct{ N int }
	Add          struct{ N int }
	Unregistered struct{ N int }
)

var errNegative = errors.New("negative")

var adder = command.Decider[int, Add, any]{
	Evolve: func(s int, e any) int {
		if a, ok := e.(Added); ok {
			return s + a.N
		}
		return s
	},
	Decide: func(c Add, s int) ([]any, error) {
		switch {
		case c.N < 0:
			return nil, errNegative
		case c.N == 0:
			return nil, nil
		case c.N == 99:
			return []any{Unregistered{N: 1}}, nil
		}
		return []any{Added{N: c.N}}, nil
	},
}

// recorder captures failures instead of failing the test.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func TestScenarioPasses(t *testing.T) {
	commandtest.For(t, adder).Given(Added{N: 1}).When(Add{N: 2}).Then(Added{N: 2})
	commandtest.For(t, adder).When(Add{N: 0}).Then()
	commandtest.For(t, adder).Given(Added{N: 1}, Added{N: 2}).When(Add{N: 4}).ThenState(7)
	commandtest.For(t, adder).When(Add{N: -1}).ThenError(errNegative)
}

func TestScenarioFailures(t *testing.T) {
	reg := command.NewRegistry(nil)
	if err := command.Register[Added](reg, "Added", nil); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		run  func(tb testing.TB)
		want string
	}{
		{"wrong events", func(tb testing.TB) { commandtest.For(tb, adder).When(Add{N: 2}).Then(Added{N: 3}) }, "Added{N: 3}"},
		{"unexpected error", func(tb testing.TB) { commandtest.For(tb, adder).When(Add{N: -1}).Then(Added{N: 3}) }, "got error negative, want 1 event(s)"},
		{"no error", func(tb testing.TB) { commandtest.For(tb, adder).When(Add{N: 1}).ThenError(errNegative) }, "got 1 event(s) and no error, want error negative"},
		{"other error", func(tb testing.TB) { commandtest.For(tb, adder).When(Add{N: -1}).ThenError(errors.New("x")) }, "got error negative, want error x"},
		{"wrong state", func(tb testing.TB) { commandtest.For(tb, adder).Given(Added{N: 1}).When(Add{N: 1}).ThenState(3) }, "state mismatch"},
		{"unregistered", func(tb testing.TB) {
			commandtest.For(tb, adder).WithRegistry(reg).When(Add{N: 99}).Then(Unregistered{N: 1})
		}, "is not a registered event type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &recorder{TB: t}
			tt.run(r)
			if len(r.errs) == 0 {
				t.Fatalf("scenario passed, want a failure containing %q", tt.want)
			}
			if all := strings.Join(r.errs, "\n"); !strings.Contains(all, tt.want) {
				t.Errorf("failure %q does not contain %q", all, tt.want)
			}
		})
	}
}
