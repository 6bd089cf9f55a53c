package wire

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// repoRoot is the repository root, with the nested examples and bench
// modules, relative to this package.
const repoRoot = "../../.."

// TestReservedNamesAreSpelledOnlyHere fails when a string literal outside
// this package names one of the engine's reserved namespaces or document
// IDs, in any of the repository's modules: whoever needs them (the engine,
// projectionops, projectiontest) calls this package, so their layout can
// change in one place. Tests are exempt: a test that forges or damages a
// read model, or feeds hostile stream IDs, names the documents on purpose.
func TestReservedNamesAreSpelledOnlyHere(t *testing.T) {
	here, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	checked := 0
	err = filepath.WalkDir(repoRoot, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != repoRoot && (strings.HasPrefix(name, ".") || name == "testdata" || name == "node_modules") {
				return filepath.SkipDir
			}
			if abs, _ := filepath.Abs(path); abs == here {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		checked++
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if err != nil {
				return true
			}
			for _, name := range names {
				if strings.Contains(s, name) {
					t.Errorf("%s: string literal %s spells the reserved name %q; use package wire", fset.Position(lit.Pos()), lit.Value, name)
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 100 {
		t.Fatalf("checked %d files; the walk missed the repository", checked)
	}
}
