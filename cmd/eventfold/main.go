package main

import (
	"bytes"
	"embed"
	"errors"
	"flag"
	"fmt"
	"go/format"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"text/template"
	"unicode"

	"github.com/spf13/cobra"

	"github.com/eventfold/eventfold/cli"
)

//go:embed all:templates
var templates embed.FS

func main() {
	cli.Main(options(os.Stdout, os.Stderr))
}

// options are those of the generic binary: no projections, plus the
// scaffolder.
func options(stdout, stderr io.Writer) cli.Options {
	return cli.Options{
		Use:      "eventfold",
		Short:    "Scaffold and operate eventfold applications",
		Commands: []*cobra.Command{newCommand(stdout, stderr)},
		Stdout:   stdout,
		Stderr:   stderr,
	}
}

// newCommand hands its arguments to the scaffolder, which parses its own
// flags (and keeps accepting them before and after the module path).
func newCommand(stdout, stderr io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:                "new <module path> [--aggregate Name] [--dir path] [--replace path] [--no-tidy]",
		Short:              "Scaffold a tested application",
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, a := range args {
				if a == "-h" || a == "--help" {
					return cmd.Help()
				}
			}
			return run(append([]string{"new"}, args...), stdout, stderr)
		},
	}
}

const usage = `usage: eventfold new <module path> [--aggregate Name] [--dir path] [--replace path] [--no-tidy]`

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "new" {
		return errors.New(usage)
	}
	fset := flag.NewFlagSet("new", flag.ContinueOnError)
	fset.SetOutput(stderr)
	aggregate := fset.String("aggregate", "Order", "name of the aggregate, in Go's exported form")
	dir := fset.String("dir", "", "folder to write the application to (default: last element of the module path)")
	replace := fset.String("replace", "", "path of a local eventfold checkout to use through a replace directive")
	noTidy := fset.Bool("no-tidy", false, "do not run go mod tidy in the new application")
	// Accept flags before and after the module path.
	rest := args[1:]
	var positional []string
	for len(rest) > 0 {
		if err := fset.Parse(rest); err != nil {
			return err
		}
		rest = fset.Args()
		if len(rest) > 0 {
			positional = append(positional, rest[0])
			rest = rest[1:]
		}
	}
	if len(positional) != 1 {
		return errors.New(usage)
	}
	p, err := newParams(positional[0], *aggregate, *replace)
	if err != nil {
		return err
	}
	if *dir == "" {
		*dir = path.Base(p.Module)
	}
	if err := generate(*dir, p); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s to %s\n", p.Module, *dir)
	if !*noTidy {
		cmd := exec.Command("go", "mod", "tidy")
		cmd.Dir = *dir
		cmd.Stdout, cmd.Stderr = stdout, stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("go mod tidy in %s: %w", *dir, err)
		}
	}
	fmt.Fprintf(stdout, "next: cd %s && make test && make run\n", *dir)
	return nil
}

// params are the values the templates see.
type params struct {
	Module  string // example.com/shop
	App     string // shop
	Name    string // Order
	Lower   string // order
	Plural  string // orders
	Replace string // absolute path of the framework, or ""
}

var (
	modulePattern    = regexp.MustCompile(`^[a-z0-9][a-z0-9.\-_~]*(/[A-Za-z0-9][A-Za-z0-9.\-_~]*)*$`)
	aggregatePattern = regexp.MustCompile(`^[A-Z][A-Za-z0-9]{0,30}$`)
)

func newParams(module, aggregate, replace string) (params, error) {
	if !modulePattern.MatchString(module) {
		return params{}, fmt.Errorf("module path %q: want something like example.com/shop", module)
	}
	if !aggregatePattern.MatchString(aggregate) {
		return params{}, fmt.Errorf("--aggregate %q: want an exported Go name such as Order", aggregate)
	}
	p := params{Module: module, Name: aggregate}
	p.Lower = string(unicode.ToLower(rune(aggregate[0]))) + aggregate[1:]
	p.Lower = strings.ToLower(p.Lower)
	p.Plural = p.Lower + "s"
	if strings.HasSuffix(p.Lower, "s") {
		p.Plural = p.Lower + "es"
	}
	p.App = strings.NewReplacer(".", "", "-", "", "_", "", "~", "").Replace(path.Base(module))
	if p.App == "" || !unicode.IsLetter(rune(p.App[0])) {
		p.App = "app"
	}
	if replace != "" {
		abs, err := filepath.Abs(replace)
		if err != nil {
			return params{}, err
		}
		if _, err := os.Stat(filepath.Join(abs, "go.mod")); err != nil {
			return params{}, fmt.Errorf("--replace %s: not a module: %w", replace, err)
		}
		p.Replace = filepath.ToSlash(abs)
	}
	return p, nil
}

// generate writes every template to dir, which must not exist or be empty.
// A template's path names its file: "__lower__" becomes p.Lower and the
// ".tmpl" suffix is dropped. Go files are gofmt'ed.
func generate(dir string, p params) error {
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return fmt.Errorf("%s exists and is not empty", dir)
	}
	return fs.WalkDir(templates, "templates", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		text, err := templates.ReadFile(name)
		if err != nil {
			return err
		}
		t, err := template.New(name).Delims("{%", "%}").Parse(string(text))
		if err != nil {
			return fmt.Errorf("template %s: %w", name, err)
		}
		var buf bytes.Buffer
		if err := t.Execute(&buf, p); err != nil {
			return fmt.Errorf("template %s: %w", name, err)
		}
		rel := strings.TrimSuffix(strings.TrimPrefix(name, "templates/"), ".tmpl")
		rel = strings.ReplaceAll(rel, "__lower__", p.Lower)
		out := buf.Bytes()
		if strings.HasSuffix(rel, ".go") {
			if out, err = format.Source(out); err != nil {
				return fmt.Errorf("template %s: generated Go does not parse: %w", name, err)
			}
		}
		target := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		return os.WriteFile(target, out, 0o644)
	})
}
