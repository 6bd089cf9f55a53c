package eventfold_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/eventfold/eventfold"

var ports = []string{"eventstore", "command", "projection", "readmodel"}

// uuidModule is the one outside package ports may import, for event IDs.
const uuidModule = "github.com/google/uuid"

// adapterDeps names the one outside dependency each adapter may import
// (an import path prefix). memstore may import none.
var adapterDeps = map[string]string{
	"memstore":     "",
	"pgstore":      "github.com/jackc/pgx/",
	"redisstore":   "github.com/redis/go-redis/",
	"watermillbus": "github.com/ThreeDotsLabs/watermill",
	"prommetrics":  "github.com/prometheus/client_golang",
	"oteltrace":    "go.opentelemetry.io/otel",
	"natsjs":       "github.com/nats-io/nats.go",
}

type goFile struct {
	dir     string // slash-separated, relative to the module root
	name    string
	test    bool
	imports []string
	pkgDoc  string
	pkg     string
}

// moduleFiles parses every Go file of this module (not of the nested
// examples and bench modules).
func moduleFiles(t *testing.T) []goFile {
	t.Helper()
	var files []goFile
	fset := token.NewFileSet()
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != "." {
				if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
					return filepath.SkipDir // another module
				}
				if strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" {
					return filepath.SkipDir
				}
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly|parser.ParseComments)
		if err != nil {
			return err
		}
		gf := goFile{dir: filepath.ToSlash(filepath.Dir(path)), name: d.Name(), test: strings.HasSuffix(path, "_test.go"), pkg: f.Name.Name}
		if f.Doc != nil {
			gf.pkgDoc = f.Doc.Text()
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			gf.imports = append(gf.imports, p)
		}
		files = append(files, gf)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func isStdlib(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".")
}

// TestImportRules enforces the layering of docs/design.md: ports import only
// the standard library, each other and github.com/google/uuid; a package
// inside a port (projection/projectionops, projection/internal/wire) is part
// of the port and follows the same rule; conformance suites (the *test
// packages under a port) add go-cmp; adapters import ports and their one
// dependency, never each other.
func TestImportRules(t *testing.T) {
	for _, f := range moduleFiles(t) {
		if f.test {
			continue
		}
		top, rest, _ := strings.Cut(f.dir, "/")
		for _, imp := range f.imports {
			if isStdlib(imp) {
				continue
			}
			where := f.dir + "/" + f.name
			switch {
			case isPortName(top) && !isSuite(f.dir):
				if !isPortPackage(imp) && imp != uuidModule {
					t.Errorf("%s: port imports %s; ports may import only the standard library, other ports and %s", where, imp, uuidModule)
				}
			case isPortName(top):
				if !isPortPackage(imp) && imp != uuidModule && imp != "github.com/google/go-cmp/cmp" {
					t.Errorf("%s: conformance suite imports %s; suites may import the standard library, ports, %s and go-cmp", where, imp, uuidModule)
				}
			case top == "adapters":
				name, _, _ := strings.Cut(rest, "/")
				dep, known := adapterDeps[name]
				if !known {
					t.Errorf("%s: adapter %q is not listed in adapterDeps", where, name)
					continue
				}
				switch {
				case isPortPackage(imp):
				case strings.HasPrefix(imp, module+"/adapters/"):
					t.Errorf("%s: adapter imports another adapter, %s", where, imp)
				case dep != "" && strings.HasPrefix(imp, dep):
				default:
					t.Errorf("%s: adapter %s imports %s; it may import only ports and %q", where, name, imp, dep)
				}
			}
		}
	}
}

// isSuite reports whether dir (relative to the module root) is a port's
// conformance suite: a package under the port named like it, plus "test".
func isSuite(dir string) bool {
	top, rest, nested := strings.Cut(dir, "/")
	return nested && rest == top+"test"
}

// isPortPackage reports whether the import path imp is a port or a package
// inside one, other than a conformance suite.
func isPortPackage(imp string) bool {
	rel, ok := strings.CutPrefix(imp, module+"/")
	top, _, _ := strings.Cut(rel, "/")
	return ok && isPortName(top) && !isSuite(rel)
}

func isPortName(dir string) bool {
	for _, p := range ports {
		if dir == p {
			return true
		}
	}
	return false
}

// TestPackageDocs checks that every package has exactly one package doc
// comment, in doc.go, starting "Package name" ("Command name" for a command,
// named after its directory).
func TestPackageDocs(t *testing.T) {
	docs := map[string][]string{}
	pkgs := map[string]string{}
	for _, f := range moduleFiles(t) {
		if f.test {
			continue
		}
		pkgs[f.dir] = f.pkg
		if f.pkgDoc != "" {
			docs[f.dir] = append(docs[f.dir], f.name)
			want := "Package " + f.pkg
			if f.pkg == "main" { // commands are documented as "Command <name>"
				want = "Command " + filepath.Base(f.dir)
			}
			if f.name == "doc.go" && !strings.HasPrefix(f.pkgDoc, want+" ") {
				t.Errorf("%s/doc.go: package doc does not start %q", f.dir, want)
			}
		}
	}
	for dir := range pkgs {
		switch names := docs[dir]; {
		case len(names) == 0:
			t.Errorf("package %s has no package doc (add doc.go)", dir)
		case len(names) > 1 || names[0] != "doc.go":
			t.Errorf("package %s has package docs in %v; keep exactly one, in doc.go", dir, names)
		}
	}
}
