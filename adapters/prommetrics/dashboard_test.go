package prommetrics_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDashboardNamesOnlyOurMetrics: every metric the Grafana dashboard
// queries is one this package exports, so a renamed metric cannot leave a
// panel silently empty.
func TestDashboardNamesOnlyOurMetrics(t *testing.T) {
	dashboard, err := os.ReadFile(filepath.Join("..", "..", "docs", "grafana-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	sources, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	exported := map[string]bool{}
	literal := regexp.MustCompile(`"(eventfold_[a-z_]+)"`)
	for _, f := range sources {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range literal.FindAllStringSubmatch(string(b), -1) {
			exported[m[1]] = true
		}
	}
	queried := regexp.MustCompile(`eventfold_[a-z_]+`).FindAllString(string(dashboard), -1)
	if len(queried) == 0 {
		t.Fatal("the dashboard queries no eventfold metric")
	}
	for _, name := range queried {
		base := name
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if b, ok := strings.CutSuffix(name, suffix); ok && exported[b] {
				base = b
			}
		}
		if !exported[base] {
			t.Errorf("the dashboard queries %s, which package prommetrics does not export", name)
		}
	}
}
